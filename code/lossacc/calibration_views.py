"""Views of predicted probabilities beyond mean log loss: the Brier score and calibration.

``probs`` has shape ``(n, k)``; ``labels`` has shape ``(n,)``. Calibration is judged on the
top-1 *confidence* ``max_c p_ic`` against whether the top-1 prediction is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lossacc.metrics import FloatArray


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """Multi-class Brier score ``(1/n) sum_i sum_c (p_ic - [c = y_i])^2``, between 0 and 2.

    Like log loss it is a proper scoring rule, but one confident mistake costs at most 2.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    true_class_prob = p[np.arange(len(y)), y]
    return float(((p**2).sum(axis=1) - 2 * true_class_prob + 1).mean())


@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin: edges ``(b + 1,)``, example count, mean confidence and accuracy ``(b,)``."""

    edges: FloatArray
    count: FloatArray
    confidence: FloatArray
    accuracy: FloatArray


def reliability_bins(probs: ArrayLike, labels: ArrayLike, num_bins: int = 10) -> ReliabilityBins:
    """Top-1 confidence ``max_c p_ic`` in equal-width bins on ``[0, 1]``, with the accuracy in each.

    Empty bins have NaN confidence and accuracy.
    """
    p = np.asarray(probs, dtype=np.float64)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, num_bins - 1)
    count = np.bincount(which, minlength=num_bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=num_bins) / count
        bin_accuracy = np.bincount(which, weights=correct, minlength=num_bins) / count
    return ReliabilityBins(edges, count, mean_confidence, bin_accuracy)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, num_bins: int = 10) -> float:
    """``ECE = sum_b (n_b / n) |acc_b - conf_b|`` over the bins of :func:`reliability_bins`."""
    bins = reliability_bins(probs, labels, num_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float((bins.count[filled] * gaps).sum() / bins.count.sum())
