"""The claims of the chapter "Log-loss asymmetry", checked on the library that makes them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossacc.asymmetry import (
    BORDERLINE,
    CONFIDENT_RIGHT,
    CONFIDENTLY_WRONG,
    GROUP_NAMES,
    GROUP_SIZES,
    break_even_wrong_probability,
    epoch_table,
    fewest_drifters,
    four_image_scenario,
    four_image_table,
    group_table,
    log_odds_loss,
    loss_change,
    loss_slope,
    make_population,
    population_readouts,
    rival_distribution,
    shift_true_class,
    true_class_loss,
)
from lossacc.metrics import (
    accuracy,
    cross_entropy_from_logits,
    loss_on_right_and_wrong,
    per_example_loss_from_probs,
    worst_share,
)


def torch_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return F.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none").numpy()


def test_true_class_loss_is_minus_log_p_and_its_slope_minus_one_over_p() -> None:
    p = np.array([0.03, 0.1, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(true_class_loss(p), -np.log(p))
    h = 1e-7
    numeric = (true_class_loss(p + h) - true_class_loss(p - h)) / (2 * h)
    np.testing.assert_allclose(loss_slope(p), numeric, rtol=1e-5)


def test_a_wrong_answer_getting_surer_costs_far_more_than_a_right_one_gains() -> None:
    step = 0.02
    gain_when_right = -loss_change(0.90, 0.90 + step)[0]
    cost_when_wrong = loss_change(0.10, 0.10 - step)[0]
    assert 0 < gain_when_right < cost_when_wrong / 10


def test_four_images_raise_both_accuracy_and_mean_loss() -> None:
    scenario = four_image_scenario()
    assert scenario.before.accuracy == 0.5
    assert scenario.after.accuracy == 0.75
    assert scenario.after.mean_loss > scenario.before.mean_loss
    for snap in (scenario.before, scenario.after):
        p = snap.true_class_prob
        logits = np.log(np.stack([1 - p, p], axis=1))
        assert torch_loss(logits, np.ones(4, dtype=np.int64)).mean() == pytest.approx(snap.mean_loss)


def test_four_image_effect_holds_below_the_break_even_and_breaks_above() -> None:
    w_star = break_even_wrong_probability()
    assert four_image_scenario(wrong=w_star).after.mean_loss == pytest.approx(
        four_image_scenario(wrong=w_star).before.mean_loss, abs=1e-12
    )
    below, above = four_image_scenario(wrong=0.9 * w_star), four_image_scenario(wrong=1.1 * w_star)
    assert below.after.mean_loss > below.before.mean_loss
    assert above.after.mean_loss < above.before.mean_loss
    assert below.after.accuracy > below.before.accuracy and above.after.accuracy > above.before.accuracy


def test_break_even_widens_as_the_right_answers_get_surer_and_has_a_small_step_limit() -> None:
    assert break_even_wrong_probability(confident=0.6) < break_even_wrong_probability(confident=0.9) < (
        break_even_wrong_probability(confident=0.97)
    )
    limit = 1 / (2 / 0.90 + 1 / 0.49)
    assert break_even_wrong_probability(step=1e-5) == pytest.approx(limit, rel=1e-3)


@pytest.mark.parametrize("num_classes", [2, 10])
def test_an_epoch_of_crossing_and_drifting_raises_accuracy_and_mean_loss(num_classes: int) -> None:
    population = make_population(num_classes)
    a, b, g = population.true_log_odds, population.argmax_margin, population.group
    start = population_readouts(a, b, g, [0.0, 0.0, 0.0])
    end = population_readouts(a, b, g, [0.3, 0.5, -2.0])
    assert end.accuracy > start.accuracy and end.mean_loss > start.mean_loss


@pytest.mark.parametrize("num_classes", [2, 10])
def test_population_readouts_match_library_and_torch_on_shifted_logits(num_classes: int) -> None:
    population = make_population(num_classes)
    shifts = [0.4, 1.0, -2.0]
    readouts = population_readouts(population.true_log_odds, population.argmax_margin, population.group, shifts)
    logits = shift_true_class(population, shifts)
    assert readouts.accuracy == pytest.approx(accuracy(logits, population.labels))
    assert readouts.mean_loss == pytest.approx(cross_entropy_from_logits(logits, population.labels))
    np.testing.assert_allclose(readouts.per_example_loss, torch_loss(logits, population.labels), rtol=1e-9, atol=1e-12)
    for g in (CONFIDENT_RIGHT, BORDERLINE, CONFIDENTLY_WRONG):
        members = population.group == g
        assert readouts.group_accuracy[g] == pytest.approx(accuracy(logits[members], population.labels[members]))
        assert readouts.group_mean_loss[g] == pytest.approx(
            cross_entropy_from_logits(logits[members], population.labels[members])
        )


def test_population_has_the_stated_groups_and_two_class_log_odds_equal_margins() -> None:
    two = make_population(2)
    assert np.bincount(two.group).tolist() == list(GROUP_SIZES)
    np.testing.assert_allclose(two.true_log_odds, two.argmax_margin)
    ten = make_population(10)
    # With ten classes the true class can win the argmax with p < 1/2: log-odds below the margin.
    assert (ten.true_log_odds < ten.argmax_margin).all()
    assert ((ten.argmax_margin > 0) & (ten.true_log_odds < 0)).any()


@pytest.mark.parametrize("num_classes", [2, 10])
def test_few_drifters_cancel_the_loss_gain_of_many_crossers(num_classes: int) -> None:
    population = make_population(num_classes)
    a, b, g = population.true_log_odds, population.argmax_margin, population.group
    crossing, drift = 0.5, 2.0
    count = fewest_drifters(population, crossing, drift)
    start = population_readouts(a, b, g, [0, 0, 0])
    crossed = population_readouts(a, b, g, [0, crossing, 0])
    assert crossed.accuracy > start.accuracy and crossed.mean_loss < start.mean_loss
    newly_right = int(crossed.correct.sum() - start.correct.sum())
    assert count < newly_right
    # A confident mistake's loss grows by almost one nat per logit: half the drift, about twice the drifters.
    assert 1.7 < fewest_drifters(population, crossing, drift / 2) / count < 2.3

    wrong = np.flatnonzero(g == CONFIDENTLY_WRONG)
    added = log_odds_loss(a[wrong] - drift) - log_odds_loss(a[wrong])
    order = wrong[np.argsort(-added)]
    for drifting, rises in ((count, True), (count - 1, False)):
        shifted_a, shifted_b = a.copy(), b.copy()
        shifted_a[g == BORDERLINE] += crossing
        shifted_b[g == BORDERLINE] += crossing
        shifted_a[order[:drifting]] -= drift
        shifted_b[order[:drifting]] -= drift
        after = population_readouts(shifted_a, shifted_b, g, [0, 0, 0])
        assert after.accuracy == crossed.accuracy
        assert (after.mean_loss >= start.mean_loss) == rises


def test_worst_share() -> None:
    assert worst_share(np.r_[np.full(99, 1.0), 101.0], 0.01) == pytest.approx(101 / 200)
    population = make_population(2)
    readouts = population_readouts(population.true_log_odds, population.argmax_margin, population.group, [0, 0, 0])
    assert worst_share(readouts.per_example_loss, 0.01) > 0.05


def test_loss_on_right_and_wrong_recombines_into_mean_loss() -> None:
    population = make_population(10)
    readouts = population_readouts(population.true_log_odds, population.argmax_margin, population.group, [0, 0, 0])
    right, wrong = loss_on_right_and_wrong(readouts.per_example_loss, readouts.correct)
    assert readouts.accuracy * right + (1 - readouts.accuracy) * wrong == pytest.approx(readouts.mean_loss)


def test_in_ten_classes_accuracy_follows_the_argmax_and_loss_follows_p_alone() -> None:
    right_at_03 = rival_distribution(0.30, 0.25, 10)
    wrong_at_03 = rival_distribution(0.30, 0.40, 10)
    wrong_at_045 = rival_distribution(0.45, 0.55, 10)
    probs = np.stack([right_at_03, wrong_at_03, wrong_at_045])
    labels = np.zeros(3, dtype=np.int64)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert probs.argmax(axis=1).tolist() == [0, 1, 1]
    losses = per_example_loss_from_probs(probs, labels)
    assert losses[0] == pytest.approx(losses[1]) and losses[2] < losses[0]
    by_torch = F.nll_loss(torch.log(torch.tensor(probs)), torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(losses, by_torch)


def test_epoch_and_group_tables_sum_each_groups_own_losses() -> None:
    population = make_population(2)
    a, b, g = population.true_log_odds, population.argmax_margin, population.group
    start = population_readouts(a, b, g, [0.0, 0.0, 0.0])
    end = population_readouts(a, b, g, [0.3, 0.5, -2.0])
    epoch = epoch_table(start, end, g).set_index("measure")
    for group, name in enumerate(GROUP_NAMES):
        # Independently: -ln p of the group's members, summed.
        summed = [-np.log(r.true_class_prob[g == group]).sum() for r in (start, end)]
        np.testing.assert_allclose(epoch.loc[f"summed loss, {name}", ["before", "after"]], summed, rtol=1e-12)
    assert epoch.loc["accuracy", "after"] == end.accuracy and (epoch["change"] == epoch["after"] - epoch["before"]).all()
    groups = group_table(start, g).set_index("group")
    assert groups["examples"].tolist() == [*GROUP_SIZES, sum(GROUP_SIZES)]
    assert groups.loc["all", "mean loss"] == pytest.approx(np.average(groups["mean loss"][:3], weights=GROUP_SIZES))


def test_four_image_table_shows_each_images_move() -> None:
    frame = four_image_table(four_image_scenario())
    assert frame["p"].tolist() == ["0.90 → 0.92", "0.90 → 0.92", "0.49 → 0.51", "0.10 → 0.08"]
    assert frame["right"].tolist() == ["yes → yes", "yes → yes", "no → yes", "no → no"]
    np.testing.assert_allclose(frame["change"], np.log([0.90 / 0.92, 0.90 / 0.92, 0.49 / 0.51, 0.10 / 0.08]), rtol=1e-12)
