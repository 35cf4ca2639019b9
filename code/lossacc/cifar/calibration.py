"""Expected calibration error and temperature scaling (Guo et al., 2017), in NumPy.

Confidence is the top softmax probability ``c_i = max_j softmax(z_i)_j``; ECE sorts examples
into ``M`` equal-width bins ``B_m = {i : c_i in ((m-1)/M, m/M]}`` and averages the gap between
accuracy and mean confidence, ``ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|``.

Temperature scaling divides the logits by one ``T > 0`` fitted to minimise the mean
cross-entropy on held-out data; it changes confidence but never the predicted class.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from lossacc.metrics import cross_entropy_from_logits, softmax

TEMPERATURE_BOUNDS = (0.01, 100.0)


def expected_calibration_error(logits: ArrayLike, labels: ArrayLike, bins: int = 15) -> float:
    """``ECE = sum_m |B_m|/n |acc(B_m) - conf(B_m)|`` over ``bins`` equal-width confidence bins."""
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    probs = softmax(logits)
    y = np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    # Bin m (0-based) holds confidences in (m/M, (m+1)/M]; confidence is at least 1/k > 0.
    bin_index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    confidence_sum = np.bincount(bin_index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(bin_index, weights=correct, minlength=bins)
    return float(np.abs(correct_sum - confidence_sum).sum() / len(y))


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
