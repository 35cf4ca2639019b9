"""Train the CIFAR ResNet18 with the book's recipe, checkpoint every epoch, and write the record.

The recipe, the defaults of :class:`TrainConfig`: SGD with Nesterov momentum 0.9, learning rate
0.1 multiplied by 0.2 after epochs 60, 120 and 160, weight decay 1e-4, batch 128, 200 epochs,
random crop (padding 4) and horizontal flip.

Speed on a GPU comes from keeping everything there: the uint8 images live on the device, each
batch is gathered, augmented and normalised there, the model runs channels-last under bf16
autocast, and the running loss and accuracy are summed on the device and read once an epoch.

Reproducibility: the model is initialised from ``seed``, and epoch ``e``'s data order and
augmentation come from a generator seeded with ``(seed, e)``. The checkpoint (model, optimizer,
what has been recorded) therefore fixes everything that follows: a run killed at any point and
resumed from its last checkpoint repeats the uninterrupted run.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F
from tqdm.auto import tqdm

from lossacc.calibration import expected_calibration_error, fit_temperature, scaled_loss
from lossacc.cifar.augment import random_crop_flip, to_network_input
from lossacc.cifar.data import CifarData
from lossacc.cifar.files import atomic_write
from lossacc.cifar.record import HISTORY_FIELDS, CifarRecord, History, Thumbnails, choose_thumbnails, write_record
from lossacc.cifar.resnet import ResNet18
from lossacc.metrics import accuracy, cross_entropy_from_logits, per_example_loss_from_logits, softmax

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = "lossacc-cifar-checkpoint"
LOGIT_EPOCH_COUNT = 12

StepHook = Callable[[int, int], None]


class ConfigError(ValueError):
    """A setting is out of range or inconsistent with another setting or with the data."""


class ResumeError(ValueError):
    """A checkpoint exists but cannot be continued with the requested settings (or is missing)."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting that changes the numbers a run produces; saved as the record's ``settings``.

    Milestones count epochs: with milestone ``m`` the learning rate drops after epoch ``m``, so
    epoch ``e`` (1-based) trains with ``lr * lr_decay ** #{m : m < e}``. ``None`` sizes mean
    the whole split. ``logit_epochs=None`` keeps logits at :func:`default_logit_epochs`.
    """

    epochs: int = 200
    lr: float = 0.1
    milestones: tuple[int, ...] = (60, 120, 160)
    lr_decay: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
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
            (self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            (self.width >= 1, f"width must be at least 1, got {self.width}"),
            (self.crop_padding >= 0, f"crop_padding must be non-negative, got {self.crop_padding}"),
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


PRESETS: dict[str, TrainConfig] = {
    # The recipe of the question behind the book: full CIFAR-10, ResNet18, 200 epochs.
    "recipe": TrainConfig(),
    # A laptop-sized run (about 7 minutes on 2 CPU cores): a quarter-width ResNet18 on a
    # class-balanced 2,000 of the training images, 50 epochs with the learning rate cut by 0.2
    # after epochs 20 and 35, scored on the full 10,000-image test set. Everything else is the
    # recipe. The small training set is what lets the network fit it, and overfit, in 50 epochs.
    "cpu-laptop": TrainConfig(epochs=50, milestones=(20, 35), width=16, train_size=2_000),
}


@dataclass(frozen=True)
class RunOptions:
    """How a run executes rather than what it computes (not part of the resume check).

    ``resume``: ``"auto"`` continues a checkpoint with the same settings and starts afresh
    when there is none; ``"require"`` insists on a checkpoint; ``"restart"`` discards one.
    ``progress``: progress bars (when stderr is a terminal) and one line per epoch on stdout.
    ``eval_batch_size=None`` picks 1000 on a GPU and 125 on a CPU (where big batches are slower).
    ``stop_after_epochs`` and ``time_budget_seconds`` end a session early and cleanly (before
    an epoch that would overrun the budget, judged by the last epoch's time); run again to go on.
    """

    device: str = "auto"
    channels_last: bool = True
    bf16: bool | None = None
    eval_batch_size: int | None = None
    progress: bool = True
    record_every: int = 10
    stop_after_epochs: int | None = None
    time_budget_seconds: float | None = None
    resume: str = "auto"

    def __post_init__(self) -> None:
        if self.resume not in ("auto", "require", "restart"):
            raise ConfigError(f"resume must be auto, require or restart, got {self.resume!r}")
        if (self.eval_batch_size is not None and self.eval_batch_size < 1) or self.record_every < 1:
            raise ConfigError("eval_batch_size and record_every must be at least 1")
        if self.stop_after_epochs is not None and self.stop_after_epochs < 1:
            raise ConfigError(f"stop_after_epochs must be at least 1, got {self.stop_after_epochs}")
        if self.time_budget_seconds is not None and self.time_budget_seconds <= 0:
            raise ConfigError(f"time budget must be positive, got {self.time_budget_seconds}")


@dataclass(frozen=True)
class Runtime:
    """The device and the speed settings resolved for this machine."""

    device: torch.device
    channels_last: bool
    bf16: bool
    eval_batch_size: int

    @classmethod
    def resolve(cls, options: RunOptions) -> Runtime:
        name = ("cuda" if torch.cuda.is_available() else "cpu") if options.device == "auto" else options.device
        try:
            device = torch.device(name)
        except RuntimeError as error:
            raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but torch {torch.__version__} sees no CUDA GPU")
        if device.type not in ("cpu", "cuda"):
            raise ConfigError(f"device {name!r} is not supported (use cpu or cuda)")
        bf16 = options.bf16 if options.bf16 is not None else device.type == "cuda" and torch.cuda.is_bf16_supported()
        eval_batch_size = options.eval_batch_size or (1000 if device.type == "cuda" else 125)
        return cls(device, options.channels_last, bf16, eval_batch_size)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def describe(self) -> dict[str, Any]:
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
        else:
            name = f"{_cpu_name()} ({torch.get_num_threads()} threads)"
        return {"type": self.device.type, "name": name, "channels_last": self.channels_last, "bf16": self.bf16}


@dataclass(frozen=True)
class TrainResult:
    record_dir: Path
    epochs_done: int
    epochs_planned: int

    @property
    def complete(self) -> bool:
        return self.epochs_done == self.epochs_planned


def default_logit_epochs(epochs: int, milestones: tuple[int, ...], count: int = LOGIT_EPOCH_COUNT) -> tuple[int, ...]:
    """Epochs whose full validation logits are kept: the first and the last, the last epoch
    before each learning-rate drop and the first after it, then, up to ``count``, the epoch
    farthest from those already chosen, repeatedly (evenly spread in the gaps)."""
    chosen = {1, epochs} | {e for m in milestones for e in (m, m + 1) if 1 <= e <= epochs}
    while len(chosen) < min(count, epochs):
        chosen.add(max(range(1, epochs + 1), key=lambda e: min(abs(e - c) for c in chosen)))
    return tuple(sorted(chosen))


def balanced_subset(labels: NDArray[np.integer], size: int | None, rng: np.random.Generator) -> NDArray[np.int64]:
    """Sorted positions of ``size`` examples (all when ``None``), as class-balanced as possible:
    examples are shuffled within each class and taken round-robin across the classes."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    shuffled = rng.permutation(len(labels))
    by_class = shuffled[np.argsort(labels[shuffled], kind="stable")]
    rank_in_class = np.arange(len(labels)) - np.searchsorted(labels[by_class], labels[by_class])
    return np.sort(by_class[np.argsort(rank_in_class, kind="stable")][:size])


@dataclass(frozen=True)
class Splits:
    """Which images a run uses: positions in the dataset's training and test splits."""

    train: NDArray[np.int64]
    train_eval: NDArray[np.int64]
    val: NDArray[np.int64]
    calibration_fit_mask: NDArray[np.bool_]

    @classmethod
    def select(cls, data: CifarData, config: TrainConfig) -> Splits:
        for name, size, available in (
            ("train_size", config.train_size, len(data.train_labels)),
            ("val_size", config.val_size, len(data.test_labels)),
        ):
            if size is not None and size > available:
                raise ConfigError(f"{name} {size} exceeds the {available} images in the dataset")
        seeds = np.random.SeedSequence(config.subset_seed).spawn(4)
        train = balanced_subset(data.train_labels, config.train_size, np.random.default_rng(seeds[0]))
        train_eval = train[
            balanced_subset(data.train_labels[train], config.train_eval_size, np.random.default_rng(seeds[1]))
        ]
        val = balanced_subset(data.test_labels, config.val_size, np.random.default_rng(seeds[2]))
        fit_mask = np.zeros(len(val), dtype=bool)
        fit_mask[np.random.default_rng(seeds[3]).permutation(len(val))[: len(val) // 2]] = True
        return cls(train, train_eval, val, fit_mask)


@dataclass
class RunState:
    """What a run has recorded so far; with the model and optimizer it is the checkpoint."""

    history: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in HISTORY_FIELDS})
    val_loss: list[NDArray[np.float16]] = field(default_factory=list)
    val_pred: list[NDArray[np.int8]] = field(default_factory=list)
    logit_epochs: list[int] = field(default_factory=list)
    val_logits: list[NDArray[np.float32]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return len(self.val_loss)


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The generator for epoch ``epoch``'s data order and augmentation, seeded from ``(seed, epoch)``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
    return generator


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig,
    runtime: Runtime,
    generator: torch.Generator,
    *,
    epoch: int,
    progress: bool = False,
    step_hook: StepHook | None = None,
) -> tuple[float, float]:
    """One pass over ``images`` (uint8 (N, 32, 32, 3) on the device) in a random order; returns
    the running mean loss and accuracy of the augmented batches, read from the device once."""
    model.train()
    count = len(labels)
    order = torch.randperm(count, device=runtime.device, generator=generator)
    loss_sum = torch.zeros((), device=runtime.device)
    correct = torch.zeros((), device=runtime.device, dtype=torch.long)
    starts = range(0, count, config.batch_size)
    for step, start in enumerate(
        tqdm(starts, desc=f"epoch {epoch}", leave=False, disable=None if progress else True, unit="batch")
    ):
        index = order[start : start + config.batch_size]
        batch = random_crop_flip(images[index], config.crop_padding, config.hflip, generator)
        targets = labels[index]
        with runtime.autocast():
            logits = model(to_network_input(batch, runtime.channels_last))
            loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(index)
        correct += (logits.argmax(dim=1) == targets).sum()
        if step_hook is not None:
            step_hook(epoch, step)
    return loss_sum.item() / count, correct.item() / count


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, runtime: Runtime) -> NDArray[np.float32]:
    """Eval-mode logits ``float32 (n, K)`` of un-augmented images (uint8 (n, 32, 32, 3) on the device)."""
    model.eval()
    chunks = []
    for start in range(0, len(images), runtime.eval_batch_size):
        with runtime.autocast():
            batch = images[start : start + runtime.eval_batch_size]
            chunks.append(model(to_network_input(batch, runtime.channels_last)).float())
    return torch.cat(chunks).cpu().numpy()


def train(
    config: TrainConfig,
    data: CifarData,
    run_dir: Path,
    options: RunOptions | None = None,
    *,
    record_dir: Path | None = None,
    step_hook: StepHook | None = None,
) -> TrainResult:
    """Train (or continue training) into ``run_dir``; write the record to ``record_dir``
    (default ``run_dir/record``) every ``options.record_every`` epochs and when the session ends.

    ``step_hook(epoch, step)`` runs after every optimizer step (tests use it to kill a run).
    """
    options = options or RunOptions()
    runtime = Runtime.resolve(options)
    record_dir = record_dir or run_dir / "record"
    splits = Splits.select(data, config)
    settings = config.settings()
    checkpoint_path = run_dir / CHECKPOINT_FILE

    torch.manual_seed(config.seed)
    model = ResNet18(len(data.classes), config.width).to(runtime.device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    state = _start_or_resume(
        checkpoint_path, options.resume, settings, data.source.sha256, model, optimizer, runtime.device
    )
    if state.epochs_done == config.epochs:
        write_record(record_dir, _build_record(state, config, data, splits))
        return TrainResult(record_dir, state.epochs_done, config.epochs)
    if runtime.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    def on_device(images: NDArray[np.uint8]) -> torch.Tensor:
        return torch.from_numpy(images).to(runtime.device)

    train_images, train_eval_images = (
        on_device(data.train_images[splits.train]),
        on_device(data.train_images[splits.train_eval]),
    )
    train_labels = torch.from_numpy(data.train_labels[splits.train]).to(runtime.device)
    val_images = on_device(data.test_images[splits.val])
    train_eval_labels, val_labels = data.train_labels[splits.train_eval], data.test_labels[splits.val]

    session = {
        "started": _now(),
        "first_epoch": state.epochs_done + 1,
        "last_epoch": state.epochs_done,
        **_environment(runtime),
    }
    state.sessions.append(session)
    session_start = time.perf_counter()
    epochs_bar = tqdm(
        total=config.epochs,
        initial=state.epochs_done,
        desc="epochs",
        unit="epoch",
        disable=None if options.progress else True,
    )
    with epochs_bar:
        while state.epochs_done < config.epochs:
            epoch = state.epochs_done + 1
            lr = config.learning_rate(epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            generator = epoch_generator(config.seed, epoch, runtime.device)
            started = time.perf_counter()
            train_loss, train_acc = train_one_epoch(
                model,
                optimizer,
                train_images,
                train_labels,
                config,
                runtime,
                generator,
                epoch=epoch,
                progress=options.progress,
                step_hook=step_hook,
            )
            train_seconds = time.perf_counter() - started
            train_eval_logits = predict_logits(model, train_eval_images, runtime)
            val_logits = predict_logits(model, val_images, runtime)
            scores = _score_epoch(val_logits, val_labels, splits.calibration_fit_mask, config.ece_bins)
            state.val_loss.append(scores.pop("per_example_loss").astype(np.float16))
            state.val_pred.append(val_logits.argmax(axis=1).astype(np.int8))
            if epoch in config.kept_logit_epochs():
                state.logit_epochs.append(epoch)
                state.val_logits.append(val_logits)
            epoch_scores = {
                "epoch": epoch,
                "lr": lr,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "train_eval_loss": cross_entropy_from_logits(train_eval_logits, train_eval_labels),
                "train_eval_acc": accuracy(train_eval_logits, train_eval_labels),
                **scores,
                "train_seconds": train_seconds,
                "epoch_seconds": time.perf_counter() - started,
            }
            for name in HISTORY_FIELDS:
                state.history[name].append(epoch_scores[name])
            session["last_epoch"] = epoch
            _save_checkpoint(checkpoint_path, settings, data.source.sha256, model, optimizer, state)
            epochs_bar.update()
            if options.progress:
                tqdm.write(_epoch_line(epoch_scores, config.epochs))
            stop = _session_over(
                options, state.epochs_done, time.perf_counter() - session_start, epoch_scores["epoch_seconds"]
            )
            if epoch % options.record_every == 0 or stop or epoch == config.epochs:
                write_record(record_dir, _build_record(state, config, data, splits))
            if stop:
                break
    return TrainResult(record_dir, state.epochs_done, config.epochs)


def _score_epoch(
    logits: NDArray[np.float32], labels: NDArray[np.int64], fit_mask: NDArray[np.bool_], bins: int
) -> dict[str, Any]:
    """Validation loss, accuracy, ECE, and temperature scaling fitted on one half, scored on the other."""
    per_example = per_example_loss_from_logits(logits, labels)
    held_out = ~fit_mask
    temperature = fit_temperature(logits[fit_mask], labels[fit_mask])
    return {
        "per_example_loss": per_example,
        "val_loss": float(per_example.mean()),
        "val_acc": accuracy(logits, labels),
        "val_ece": expected_calibration_error(softmax(logits), labels, bins),
        "temperature": temperature,
        "val_heldout_loss": float(per_example[held_out].mean()),
        "val_heldout_ece": expected_calibration_error(softmax(logits[held_out]), labels[held_out], bins),
        "val_heldout_loss_scaled": scaled_loss(logits[held_out], labels[held_out], temperature),
        "val_heldout_ece_scaled": expected_calibration_error(softmax(logits[held_out] / temperature), labels[held_out], bins),
    }


def _session_over(options: RunOptions, epochs_done: int, session_seconds: float, last_epoch_seconds: float) -> bool:
    if options.stop_after_epochs is not None and epochs_done >= options.stop_after_epochs:
        return True
    budget = options.time_budget_seconds
    return budget is not None and session_seconds + last_epoch_seconds > budget


def _epoch_line(scores: dict[str, Any], epochs: int) -> str:
    return (
        f"epoch {scores['epoch']:>3}/{epochs}  lr {scores['lr']:.4g}  "
        f"train {scores['train_loss']:.3f} / {100 * scores['train_acc']:.1f}%  "
        f"train(eval) {scores['train_eval_loss']:.3f} / {100 * scores['train_eval_acc']:.1f}%  "
        f"val {scores['val_loss']:.3f} / {100 * scores['val_acc']:.1f}%  "
        f"ECE {scores['val_ece']:.3f}  T {scores['temperature']:.2f}  {scores['epoch_seconds']:.1f}s"
    )


def _build_record(state: RunState, config: TrainConfig, data: CifarData, splits: Splits) -> CifarRecord:
    val_loss, val_pred = np.stack(state.val_loss), np.stack(state.val_pred)
    val_labels = data.test_labels[splits.val]
    positions, groups, reference_epoch = choose_thumbnails(
        val_loss, val_pred, val_labels, config.thumbnails_per_group, config.subset_seed
    )
    number_of_classes = len(data.classes)
    last = state.sessions[-1]
    metadata = {
        "created": state.sessions[0]["started"],
        "updated": _now(),
        "commit": last["commit"],
        "commit_dirty": last["commit_dirty"],
        "device": last["device"],
        "torch_version": last["torch_version"],
        "numpy_version": last["numpy_version"],
        "python_version": last["python_version"],
        "platform": last["platform"],
        "dataset": {
            "name": "CIFAR-10",
            "source": data.source.name,
            "layout": data.source.layout,
            "sha256": data.source.sha256,
            "description": data.source.description,
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
        },
        "seed": config.seed,
        "wall_seconds": float(sum(state.history["epoch_seconds"])),
        "sessions": state.sessions,
    }
    return CifarRecord(
        settings=config.settings(),
        metadata=metadata,
        classes=data.classes,
        epochs_planned=config.epochs,
        history=History.from_columns(state.history),
        val_labels=val_labels,
        val_source_index=splits.val,
        train_source_index=splits.train,
        train_eval_source_index=splits.train_eval,
        calibration_fit_mask=splits.calibration_fit_mask,
        val_loss=val_loss,
        val_pred=val_pred.astype(np.int64),
        logit_epochs=tuple(state.logit_epochs),
        val_logits=np.stack(state.val_logits)
        if state.val_logits
        else np.zeros((0, len(val_labels), number_of_classes), np.float32),
        thumbnail_reference_epoch=reference_epoch,
        thumbnails=Thumbnails(data.test_images[splits.val[positions]], positions, groups),
    )


def _start_or_resume(
    path: Path,
    mode: str,
    settings: dict[str, Any],
    data_sha256: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> RunState:
    """Load the checkpoint into ``model`` and ``optimizer`` if there is one to continue."""
    if mode == "restart" or not path.exists():
        if mode == "require":
            raise ResumeError(f"no checkpoint to resume at {path}")
        return RunState()
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch.load raises many types for a damaged file
        raise ResumeError(f"checkpoint {path} is unreadable ({error}); delete it or pass --restart") from error
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ResumeError(f"{path} is not a lossacc CIFAR checkpoint")
    differences = [
        f"{key}={checkpoint['settings'].get(key)!r} there, {settings.get(key)!r} now"
        for key in sorted(set(settings) | set(checkpoint["settings"]))
        if checkpoint["settings"].get(key) != settings.get(key)
    ]
    if checkpoint["data_sha256"] != data_sha256:
        differences.append(f"dataset sha256 {checkpoint['data_sha256'][:12]}... there, {data_sha256[:12]}... now")
    if differences:
        raise ResumeError(
            f"the checkpoint in {path.parent} was made with other settings ({'; '.join(differences)}); "
            "use the same settings, another run folder, or --restart to discard it"
        )
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return RunState(
        history=checkpoint["history"],
        val_loss=[row.numpy() for row in checkpoint["val_loss"].cpu()],
        val_pred=[row.numpy() for row in checkpoint["val_pred"].cpu()],
        logit_epochs=list(checkpoint["logit_epochs"]),
        val_logits=[row.numpy() for row in checkpoint["val_logits"].cpu()],
        sessions=checkpoint["sessions"],
    )


def _save_checkpoint(
    path: Path,
    settings: dict[str, Any],
    data_sha256: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: RunState,
) -> None:
    """Write the checkpoint to a temporary file and rename it over the old one (atomic)."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "settings": settings,
        "data_sha256": data_sha256,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": state.history,
        "val_loss": torch.from_numpy(np.stack(state.val_loss)),
        "val_pred": torch.from_numpy(np.stack(state.val_pred)),
        "logit_epochs": state.logit_epochs,
        "val_logits": torch.from_numpy(np.stack(state.val_logits)) if state.val_logits else torch.zeros(0),
        "sessions": state.sessions,
    }
    atomic_write(path, lambda handle: torch.save(checkpoint, handle))


def _environment(runtime: Runtime) -> dict[str, Any]:
    commit, dirty = _git_commit()
    return {
        "device": runtime.describe(),
        "torch_version": str(torch.__version__),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "commit_dirty": dirty,
    }


def _git_commit() -> tuple[str | None, bool | None]:
    """``git rev-parse HEAD`` of the checkout holding this package, and whether tracked files differ."""
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
