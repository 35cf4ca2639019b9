"""Why a validation loss can sit below the training loss: the sizes of the causes.

Reads, without torch, the measurement :mod:`lossacc.cifar.gap` writes for one checkpoint (the
same training images clean and augmented, in eval and train mode) and splits the running
training loss of that epoch into what each cause adds:

``L_running = L_clean + smoothing + augmentation + train_mode + lag`` with ``smoothing =
S(clean, eval) - L(clean, eval)`` (``S`` the label-smoothed loss the run trained on, ``S = L``
without smoothing), ``augmentation = S(augmented, eval) - S(clean, eval)``, ``train_mode =
S(augmented, train mode) - S(augmented, eval)`` and ``lag = L_running - S(augmented, train
mode)`` (the running mean averages a model that kept changing during the epoch). ``L_val - L_clean`` is the
generalisation gap: the running loss sits above the validation loss when the three causes
add up to more than it.

With label smoothing ``ε`` over ``K`` classes the training target is ``q = (1 - ε) onehot(y) +
ε / K``, and the loss ``H(q, p) = H(q) + KL(q || p) >= H(q)``: it cannot fall below the
entropy of the target, :func:`smoothing_floor`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossacc.metrics import FloatArray, _as_labels, _as_logits, log_softmax

MEASUREMENT_FORMAT = "lossacc-training-losses"
MEASUREMENT_VERSION = 1
CONDITIONS = ("clean_eval", "augmented_eval", "clean_train_mode", "augmented_train_mode")
CONDITION_LABELS = {
    "clean_eval": "clean, eval mode",
    "augmented_eval": "augmented, eval mode",
    "clean_train_mode": "clean, train mode",
    "augmented_train_mode": "augmented, train mode",
}


def smoothing_floor(epsilon: float, classes: int) -> float:
    """``H(q) = -(1 - ε + ε/K) ln(1 - ε + ε/K) - (K - 1) (ε/K) ln(ε/K)``, the least label-smoothed
    cross-entropy any prediction can reach (0 for ``ε = 0``)."""
    if not 0 <= epsilon < 1 or not math.isfinite(epsilon):
        raise ValueError(f"epsilon must lie in [0, 1), got {epsilon}")
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    on_label, elsewhere = 1 - epsilon + epsilon / classes, epsilon / classes
    return -on_label * math.log(on_label) - (classes - 1) * (elsewhere * math.log(elsewhere) if elsewhere else 0.0)


def smoothed_cross_entropy(logits: ArrayLike, labels: ArrayLike, epsilon: float) -> FloatArray:
    """Per-example ``H(q_i, p_i) = (1 - ε) (-ln p_i[y_i]) + (ε / K) sum_k (-ln p_i[k])``, shape (n,),
    as ``torch.nn.functional.cross_entropy(..., label_smoothing=ε, reduction="none")``."""
    if not 0 <= epsilon < 1 or not math.isfinite(epsilon):
        raise ValueError(f"epsilon must lie in [0, 1), got {epsilon}")
    z = _as_logits(logits)
    y = _as_labels(labels, *z.shape)
    log_p = log_softmax(z)
    return -(1 - epsilon) * log_p[np.arange(len(y)), y] - epsilon * log_p.mean(axis=1)


@dataclass(frozen=True)
class TrainingLosses:
    """One checkpoint's measurement (see :mod:`lossacc.cifar.gap`): mean losses by condition."""

    epoch: int
    images: int
    loss: dict[str, float]
    smoothed_loss: dict[str, float]
    accuracy: dict[str, float]
    difference_se: dict[str, float]
    recorded: dict[str, float]
    label_smoothing: float
    squared_weight_norm: float
    weight_decay: float
    test_duplicates: int
    metadata: dict[str, Any]

    @property
    def l2_term(self) -> float:
        """``weight_decay / 2 * ||w||^2``: what an L2 penalty with SGD's weight decay adds to a logged loss."""
        return self.weight_decay / 2 * self.squared_weight_norm


def load_training_losses(path: str | Path) -> TrainingLosses:
    """Read a measurement file written by ``lossacc-measure-gap``."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != MEASUREMENT_FORMAT or data.get("version") != MEASUREMENT_VERSION:
        raise ValueError(f"{path} is not a {MEASUREMENT_FORMAT} file of version {MEASUREMENT_VERSION}")
    conditions = data["conditions"]
    if set(conditions) != set(CONDITIONS):
        raise ValueError(f"{path}: conditions {sorted(conditions)}, expected {sorted(CONDITIONS)}")

    def column(field: str) -> dict[str, float]:
        return {name: float(conditions[name][field]) for name in CONDITIONS}

    return TrainingLosses(
        epoch=int(data["checkpoint"]["epoch"]),
        images=int(data["images"]["count"]),
        loss=column("loss"),
        smoothed_loss=column("smoothed_loss"),
        accuracy=column("accuracy"),
        difference_se=column("difference_from_clean_eval_se"),
        recorded={name: float(value) for name, value in data["recorded"].items()},
        label_smoothing=float(data["label_smoothing"]),
        squared_weight_norm=float(data["squared_weight_norm"]),
        weight_decay=float(data["weight_decay"]),
        test_duplicates=int(data["test_images_equal_to_a_training_image"]),
        metadata=data["metadata"],
    )


@dataclass(frozen=True)
class GapSplit:
    """The running training loss of one epoch split into the clean loss and what each cause adds."""

    running: float
    clean: float
    validation: float
    smoothing: float
    augmentation: float
    train_mode: float
    lag: float

    @property
    def handicap(self) -> float:
        """``L_running - L_clean = smoothing + augmentation + train_mode + lag``."""
        return self.running - self.clean

    @property
    def generalisation(self) -> float:
        """``L_val - L_clean``."""
        return self.validation - self.clean

    @property
    def running_minus_validation(self) -> float:
        """``handicap - generalisation``: positive when the printed training loss sits above validation."""
        return self.running - self.validation


def split_running_loss(losses: TrainingLosses) -> GapSplit:
    """:class:`GapSplit` of the checkpoint's epoch, the running and validation losses as the run recorded them."""
    plain, trained_on = losses.loss, losses.smoothed_loss
    running = losses.recorded["train_loss"]
    return GapSplit(
        running=running,
        clean=plain["clean_eval"],
        validation=losses.recorded["val_loss"],
        smoothing=trained_on["clean_eval"] - plain["clean_eval"],
        augmentation=trained_on["augmented_eval"] - trained_on["clean_eval"],
        train_mode=trained_on["augmented_train_mode"] - trained_on["augmented_eval"],
        lag=running - trained_on["augmented_train_mode"],
    )
