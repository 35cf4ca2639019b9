"""lossacc.significance against scipy, statsmodels and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from lossacc.significance import (
    Z_ONE_SIDED,
    Z_TWO_SIDED,
    accuracy_interval,
    compare_epochs,
    compare_paired,
    comparison_table,
    early_stop,
    epoch_intervals,
    examples_needed,
    mcnemar_exact,
    mean_interval,
    normal_cdf,
    pairs_table,
    ranking_simulation,
    significance_readouts,
    two_models,
    wilson_bounds,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (550, 1000), (9000, 10000), (2000, 2000)])
def test_wilson_interval_matches_statsmodels_and_the_written_out_formula(k: int, n: int) -> None:
    interval = accuracy_interval(k, n)
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-12)
    assert wilson_bounds(k / n, n) == pytest.approx((low, high), abs=1e-12)
    assert interval.low <= k / n <= interval.high


def test_mean_interval_is_the_t_interval() -> None:
    x = np.random.default_rng(0).exponential(size=500)
    interval = mean_interval(x)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    assert (interval.low, interval.high) == pytest.approx((x.mean() - half, x.mean() + half), rel=1e-12)


def test_epoch_intervals_cover_each_epoch() -> None:
    rng = np.random.default_rng(1)
    correct = rng.random((3, 400)) < [[0.5], [0.6], [0.7]]
    losses = rng.exponential(size=(3, 400))
    acc, loss = epoch_intervals(correct, losses)
    assert [a.estimate for a in acc] == pytest.approx(correct.mean(axis=1).tolist())
    assert [m.estimate for m in loss] == pytest.approx(losses.mean(axis=1).tolist())


def test_exact_mcnemar_matches_statsmodels() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(300) < 0.7
    b = np.where(rng.random(300) < 0.15, ~a, a)  # B flips 15% of A's outcomes
    ours = mcnemar_exact(a, b)
    table = [[int(np.sum(x & y)) for y in (b, ~b)] for x in (a, ~a)]
    theirs = mcnemar(table, exact=True)
    assert (ours.only_a, ours.only_b) == (table[0][1], table[1][0])
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-12)
    assert mcnemar_exact(a, a).pvalue == 1.0


def test_paired_interval_is_narrower_than_unpaired_and_agrees_with_the_bootstrap() -> None:
    rng = np.random.default_rng(3)
    hardness = rng.exponential(size=2000)
    loss_a = hardness + 0.1 * rng.standard_normal(2000)
    loss_b = hardness - 0.02 + 0.1 * rng.standard_normal(2000)
    correct_a, correct_b = loss_a < 0.7, loss_b < 0.7
    result = compare_paired(loss_a, correct_a, loss_b, correct_b)
    assert result.loss.estimate == pytest.approx(loss_b.mean() - loss_a.mean())
    assert result.loss.half_width < result.loss_unpaired.half_width / 5
    assert result.accuracy.half_width < result.accuracy_unpaired.half_width
    assert result.loss.high < 0 and result.loss_pvalue < 0.05  # B's loss is lower, and it shows
    boot = stats.bootstrap((loss_a, loss_b), lambda x, y: np.mean(y - x), paired=True, vectorized=False,
                           n_resamples=2000, random_state=0).confidence_interval
    assert (result.loss.low, result.loss.high) == pytest.approx((boot.low, boot.high), abs=0.2 * result.loss.half_width)


@pytest.mark.parametrize(
    ("values", "patience", "higher", "expected"),
    [
        ([3, 2, 2.5, 1, 4], 0, False, (3, 2)),
        ([3, 2, 2.5, 1, 4], 1, False, (5, 4)),
        ([3, 2, 2.5, 1, 4], 5, False, (5, 4)),
        ([0.1, 0.3, 0.2, 0.2, 0.4], 1, True, (4, 2)),
        ([0.1, 0.3, 0.3, 0.2, 0.4], 2, True, (5, 5)),
    ],
)
def test_early_stop(values: list[float], patience: int, higher: bool, expected: tuple[int, int]) -> None:
    assert early_stop(values, patience, higher) == expected


def test_normal_cdf_matches_scipy() -> None:
    xs = np.linspace(-40, 40, 8001)
    assert max(abs(normal_cdf(float(x)) - stats.norm.cdf(x)) for x in xs) < 1e-14
    assert normal_cdf(Z_TWO_SIDED) == pytest.approx(0.975, abs=1e-14)


def test_examples_needed_gives_95_percent_correct_rankings() -> None:
    n = examples_needed(0.01, 0.3)
    assert normal_cdf(0.01 * math.sqrt(n) / 0.3) == pytest.approx(0.95, abs=1e-12)
    assert examples_needed(0.0, 0.3) == math.inf


def test_equal_models_tie_and_a_shift_helps_both_metrics() -> None:
    models = two_models()
    tie = significance_readouts(models, 0.0, 1000)
    assert tie.accuracy_gain == 0 and tie.loss_gain == pytest.approx(0, abs=1e-15)
    assert tie.accuracy_rank == 0.5 and tie.accuracy_needed == math.inf
    better = significance_readouts(models, 0.1, 1000)
    assert better.accuracy_gain > 0 and better.loss_gain > 0
    assert better.accuracy_paired_half_width < better.accuracy_unpaired_half_width


def test_readouts_agree_with_simulated_validation_sets() -> None:
    """The normal approximation's chance of ranking right, against drawing validation sets."""
    models = two_models()
    sizes = [200, 800, 3000]
    accuracy, loss = ranking_simulation(models, 0.1, sizes, repeats=2000)
    for n, acc_share, loss_share in zip(sizes, accuracy, loss):
        r = significance_readouts(models, 0.1, n)
        assert acc_share == pytest.approx(r.accuracy_rank, abs=0.05)
        assert loss_share == pytest.approx(r.loss_rank, abs=0.03)
    r = significance_readouts(models, 0.1, 1000)
    assert r.loss_pvalue == pytest.approx(2 * stats.norm.sf(r.loss_gain / (r.loss_paired_half_width / Z_TWO_SIDED)), rel=1e-9)
    assert stats.norm.cdf(Z_ONE_SIDED) == pytest.approx(0.95, abs=1e-15)


def test_epoch_pairs_and_comparison_tables_show_the_paired_verdicts() -> None:
    rng = np.random.default_rng(3)
    losses = rng.exponential(0.5, size=(4, 800)) + np.arange(4)[:, None] * 0.02
    correct = rng.random((4, 800)) < np.array([0.70, 0.72, 0.80, 0.81])[:, None]
    by_pair = compare_epochs(losses, correct, [4, 1, 3])
    assert list(by_pair) == [(1, 3), (1, 4), (3, 4)]
    direct = compare_paired(losses[0], correct[0], losses[3], correct[3])
    assert by_pair[(1, 4)] == direct
    rows = pairs_table(by_pair)
    assert rows.index.tolist() == ["1 → 3", "1 → 4", "3 → 4"] and rows.index.name == "epochs"
    assert rows.loc["1 → 4", "McNemar p"] == direct.mcnemar.pvalue and rows.loc["1 → 4", "paired t p"] == direct.loss_pvalue
    low, high = direct.loss.low, direct.loss.high
    assert rows.loc["1 → 4", "loss change [95%]"] == f"{direct.loss.estimate:+.4f} [{low:+.4f}, {high:+.4f}]"
    both = comparison_table(direct)
    assert both.loc["mean loss", "difference"] == direct.loss.estimate
    assert both.loc["accuracy", "separate 95%"] == f"[{direct.accuracy_unpaired.low:+.4f}, {direct.accuracy_unpaired.high:+.4f}]"
