"""Predictions a reader can move: the model behind the book's first explorer.

A prediction is a probability vector over classes. The explorer lets the reader set the
probability of the true class and shares the rest among the other classes in the
proportions they had, so the story stays "the model got surer / less sure of the truth".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossacc.metrics import FloatArray, per_example_loss_from_probs


def with_true_class_probability(probs: ArrayLike, label: int, p: float) -> FloatArray:
    """Set ``probs[label] = p`` and rescale the other classes to share ``1 - p``.

    ``q_label = p``; ``q_j = probs_j (1 - p) / (1 - probs_label)`` for ``j != label``;
    if ``probs_label = 1`` the others split ``1 - p`` equally.
    """
    base = np.asarray(probs, dtype=np.float64)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    others = np.arange(base.size) != label
    rest = base[others].sum()
    moved = base.copy()
    moved[label] = p
    if rest > 0:
        moved[others] = base[others] * (1.0 - p) / rest
    else:
        moved[others] = (1.0 - p) / others.sum()
    return moved


@dataclass(frozen=True)
class PredictionReadouts:
    """What the explorer shows for a set of predictions."""

    predicted: NDArray[np.int64]
    correct: NDArray[np.bool_]
    per_example_loss: FloatArray
    mean_loss: float
    accuracy: float


def prediction_readouts(probs: ArrayLike, labels: ArrayLike) -> PredictionReadouts:
    """Per-example loss ``-ln p_i[y_i]``, predicted class ``argmax_j p_ij``, their means.

    Ties in the argmax go to the lower class index, as in ``numpy.argmax``.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    losses = per_example_loss_from_probs(p, y)
    predicted = p.argmax(axis=1)
    correct = predicted == y
    return PredictionReadouts(
        predicted=predicted,
        correct=correct,
        per_example_loss=losses,
        mean_loss=float(losses.mean()),
        accuracy=float(correct.mean()),
    )


def moved_readouts(probs: ArrayLike, labels: ArrayLike, true_class_probs: ArrayLike) -> PredictionReadouts:
    """Readouts after setting each example's true-class probability (the explorer's sliders)."""
    base = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    targets = np.asarray(true_class_probs, dtype=np.float64)
    moved = np.stack([with_true_class_probability(row, int(label), float(p)) for row, label, p in zip(base, y, targets)])
    return prediction_readouts(moved, y)
