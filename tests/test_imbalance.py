"""The claims of the chapter "Class imbalance", checked on the library that makes them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossacc.imbalance import (
    ACCURACY_TOLERANCE,
    LOSS_TOLERANCE,
    TABLE,
    VIEW_ROWS,
    LongTailSample,
    ModelViews,
    SyntheticModel,
    best_confidence,
    fit_table_models,
    fitted_table,
    imbalance_readouts,
    lean_for_accuracy,
    long_tail_sample,
    make_imbalance_base,
    model_views,
    per_class_table,
    picks_table,
    power_law_priors,
    separation_for_accuracy,
    sweep_table,
    views_table,
)
from lossacc.metrics import accuracy, cross_entropy_from_logits, per_example_loss_from_logits


@pytest.fixture(scope="module")
def validation() -> LongTailSample:
    return long_tail_sample(2000, seed=0)


@pytest.fixture(scope="module")
def models(validation: LongTailSample) -> tuple[SyntheticModel, ...]:
    return fit_table_models(validation)


@pytest.fixture(scope="module")
def views(validation: LongTailSample, models: tuple[SyntheticModel, ...]) -> dict[str, ModelViews]:
    one_per_class = long_tail_sample(3000, seed=2, class_balanced=True)
    calibration = long_tail_sample(1000, seed=1)
    return {m.name: model_views(m, validation, one_per_class, calibration) for m in models}


def test_power_law_priors() -> None:
    priors = power_law_priors(4, 20.0)
    assert priors.sum() == pytest.approx(1.0)
    assert priors[0] / priors[-1] == pytest.approx(20.0)
    assert (np.diff(priors) < 0).all()
    np.testing.assert_allclose(power_law_priors(5, 1.0), 0.2)


def test_weighted_readouts_equal_metrics_on_a_repeated_validation_set() -> None:
    base = make_imbalance_base(per_class=50)
    # rho = 4 with 4 classes gives shares 1 : 1/2 : 1/3 : 1/4 = 12 : 6 : 4 : 3.
    repeats = np.array([12, 6, 4, 3])
    np.testing.assert_allclose(power_law_priors(4, 4.0), repeats / repeats.sum())
    bias = 1.7
    readouts = imbalance_readouts(base.base_logits, base.labels, 4.0, bias)
    rows = np.repeat(np.arange(len(base.labels)), repeats[base.labels])
    logits = base.base_logits[rows] + bias * np.log(power_law_priors(4, 4.0))
    labels = base.labels[rows]
    assert readouts.accuracy == pytest.approx(accuracy(logits, labels))
    assert readouts.mean_loss == pytest.approx(cross_entropy_from_logits(logits, labels))
    torch_loss = F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert readouts.mean_loss == pytest.approx(torch_loss)
    predicted = np.bincount(logits.argmax(axis=1), minlength=4) / len(labels)
    np.testing.assert_allclose(readouts.predicted_share, predicted)
    assert readouts.balanced_accuracy == pytest.approx(readouts.per_class_accuracy.mean())


def test_without_imbalance_the_bias_changes_nothing() -> None:
    base = make_imbalance_base()
    readouts = [imbalance_readouts(base.base_logits, base.labels, 1.0, bias) for bias in (0.0, 2.0, 4.0)]
    for r in readouts:
        assert r.accuracy == pytest.approx(r.balanced_accuracy)
        assert r.accuracy == readouts[0].accuracy
        assert r.mean_loss == pytest.approx(readouts[0].mean_loss, abs=1e-12)


def test_leaning_on_the_majority_raises_accuracy_while_loss_and_balanced_accuracy_worsen() -> None:
    base = make_imbalance_base()
    biases = np.linspace(0.0, 4.0, 41)
    sweep = [imbalance_readouts(base.base_logits, base.labels, 20.0, b) for b in biases]
    best_loss = int(np.argmin([r.mean_loss for r in sweep]))
    best_accuracy = int(np.argmax([r.accuracy for r in sweep]))
    assert biases[best_loss] < biases[best_accuracy]
    low, high = sweep[best_loss], sweep[best_accuracy]
    assert high.accuracy > low.accuracy
    assert high.mean_loss > low.mean_loss
    assert high.balanced_accuracy < low.balanced_accuracy < sweep[0].balanced_accuracy
    assert high.predicted_share[0] > low.predicted_share[0]
    assert high.per_class_accuracy[0] > low.per_class_accuracy[0]
    assert high.per_class_accuracy[3] < low.per_class_accuracy[3] and high.per_class_loss[3] > low.per_class_loss[3]
    # Starting from no bias, leaning on frequent classes first improves both metrics.
    assert low.accuracy > sweep[0].accuracy and low.mean_loss < sweep[0].mean_loss
    # The accuracy optimum sits near beta = kappa (3 here), Bayes' argmax.
    assert abs(biases[best_accuracy] - 3.0) <= 0.3


def test_a_calibrated_model_has_no_disagreement_window() -> None:
    base = make_imbalance_base(confidence=1.0)
    biases = np.linspace(0.0, 4.0, 41)
    sweep = [imbalance_readouts(base.base_logits, base.labels, 20.0, b) for b in biases]
    best_loss = biases[int(np.argmin([r.mean_loss for r in sweep]))]
    best_accuracy = biases[int(np.argmax([r.accuracy for r in sweep]))]
    assert abs(best_loss - 1.0) <= 0.2 and abs(best_accuracy - 1.0) <= 0.2


def test_synthetic_models_land_on_the_table(validation: LongTailSample, models: tuple[SyntheticModel, ...]) -> None:
    for row, model in zip(TABLE, models):
        logits = model.logits(validation)
        loss = F.cross_entropy(torch.tensor(logits), torch.tensor(validation.labels)).item()
        assert loss == pytest.approx(cross_entropy_from_logits(logits, validation.labels))
        assert abs(loss - row.loss) <= LOSS_TOLERANCE
        assert abs(accuracy(logits, validation.labels) - row.accuracy) <= ACCURACY_TOLERANCE


def test_synthetic_models_have_the_stated_mechanisms(models: tuple[SyntheticModel, ...]) -> None:
    a, b, c = models
    assert a.separation == b.separation == c.separation
    assert a.lean == 0 and b.lean < 0 < c.lean
    assert b.confidence < a.confidence < c.confidence
    assert b.confidence > 1  # all three are over-confident


def test_model_views_agree_with_the_library(
    validation: LongTailSample, models: tuple[SyntheticModel, ...], views: dict[str, ModelViews]
) -> None:
    for m in models:
        logits = m.logits(validation)
        assert views[m.name].accuracy == accuracy(logits, validation.labels)
        assert views[m.name].loss == pytest.approx(cross_entropy_from_logits(logits, validation.labels))
        scaled = replace(m, confidence=views[m.name].scaled_confidence).logits(validation)
        assert accuracy(scaled, validation.labels) == views[m.name].accuracy


def test_the_lean_search_and_the_views_give_the_plain_formulas_bit_for_bit(
    validation: LongTailSample, models: tuple[SyntheticModel, ...], views: dict[str, ModelViews]
) -> None:
    """The search reuses the evidence across its steps and the views reuse the scores across
    confidences (for speed); the numbers are exactly those of the model's own formulas."""
    small = long_tail_sample(300, num_classes=200, seed=4)
    separation = separation_for_accuracy(small, 0.9)
    for target, interval in [(0.85, (-1.0, 0.0)), (0.95, (0.0, 1.0))]:
        low, high = interval
        for _ in range(10):
            middle = (low + high) / 2
            if accuracy(SyntheticModel("", separation, 1.0, middle).scores(small), small.labels) < target:
                low = middle
            else:
                high = middle
        assert lean_for_accuracy(small, separation, target, interval) == high
    for m in models:
        losses = per_example_loss_from_logits(m.logits(validation), validation.labels)
        assert np.array_equal(views[m.name].per_example_loss, losses) and views[m.name].loss == float(losses.mean())
        scaled = replace(m, confidence=views[m.name].scaled_confidence).logits(validation)
        assert views[m.name].scaled_loss == cross_entropy_from_logits(scaled, validation.labels)


def test_the_views_behind_the_verdict(views: dict[str, ModelViews]) -> None:
    a, b, c = views["A"], views["B"], views["C"]
    # Top-1 decisions: C leads on accuracy and top-5, from the frequent classes.
    assert c.accuracy > a.accuracy > b.accuracy and c.top5_accuracy > a.top5_accuracy > b.top5_accuracy
    assert c.range_accuracy[0] > a.range_accuracy[0] > b.range_accuracy[0]
    # Every class counting the same: balanced accuracy and the tail within two standard errors.
    balanced = [v.balanced_accuracy for v in views.values()]
    standard_error = np.sqrt(np.mean(balanced) * (1 - np.mean(balanced)) / 3000)
    assert max(balanced) - min(balanced) < 2 * standard_error
    tail = [v.range_accuracy[-1] for v in views.values()]
    assert max(tail) - min(tail) < 0.01
    # Probabilities as they are: log loss and Brier rank the models in opposite orders.
    assert b.loss < a.loss < c.loss and c.brier < a.brier < b.brier
    assert c.loss_wrong > a.loss_wrong > b.loss_wrong and max(v.loss_right for v in views.values()) < 0.05
    for v in views.values():
        assert v.mean_confidence > v.accuracy and v.ece > 0.02
        assert v.loss == pytest.approx(v.accuracy * v.loss_right + (1 - v.accuracy) * v.loss_wrong)
    # After temperature scaling: every loss falls far below the table, C best and B worst.
    assert c.scaled_loss < a.scaled_loss < b.scaled_loss < min(row.loss for row in TABLE) / 1.5


def test_best_confidence_is_a_minimum(validation: LongTailSample, models: tuple[SyntheticModel, ...]) -> None:
    model = models[0]
    kappa = best_confidence(model, validation)
    losses = [cross_entropy_from_logits(replace(model, confidence=k).logits(validation), validation.labels)
              for k in (0.95 * kappa, kappa, 1.05 * kappa)]
    assert losses[1] < losses[0] and losses[1] < losses[2]


def test_paired_difference_from_the_discordant_pairs() -> None:
    """Only the examples on which the two models disagree carry the paired noise."""
    from lossacc.imbalance import paired_difference

    rng = np.random.default_rng(0)
    n = 500
    a = rng.random(n) < 0.8
    b = np.where(rng.random(n) < 0.9, a, ~a)  # agrees with a on about 90% of examples
    difference, se = paired_difference(a, b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(b & ~a))  # the discordant pairs
    assert difference == pytest.approx((only_a - only_b) / n)
    # var(d) with ddof 1, from the counts: sum d^2 = only_a + only_b, sum d = only_a - only_b
    variance = (only_a + only_b - (only_a - only_b) ** 2 / n) / (n - 1)
    assert se == pytest.approx(np.sqrt(variance / n))
    assert se < np.sqrt(a.mean() * (1 - a.mean()) / n)  # pairing removes the shared noise
    assert paired_difference(a, a) == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference([True], [False])


def test_tables_of_the_chapter_show_the_fit_and_the_views(
    validation: LongTailSample, models: tuple[SyntheticModel, ...], views: dict[str, ModelViews]
) -> None:
    fitted = fitted_table(models, validation)
    assert fitted.columns.tolist() == [row.name for row in TABLE]
    for row, model in zip(TABLE, models):
        logits = model.logits(validation)
        assert fitted.loc["loss", row.name] == cross_entropy_from_logits(logits, validation.labels)
        assert fitted.loc["loss (target)", row.name] == row.loss and fitted.loc["confidence κ", row.name] == model.confidence
    shown = views_table(views)
    assert shown.loc["ECE (15 bins)", "B"] == views["B"].ece
    assert shown.loc["accuracy, ranks 500-2999", "C"] == views["C"].range_accuracy[-1]
    assert len(shown) == len(VIEW_ROWS) + 3
    picks = picks_table(views)
    assert picks.loc["accuracy", "picks"] == max(views, key=lambda name: views[name].accuracy)
    assert picks.loc["loss", "picks"] == min(views, key=lambda name: views[name].loss)
    assert picks.loc["ECE (15 bins)", "B"] == views["B"].ece


def test_sweep_and_per_class_tables_pick_their_rows() -> None:
    base = make_imbalance_base(num_classes=4, per_class=50, seed=0)
    priors = power_law_priors(4, 10.0)
    sweep = [imbalance_readouts(base.base_logits, base.labels, 10.0, bias) for bias in (0.0, 1.0, 3.0)]
    rows = sweep_table([0.0, 1.0, 3.0], sweep, {"none": 0, "most": 2})
    assert rows.index.tolist() == ["none", "most"] and rows.loc["most", "bias β"] == 3.0
    assert rows.loc["most", "predicted as class 0"] == sweep[2].predicted_share[0]
    per_class = per_class_table(priors, {"none": sweep[0]})
    np.testing.assert_array_equal(per_class.loc["accuracy, none"], sweep[0].per_class_accuracy)
    np.testing.assert_allclose(per_class.loc["share of the data"], priors)
