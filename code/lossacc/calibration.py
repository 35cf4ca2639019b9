"""Calibration: how far confidence can be trusted, and temperature scaling (Guo et al., 2017).

``probs`` has shape ``(n, k)``; ``labels`` has shape ``(n,)``. Calibration is judged on the
top-1 *confidence* ``c_i = max_j p_ij`` against whether the top-1 prediction is right.
Equal-width bins ``B_m = {i : c_i in (m/M, (m+1)/M]}`` give the reliability diagram and the
expected calibration error ``ECE = sum_m |B_m|/n |acc(B_m) - conf(B_m)|``.

Temperature scaling divides the logits by one ``T > 0`` fitted to minimise the mean
cross-entropy on held-out data; it changes confidence but never the predicted class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lossacc.metrics import FloatArray, cross_entropy_from_logits, softmax

TEMPERATURE_BOUNDS = (0.01, 100.0)


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
    """Top-1 confidence ``max_c p_ic`` in the bins ``(m/M, (m+1)/M]``, with the accuracy in each.

    Empty bins have NaN confidence and accuracy.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be positive, got {num_bins}")
    p = np.asarray(probs, dtype=np.float64)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == np.asarray(labels)
    edges = np.arange(num_bins + 1) / num_bins
    # Bin m holds (edges[m], edges[m + 1]]; a confidence is at least 1/k > 0.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
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


def fit_temperature(logits: ArrayLike, labels: ArrayLike, iterations: int = 60) -> float:
    """``T* = argmin_T (1/n) sum_i -log softmax(z_i / T)[y_i]`` within ``TEMPERATURE_BOUNDS``.

    With ``b = 1/T`` the loss ``f(b) = mean_i [logsumexp_j(b z_ij) - b z_iy]`` is convex and
    ``f'(b) = mean_i [E_{p_b}(z_i) - z_iy]`` (mean logit under the scaled softmax minus the
    true-class logit) increases with ``b``, so bisection on the sign of ``f'`` over ``log b``
    finds the minimum; when ``f'`` keeps one sign the minimum is at a bound.
    """
    z = np.asarray(logits, dtype=np.float64)
    true_logit = z[np.arange(len(z)), np.asarray(labels)]

    def slope(log_inverse_temperature: float) -> float:
        probs = softmax(math.exp(log_inverse_temperature) * z)
        return float(((probs * z).sum(axis=1) - true_logit).mean())

    low, high = -math.log(TEMPERATURE_BOUNDS[1]), -math.log(TEMPERATURE_BOUNDS[0])
    if slope(low) >= 0:
        return TEMPERATURE_BOUNDS[1]
    if slope(high) <= 0:
        return TEMPERATURE_BOUNDS[0]
    for _ in range(iterations):
        middle = (low + high) / 2
        if slope(middle) < 0:
            low = middle
        else:
            high = middle
    return math.exp(-(low + high) / 2)


def scaled_loss(logits: ArrayLike, labels: ArrayLike, temperature: float) -> float:
    """Mean cross-entropy of the temperature-scaled logits, ``(1/n) sum_i -log softmax(z_i / T)[y_i]``."""
    return cross_entropy_from_logits(np.asarray(logits, dtype=np.float64) / temperature, labels)
