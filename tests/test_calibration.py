"""Calibration views (ECE, reliability bins) and temperature scaling, checked against independent computations in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc.calibration import (
    TEMPERATURE_BOUNDS,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    scaled_loss,
)
from lossacc.metrics import softmax


def ece_by_loop(logits: np.ndarray, labels: np.ndarray, bins: int) -> float:
    """ECE written the long way: one mask per bin ``(m/M, (m+1)/M]``."""
    probs = torch.softmax(torch.tensor(logits, dtype=torch.float64), dim=1)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == torch.tensor(labels)).double()
    total = 0.0
    for m in range(bins):
        in_bin = (confidence > m / bins) & (confidence <= (m + 1) / bins)
        if in_bin.any():
            total += in_bin.double().mean().item() * abs(
                correct[in_bin].mean().item() - confidence[in_bin].mean().item()
            )
    return total


def test_ece_matches_the_loop_definition() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(2000, 10))
    labels = rng.integers(0, 10, size=2000)
    for bins in (1, 10, 15):
        assert abs(expected_calibration_error(softmax(logits), labels, bins) - ece_by_loop(logits, labels, bins)) < 1e-12


def test_ece_of_constant_confidence_is_the_accuracy_gap() -> None:
    # Two classes, logits (ln 4, 0): every confidence is 0.8 and class 0 is predicted.
    logits = np.tile([np.log(4.0), 0.0], (10, 1))
    assert abs(expected_calibration_error(softmax(logits), np.array([0] * 8 + [1] * 2))) < 1e-12
    assert abs(expected_calibration_error(softmax(logits), np.array([0] * 6 + [1] * 4)) - 0.2) < 1e-12


def test_temperature_is_the_minimum_of_the_torch_loss() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, size=(3000, 10))
    labels = np.where(rng.random(3000) < 0.6, logits.argmax(axis=1), rng.integers(0, 10, size=3000))
    temperature = fit_temperature(logits, labels)
    z, y = torch.tensor(logits), torch.tensor(labels)
    grid = torch.linspace(0.5, 5, 901, dtype=torch.float64)
    losses = torch.stack([F.cross_entropy(z / t, y) for t in grid])
    assert abs(temperature - grid[losses.argmin()].item()) <= 0.005
    # dL/dT vanishes at the minimum.
    t = torch.tensor(temperature, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(z / t, y).backward()
    assert t.grad is not None and abs(t.grad.item()) < 1e-6
    assert abs(scaled_loss(logits, labels, temperature) - F.cross_entropy(z / temperature, y).item()) < 1e-12


def test_temperature_undoes_overconfident_logits() -> None:
    # Labels drawn from softmax(z) are calibrated for z; logits 3z must be divided by about 3.
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1.5, size=(40_000, 10))
    probs = torch.softmax(torch.tensor(z), dim=1)
    labels = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(0)).squeeze(1).numpy()
    assert abs(fit_temperature(3 * z, labels) - 3) < 0.1


def test_temperature_stops_at_its_bounds() -> None:
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    assert fit_temperature(logits, np.array([0, 1])) == TEMPERATURE_BOUNDS[0]  # always right: sharpen forever
    assert fit_temperature(logits, np.array([1, 0])) == TEMPERATURE_BOUNDS[1]  # always wrong: flatten forever


def test_brier_score_and_calibration_views() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    labels = np.array([0, 1, 2, 0])
    one_hot = np.eye(3)[labels]
    assert brier_score(probs, labels) == pytest.approx(((probs - one_hot) ** 2).sum(axis=1).mean())
    bins = reliability_bins(probs, labels, num_bins=2)
    assert bins.count.tolist() == [1, 3]
    assert bins.accuracy[1] == pytest.approx(2 / 3) and bins.confidence[1] == pytest.approx(1.9 / 3)
    assert expected_calibration_error(probs, labels, num_bins=2) == pytest.approx(
        (1 * abs(1 - 0.5) + 3 * abs(2 / 3 - 1.9 / 3)) / 4
    )
    # Labels drawn from the predicted probabilities themselves: calibrated by construction.
    rng = np.random.default_rng(0)
    calibrated = softmax(2 * rng.normal(size=(5000, 3)))
    sampled = (calibrated.cumsum(axis=1) < rng.random((5000, 1))).sum(axis=1)
    assert expected_calibration_error(calibrated, sampled) < 0.03
