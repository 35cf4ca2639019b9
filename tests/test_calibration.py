"""Calibration views (ECE, reliability bins) and temperature scaling, checked against independent computations in torch."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc import calibration
from lossacc.calibration import (
    NUM_BINS,
    TEMPERATURE_BOUNDS,
    binning_table,
    brier_score,
    equal_mass_edges,
    expected_calibration_error,
    fit_and_judge_temperature,
    fit_temperature,
    per_example_brier,
    reliability_bins,
    reliability_bins_from_confidence,
    scaled_loss,
    scaled_loss_derivatives,
    scaling_table,
    temperature_readouts,
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


def test_default_is_15_right_closed_bins() -> None:
    # Confidences exactly on the edges m/15 belong to the bin below: (m-1)/15 < c <= m/15.
    confidence = np.arange(1, 16) / 15
    bins = reliability_bins_from_confidence(confidence, np.ones(15, dtype=bool))
    assert len(bins.count) == NUM_BINS == 15 and bins.count.tolist() == [1.0] * 15
    assert bins.confidence.tolist() == confidence.tolist()
    # Left-closed bins [m/M, (m+1)/M) would put 1/2 in the upper bin of two; right-closed keeps it below.
    two = reliability_bins_from_confidence(np.array([0.5, 0.5, 1.0]), np.array([True, False, True]), num_bins=2)
    assert two.count.tolist() == [2.0, 1.0]


def test_brier_sums_over_classes_twice_the_two_class_positive_score() -> None:
    p_positive = np.array([0.9, 0.2, 0.6])
    labels = np.array([1, 0, 0])
    probs = np.stack([1 - p_positive, p_positive], axis=1)
    positive_only = ((p_positive - labels) ** 2).mean()  # scikit-learn's brier_score_loss
    assert brier_score(probs, labels) == pytest.approx(2 * positive_only)
    assert per_example_brier(probs, labels) == pytest.approx(2 * (p_positive - labels) ** 2)


def test_fit_temperature_agrees_with_torch_lbfgs_on_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calibration, "BLOCK_ENTRIES", 7 * 1000)  # 1000 rows a block: 9 full blocks and a partial one
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 5, size=(9000, 7)).astype(np.float32)  # more rows than one block
    labels = np.where(rng.random(9000) < 0.7, logits.argmax(axis=1), rng.integers(0, 7, size=9000))
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    z, y = torch.tensor(logits, dtype=torch.float64), torch.tensor(labels)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimiser.step(closure)
    assert fit_temperature(logits, labels) == pytest.approx(log_t.exp().item(), rel=1e-6)


def test_scaled_loss_derivatives_match_autograd() -> None:
    rng = np.random.default_rng(6)
    logits, labels = rng.normal(0, 2, size=(50, 4)), rng.integers(0, 4, size=50)
    b = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(b * torch.tensor(logits), torch.tensor(labels))
    (slope,) = torch.autograd.grad(loss, b, create_graph=True)
    (curvature,) = torch.autograd.grad(slope, b)
    d = scaled_loss_derivatives(logits, labels, 0.7)
    assert (d.loss, d.slope, d.curvature) == pytest.approx((loss.item(), slope.item(), curvature.item()), rel=1e-10)


GOOD_PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
GOOD_LABELS = np.array([0, 2])
BAD_INPUTS = {
    "label out of range": (GOOD_PROBS, np.array([0, 3]), "labels must lie in"),
    "negative label": (GOOD_PROBS, np.array([0, -1]), "labels must lie in"),
    "one label for all rows": (GOOD_PROBS, np.array(1), "labels must have shape"),
    "float labels": (GOOD_PROBS, np.array([0.0, 2.0]), "labels must be integers"),
    "rows not summing to 1": (np.array([[0.7, 0.2, 0.2], [0.1, 0.3, 0.6]]), GOOD_LABELS, "sum to 1"),
    "logits as probabilities": (np.array([[2.5, -1.0, 0.3], [0.1, 0.3, 4.0]]), GOOD_LABELS, "not logits"),
    "NaN": (np.array([[np.nan, 0.2, 0.1], [0.1, 0.3, 0.6]]), GOOD_LABELS, "NaN or infinite"),
    "infinity": (np.array([[np.inf, 0.2, 0.1], [0.1, 0.3, 0.6]]), GOOD_LABELS, "NaN or infinite"),
    "no examples": (np.zeros((0, 3)), np.zeros(0, dtype=int), "no examples"),
    "one column": (np.ones((2, 1)), np.zeros(2, dtype=int), "k >= 2"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
@pytest.mark.parametrize("function", [brier_score, reliability_bins, expected_calibration_error])
def test_probability_views_refuse_bad_input(function: Callable[..., object], case: str) -> None:
    probs, labels, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=message):
        function(probs, labels)


LOGIT_CASES = {name: case for name, case in BAD_INPUTS.items() if "sum" not in case[2] and "logits" not in case[2]}


@pytest.mark.parametrize("case", LOGIT_CASES, ids=list(LOGIT_CASES))
def test_fit_temperature_refuses_bad_input(case: str) -> None:
    logits, labels, message = LOGIT_CASES[case]
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels)
    with pytest.raises(ValueError, match=message):
        scaled_loss(logits, labels, 1.0)


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.inf, math.nan])
def test_scaled_loss_refuses_a_temperature_that_is_not_positive(temperature: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        scaled_loss(GOOD_PROBS, GOOD_LABELS, temperature)


def test_logits_passed_as_probabilities_used_to_give_an_impossible_ece() -> None:
    # Before the checks this returned an ECE above 1; now it is refused.
    logits = np.random.default_rng(0).normal(0, 3, size=(100, 10))
    with pytest.raises(ValueError, match="not logits"):
        expected_calibration_error(logits, np.zeros(100, dtype=int))


def test_fit_and_judge_fits_on_one_part_and_judges_the_other() -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1.5, size=(4000, 5))
    drawn = torch.multinomial(torch.softmax(torch.tensor(z), dim=1), 1, generator=torch.Generator().manual_seed(1))
    labels = drawn.squeeze(1).numpy()
    fit = np.arange(4000) % 2 == 0
    result = fit_and_judge_temperature(3 * z, labels, fit)  # three times too sure
    assert result.temperature == fit_temperature(3 * z[fit], labels[fit])
    held = torch.tensor(3 * z[~fit]), torch.tensor(labels[~fit])
    assert result.loss_before == pytest.approx(F.cross_entropy(*held).item(), rel=1e-12)
    assert result.loss_after == pytest.approx(F.cross_entropy(held[0] / result.temperature, held[1]).item(), rel=1e-12)
    assert result.accuracy_before == result.accuracy_after
    assert result.loss_after < result.loss_before and result.ece_after < result.ece_before / 3
    with pytest.raises(ValueError, match="both sides"):
        fit_and_judge_temperature(z, labels, np.ones(4000, dtype=bool))


def test_temperature_readouts_against_torch() -> None:
    rng = np.random.default_rng(8)
    logits, labels = rng.normal(0, 3, size=(600, 6)), rng.integers(0, 6, size=600)
    readouts = temperature_readouts(logits, labels, 1.7)
    probs = torch.softmax(torch.tensor(logits) / 1.7, dim=1)
    confidence, predicted = probs.max(dim=1)
    assert readouts.accuracy == (predicted.numpy() == labels).mean()
    assert readouts.mean_loss == pytest.approx(F.cross_entropy(torch.tensor(logits) / 1.7, torch.tensor(labels)).item())
    assert readouts.mean_confidence == pytest.approx(confidence.mean().item())
    assert readouts.ece == pytest.approx(ece_by_loop(logits / 1.7, labels, NUM_BINS), abs=1e-12)
    assert readouts.bins.count.sum() == 600


def test_equal_mass_bins_and_bin_checks() -> None:
    confidence = np.random.default_rng(9).uniform(0.2, 1.0, size=1500)
    bins = reliability_bins_from_confidence(confidence, np.ones(1500, dtype=bool), edges=equal_mass_edges(confidence, 15))
    assert bins.count.tolist() == [100.0] * 15
    for bad in (np.array([0.0, 0.5]), np.array([0.5, 1.2]), np.array([np.nan, 0.5])):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            reliability_bins_from_confidence(bad, np.array([True, False]))
    with pytest.raises(ValueError, match="positive integer"):
        reliability_bins_from_confidence(confidence, np.ones(1500, dtype=bool), num_bins=0)


def test_scaling_and_binning_tables() -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1.5, size=(4000, 5))
    labels = rng.integers(0, 5, size=4000)
    fit = np.arange(4000) % 2 == 0
    results = {3: fit_and_judge_temperature(3 * z, labels, fit), 1: fit_and_judge_temperature(z, labels, fit)}
    frame = scaling_table(results)
    assert frame.index.tolist() == [3, 1] and frame.index.name == "after epoch"
    assert frame.loc[3, "fitted T"] == results[3].temperature and frame.loc[1, "ECE after"] == results[1].ece_after
    probs = softmax(3 * z)
    binned = binning_table({"raw": probs}, labels, [5, 15])
    # The 15 equal-width bins are the ECE's default; equal-mass bins are summed here by hand.
    assert binned.loc[15, "raw, equal width"] == pytest.approx(expected_calibration_error(probs, labels), abs=1e-12)
    confidence, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    mass = reliability_bins_from_confidence(confidence, right, edges=equal_mass_edges(confidence, 5))
    by_hand = np.sum(mass.count / mass.count.sum() * np.abs(mass.accuracy - mass.confidence))
    assert binned.loc[5, "raw, equal mass"] == pytest.approx(by_hand)
