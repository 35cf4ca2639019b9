"""What a run computes: :class:`TrainConfig` (every setting that changes the numbers) and the presets.

The recipe, the defaults of :class:`TrainConfig`: SGD with Nesterov momentum 0.9, learning rate
0.1 multiplied by 0.2 after epochs 60, 120 and 160, weight decay 1e-4, batch 128, 200 epochs,
random crop (padding 4) and horizontal flip, full-width ResNet18 on all 50,000 training images.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

LOGIT_EPOCH_COUNT = 12
SEED_LIMIT = 2**64  # seeds are what torch.manual_seed takes: 0 to 2**64 - 1
MAX_CROP_PADDING = 16  # half the 32-pixel image: a wider padding makes crops of mostly zeros


class ConfigError(ValueError):
    """A setting is out of range or inconsistent with another setting or with the data."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting that changes the numbers a run produces; saved as the record's ``settings``.

    Milestones count epochs: with milestone ``m`` the learning rate drops after epoch ``m``, so
    epoch ``e`` (1-based) trains with ``lr * lr_decay ** #{m : m < e}``. ``None`` sizes mean
    the whole split. ``label_smoothing`` is the training loss's ε: the target puts 1 - ε on
    the label and ε/K on every class (``torch.nn.functional.cross_entropy``); the validation
    and clean training losses are always the plain cross-entropy. ``logit_epochs=None`` keeps logits at :func:`default_logit_epochs`.
    """

    epochs: int = 200
    lr: float = 0.1
    milestones: tuple[int, ...] = (60, 120, 160)
    lr_decay: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    batch_size: int = 128
    width: int = 64
    crop_padding: int = 4
    hflip: bool = True
    train_size: int | None = None
    val_size: int | None = None
    train_eval_size: int = 10_000
    seed: int = 0
    subset_seed: int = 0
    ece_bins: int = 15
    logit_epochs: tuple[int, ...] | None = None
    thumbnails_per_group: int = 16

    def __post_init__(self) -> None:
        for name in ("lr", "lr_decay", "momentum", "weight_decay", "label_smoothing"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)}")
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (
                all(0 < m < self.epochs for m in self.milestones)
                and list(self.milestones) == sorted(set(self.milestones)),
                f"milestones must be increasing epochs before the last (1 to {self.epochs - 1}), "
                f"got {list(self.milestones)}",
            ),
            (self.lr_decay > 0, f"lr_decay must be positive, got {self.lr_decay}"),
            (0 <= self.momentum < 1, f"momentum must lie in [0, 1), got {self.momentum}"),
            (self.momentum > 0 or not self.nesterov, "Nesterov momentum needs momentum > 0"),
            (self.weight_decay >= 0, f"weight_decay must be non-negative, got {self.weight_decay}"),
            (
                0 <= self.label_smoothing < 1,
                f"label_smoothing must lie in [0, 1), got {self.label_smoothing}",
            ),
            (self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            (self.width >= 1, f"width must be at least 1, got {self.width}"),
            (
                0 <= self.crop_padding <= MAX_CROP_PADDING,
                f"crop_padding must lie in [0, {MAX_CROP_PADDING}] (pixels around a 32x32 image), got {self.crop_padding}",
            ),
            (0 <= self.seed < SEED_LIMIT, f"seed must lie in [0, 2**64), got {self.seed}"),
            (0 <= self.subset_seed < SEED_LIMIT, f"subset_seed must lie in [0, 2**64), got {self.subset_seed}"),
            (self.train_size is None or self.train_size >= 1, f"train_size must be at least 1, got {self.train_size}"),
            (
                self.val_size is None or self.val_size >= 2,
                f"val_size must be at least 2 (two calibration halves), got {self.val_size}",
            ),
            (self.train_eval_size >= 1, f"train_eval_size must be at least 1, got {self.train_eval_size}"),
            (self.ece_bins >= 1, f"ece_bins must be at least 1, got {self.ece_bins}"),
            (
                self.logit_epochs is None
                or (
                    list(self.logit_epochs) == sorted(set(self.logit_epochs))
                    and all(1 <= e <= self.epochs for e in self.logit_epochs)
                ),
                f"logit_epochs must be increasing epochs between 1 and {self.epochs}, got {self.logit_epochs}",
            ),
            (
                self.thumbnails_per_group >= 0,
                f"thumbnails_per_group must be non-negative, got {self.thumbnails_per_group}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def learning_rate(self, epoch: int) -> float:
        """``lr * lr_decay ** #{m in milestones : m < epoch}`` for 1-based ``epoch``."""
        return self.lr * self.lr_decay ** sum(m < epoch for m in self.milestones)

    def kept_logit_epochs(self) -> tuple[int, ...]:
        return (
            self.logit_epochs if self.logit_epochs is not None else default_logit_epochs(self.epochs, self.milestones)
        )

    def settings(self) -> dict[str, Any]:
        """The configuration as plain JSON values, logit epochs resolved."""
        return json.loads(json.dumps({**asdict(self), "logit_epochs": list(self.kept_logit_epochs())}))


def default_logit_epochs(epochs: int, milestones: tuple[int, ...], count: int = LOGIT_EPOCH_COUNT) -> tuple[int, ...]:
    """Epochs whose full validation logits are kept: the first and the last, the last epoch
    before each learning-rate drop and the first after it, then, up to ``count``, the epoch
    farthest from those already chosen, repeatedly (evenly spread in the gaps)."""
    chosen = {1, epochs} | {e for m in milestones for e in (m, m + 1) if 1 <= e <= epochs}
    while len(chosen) < min(count, epochs):
        chosen.add(max(range(1, epochs + 1), key=lambda e: min(abs(e - c) for c in chosen)))
    return tuple(sorted(chosen))


PRESETS: dict[str, TrainConfig] = {
    # The recipe of the question behind the book: full CIFAR-10, ResNet18, 200 epochs.
    "recipe": TrainConfig(),
    # A laptop-sized run (about 9 minutes on 2 CPU cores): a quarter-width ResNet18 on a
    # class-balanced 2,000 of the training images, 50 epochs with the learning rate cut by 0.2
    # after epochs 20 and 35, scored on the full 10,000-image test set. Everything else is the
    # recipe. The small training set is what lets the network fit it, and overfit, in 50 epochs.
    "cpu-laptop": TrainConfig(epochs=50, milestones=(20, 35), width=16, train_size=2_000),
    # A dress rehearsal of the route, seconds on a CPU: it proves the data, the code and the
    # record work end to end on a machine before the real run is started there.
    "rehearsal": TrainConfig(
        epochs=3,
        milestones=(1, 2),
        width=4,
        batch_size=32,
        train_size=200,
        val_size=100,
        train_eval_size=100,
        thumbnails_per_group=2,
    ),
}
