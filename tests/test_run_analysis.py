"""The analyses of the real-run chapter, on constructed curves and records."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

from lossacc.cifar.data import CIFAR10_CLASSES
from lossacc.cifar.record import HISTORY_FIELDS, CifarRecord, History, RecordError, Thumbnails
from lossacc.metrics import worst_share
from lossacc.run_analysis import (
    ACCURACY_UP_LOSS_UP,
    LOSS_CHANGE_GROUPS,
    OVERFITTING,
    RECOVERY,
    Regime,
    averaged_loss,
    averaging_tests,
    book_record,
    checkpoint_choices,
    choice_at,
    choice_table,
    describe_run,
    drop_effects,
    drop_table,
    epoch_histograms,
    epoch_readouts,
    example_changes,
    find_record_regimes,
    find_regimes,
    half_split_choices,
    loss_change_by_group,
    loss_change_table,
    lr_drops,
    lr_phases,
    probability_bin,
    record_loss_change,
    regime_table,
    runs_of,
    scaling_effect,
    smooth_within_phases,
    train_loss_gap,
    worst_share_of_change,
)
from lossacc.tables import table

# --- constructed curves: a step schedule with drops after epochs 10 and 20 ---------------------

EPOCHS = 30
LR = np.where(np.arange(1, EPOCHS + 1) <= 10, 0.1, np.where(np.arange(1, EPOCHS + 1) <= 20, 0.02, 0.004))


class Curves(TypedDict):
    """The arguments of :func:`find_regimes` that describe a run."""

    lr: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray


def constructed_curves() -> Curves:
    """Validation loss falls to epoch 5 and rises to epoch 10; the drop at 11 brings it down to
    epoch 13, then it rises to 20; after the drop at 21 it falls to 22 and rises to 30. The
    training loss falls throughout; validation accuracy rises on 14-20 and 23-30, falls on 6-10."""
    e = np.arange(1, EPOCHS + 1, dtype=np.float64)
    val_loss = np.select(
        [e <= 5, e <= 10, e <= 13, e <= 20, e <= 22, e <= 30],
        [1.5 - 0.1 * e, 1.0 + 0.05 * (e - 5), 1.0 - 0.1 * (e - 10), 0.7 + 0.04 * (e - 13), 0.75 - 0.05 * (e - 20), 0.65 + 0.03 * (e - 22)],
    )
    val_acc = np.select(
        [e <= 5, e <= 10, e <= 13, e <= 20, e <= 22, e <= 30],
        [0.5 + 0.04 * e, 0.7 - 0.01 * (e - 5), 0.65 + 0.05 * (e - 10),
         0.8 + 0.005 * (e - 13), 0.835 + 0.01 * (e - 20), 0.855 + 0.002 * (e - 22)],
    )
    return {"lr": LR, "train_loss": 2.0 * 0.9**e, "val_loss": val_loss, "val_acc": val_acc}


def test_phases_and_drops_follow_the_learning_rate() -> None:
    assert lr_drops(LR).tolist() == [11, 21]
    assert lr_phases(LR) == [(1, 10), (11, 20), (21, 30)]


def test_smoothing_stays_within_phases() -> None:
    values = np.arange(1, EPOCHS + 1, dtype=np.float64) ** 2
    smoothed = smooth_within_phases(values, LR, window=3)
    assert smoothed[4] == pytest.approx((16 + 25 + 36) / 3)
    assert smoothed[9] == pytest.approx((81 + 100) / 2), "epoch 10 must not average in epoch 11"
    assert smoothed[10] == pytest.approx((121 + 144) / 2), "epoch 11 must not average in epoch 10"
    assert np.array_equal(smooth_within_phases(values, LR, window=1), values)
    with pytest.raises(ValueError):
        smooth_within_phases(values, LR, window=2)


def test_runs_of_keeps_long_enough_stretches() -> None:
    mask = [False, True, True, False, True, False, True, True, True]
    assert runs_of(mask, "x", min_epochs=2) == [Regime("x", 2, 3), Regime("x", 7, 9)]
    assert runs_of(mask, "x", min_epochs=1)[1] == Regime("x", 5, 5)


def test_regimes_are_found_where_they_were_constructed() -> None:
    regimes = find_regimes(**constructed_curves(), window=1, min_epochs=2)
    by_kind = {kind: [(r.first, r.last) for r in regimes if r.kind == kind] for kind in (OVERFITTING, RECOVERY, ACCURACY_UP_LOSS_UP)}
    assert by_kind[OVERFITTING] == [(6, 10), (14, 20), (23, 30)]
    assert by_kind[RECOVERY] == [(11, 13), (21, 22)]
    assert by_kind[ACCURACY_UP_LOSS_UP] == [(14, 20), (23, 30)]


def test_smoothing_removes_noise_but_keeps_the_regimes() -> None:
    curves = constructed_curves()
    wiggle = 0.03 * np.where(np.arange(EPOCHS) % 2 == 0, 1.0, -1.0)  # alternating, steeper than the rises
    noisy: Curves = {**curves, "val_loss": curves["val_loss"] + wiggle}
    raw = find_regimes(**noisy, window=1, min_epochs=2)
    assert not [r for r in raw if r.kind == OVERFITTING], "unsmoothed, the wiggle hides every rise"
    smoothed = find_regimes(**noisy, window=3, min_epochs=2)
    overfitting = [(r.first, r.last) for r in smoothed if r.kind == OVERFITTING]
    assert len(overfitting) == 3
    for (first, last), (true_first, true_last) in zip(overfitting, [(6, 10), (14, 20), (23, 30)]):
        assert abs(first - true_first) <= 1 and last == true_last
    recoveries = [(r.first, r.last) for r in smoothed if r.kind == RECOVERY]
    assert [first for first, _ in recoveries] == [11, 21]
    assert all(abs(last - true_last) <= 1 for (_, last), true_last in zip(recoveries, [13, 22]))


def test_record_regimes_judge_overfitting_by_the_clean_training_loss() -> None:
    curves = constructed_curves()
    columns = {name: [1.0] * EPOCHS for name in HISTORY_FIELDS}
    columns.update(epoch=list(range(1, EPOCHS + 1)), lr=list(LR), train_loss=list(curves["train_loss"]),
                   train_eval_loss=list(curves["train_loss"]), val_loss=list(curves["val_loss"]), val_acc=list(curves["val_acc"]))
    overfitting = [(r.first, r.last) for r in find_record_regimes(History.from_columns(columns), window=1) if r.kind == OVERFITTING]
    assert overfitting == [(6, 10), (14, 20), (23, 30)]
    # The clean training loss rising with the validation loss (large-step noise) is no overfitting,
    # whatever the running training loss does.
    columns["train_eval_loss"] = list(curves["val_loss"] - 0.2)
    assert not [r for r in find_record_regimes(History.from_columns(columns), window=1) if r.kind == OVERFITTING]


def test_a_drop_that_does_not_help_is_no_recovery() -> None:
    curves = constructed_curves()
    curves["val_loss"][10] = curves["val_loss"][9] + 0.01  # epoch 11 above epoch 10
    assert [r.first for r in find_regimes(**curves, window=1) if r.kind == RECOVERY] == [21]


# --- the loss decomposition ----------------------------------------------------------------


def test_group_contributions_sum_exactly_to_the_change_of_mean_loss() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    loss_from, loss_to = rng.exponential(0.7, n), rng.exponential(0.8, n)
    correct_from, correct_to = rng.random(n) < 0.7, rng.random(n) < 0.75
    change = loss_change_by_group(loss_from, loss_to, correct_from, correct_to)
    assert math.fsum(change.contribution) == pytest.approx(loss_to.mean() - loss_from.mean(), abs=1e-14)
    assert change.total == pytest.approx(loss_to.mean() - loss_from.mean(), abs=1e-15)
    assert change.count.sum() == n
    assert change.accuracy_from == correct_from.mean() and change.accuracy_to == correct_to.mean()


def test_each_example_lands_in_its_group() -> None:
    # became right, became wrong, right surer, right less sure, wrong more wrong, wrong less wrong, right unchanged
    loss_from = np.array([2.0, 0.3, 0.2, 0.2, 1.5, 3.0, 0.4])
    loss_to = np.array([0.5, 1.2, 0.1, 0.35, 4.0, 2.0, 0.4])
    correct_from = np.array([False, True, True, True, False, False, True])
    correct_to = np.array([True, False, True, True, False, False, True])
    change = loss_change_by_group(loss_from, loss_to, correct_from, correct_to)
    assert change.group.tolist() == [0, 1, 2, 3, 4, 5, 3]
    assert change.count.tolist() == [1, 1, 1, 2, 1, 1]
    np.testing.assert_allclose(change.contribution * 7, [-1.5, 0.9, -0.1, 0.15, 2.5, -1.0], atol=1e-12)
    np.testing.assert_allclose(change.mean_change, [-1.5, 0.9, -0.1, 0.075, 2.5, -1.0], atol=1e-12)
    assert len(LOSS_CHANGE_GROUPS) == 6


def test_worst_share_of_change_can_exceed_the_whole_rise() -> None:
    # 98 examples improve by 0.01 each; the worst 2 (largest final loss) rise by 1.0 each.
    loss_from = np.concatenate([np.full(98, 0.5), [1.0, 2.0]])
    loss_to = np.concatenate([np.full(98, 0.49), [2.0, 3.0]])
    total = loss_to.sum() - loss_from.sum()
    assert worst_share_of_change(loss_from, loss_to, fraction=0.02) == pytest.approx(2.0 / total)
    assert worst_share_of_change(loss_from, loss_to, fraction=0.02) > 1
    assert worst_share_of_change(loss_from, loss_to, fraction=0.01) == pytest.approx(1.0 / total)


# --- a constructed record ------------------------------------------------------------------


def make_record(epochs: int = 6, n: int = 400, milestones: tuple[int, ...] = (3,), seed: int = 0) -> CifarRecord:
    """A record whose losses and predictions are drawn at random; the history follows from them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    val_loss = rng.exponential(0.6, (epochs, n)).astype(np.float16).astype(np.float32)
    correct = np.exp(-val_loss) > rng.uniform(0.05, 0.6, (epochs, n))
    val_pred = np.where(correct, labels, (labels + 1 + rng.integers(0, 9, (epochs, n))) % 10)
    e = np.arange(1, epochs + 1)
    columns = {name: list(rng.uniform(0.5, 2.0, epochs)) for name in HISTORY_FIELDS}
    columns.update(
        epoch=e.tolist(),
        lr=[0.1 * 0.2 ** sum(m < k for m in milestones) for k in e],
        val_loss=val_loss.astype(np.float64).mean(axis=1).tolist(),
        val_acc=(val_pred == labels).mean(axis=1).tolist(),
    )
    positions = np.array([3, 7, 11, 19])
    return CifarRecord(
        settings={
            "epochs": epochs, "lr": 0.1, "milestones": list(milestones), "lr_decay": 0.2, "momentum": 0.9,
            "nesterov": True, "weight_decay": 0.0, "batch_size": 128, "width": 16, "crop_padding": 4, "hflip": True,
            "train_size": 5000, "val_size": None, "seed": 0,
        },
        metadata={
            "commit": "abc123", "commit_dirty": False, "device": {"type": "cpu", "name": "a CPU (2 threads)"},
            "torch_version": "2.13.0", "wall_seconds": 120.0,
            "dataset": {"name": "CIFAR-10", "source": "x.tar.gz", "layout": "image-folder", "sha256": "f" * 64,
                        "description": "a JPEG copy"},
        },
        classes=CIFAR10_CLASSES,
        epochs_planned=epochs,
        history=History.from_columns(columns),
        val_labels=labels,
        val_source_index=np.arange(n),
        train_source_index=np.arange(n),
        train_eval_source_index=np.arange(n),
        calibration_fit_mask=np.arange(n) % 2 == 0,
        val_loss=val_loss,
        val_pred=val_pred,
        logit_epochs=(),
        val_logits=np.zeros((0, n, 10), np.float32),
        thumbnail_reference_epoch=2,
        thumbnails=Thumbnails(
            rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), positions,
            np.array(["confidently_wrong", "confidently_wrong", "turned_right", "random"]),
        ),
    )


def test_record_loss_change_matches_the_record() -> None:
    record = make_record()
    change = record_loss_change(record, 2, 5)
    assert change.mean_loss_to - change.mean_loss_from == pytest.approx(
        record.val_loss[4].astype(np.float64).mean() - record.val_loss[1].astype(np.float64).mean(), abs=1e-15
    )
    assert math.fsum(change.contribution) == pytest.approx(change.total, abs=1e-14)
    assert change.accuracy_to == pytest.approx(record.history.val_acc[4], abs=0)


def test_drop_effects_count_crossings_at_each_drop() -> None:
    record = make_record(epochs=8, milestones=(3, 6))
    effects = drop_effects(record, baseline=3)
    assert [effect.drop for effect in effects] == [4, 7]
    correct = record.val_correct

    def crossings(epoch_from: int, epoch_to: int) -> np.ndarray:
        before, after = correct[epoch_from - 1], correct[epoch_to - 1]
        return np.array([(~before & after).sum(), (before & ~after).sum()])

    first = effects[0]
    assert [first.became_right, first.became_wrong] == crossings(3, 4).tolist()
    assert first.lr_before == pytest.approx(0.1) and first.lr_after == pytest.approx(0.02)
    # Usual pairs before the drop at 4, inside the first phase: (1, 2) and (2, 3).
    np.testing.assert_array_equal(first.usual_count[:2], (crossings(1, 2) + crossings(2, 3)) / 2)
    # Before the drop at 7 the phase is epochs 4-6: pairs (4, 5) and (5, 6).
    second = effects[1]
    np.testing.assert_array_equal(second.usual_count[:2], (crossings(4, 5) + crossings(5, 6)) / 2)
    assert second.change.total == record_loss_change(record, 6, 7).total
    usual = (record_loss_change(record, 4, 5).contribution + record_loss_change(record, 5, 6).contribution) / 2
    np.testing.assert_allclose(second.usual_contribution, usual, atol=1e-15)


def test_train_loss_gap_recovers_a_constructed_lag_and_augmentation() -> None:
    # The clean training loss falls linearly by 0.1 an epoch, so the running mean over an epoch
    # sits 0.05 above its end (the lag); augmentation and train mode add 0.3 on top of that.
    epochs = 6
    clean = 2.0 - 0.1 * np.arange(1, epochs + 1)
    running = clean + 0.05 + 0.3
    val_loss = np.array([2.5, 2.2, 1.9, 1.65, 1.45, 1.45])
    columns = {name: [1.0] * epochs for name in HISTORY_FIELDS}
    columns.update(epoch=list(range(1, epochs + 1)), train_loss=list(running), train_eval_loss=list(clean), val_loss=list(val_loss))
    gap = train_loss_gap(History.from_columns(columns))
    assert math.isnan(gap.lag[0])
    np.testing.assert_allclose(gap.gap, 0.35, atol=1e-12)
    np.testing.assert_allclose(gap.lag[1:], 0.05, atol=1e-12)
    np.testing.assert_allclose(gap.augmentation_and_mode[1:], 0.3, atol=1e-12)
    # The running training loss (clean + 0.35) is above validation from epoch 3 on; the clean one
    # is below it except at epoch 5.
    assert gap.train_above_val.tolist() == [False, False, True, True, True, True]
    assert gap.clean_train_below_val.tolist() == [True, True, True, True, False, True]


def test_scaling_effect_share_undone() -> None:
    history = make_record().history
    effect = scaling_effect(history, 2, 5)
    raw = history.val_heldout_loss[4] - history.val_heldout_loss[1]
    scaled = history.val_heldout_loss_scaled[4] - history.val_heldout_loss_scaled[1]
    assert effect.share_undone == pytest.approx(1 - scaled / raw)
    assert effect.temperature_to == history.temperature[4]


def test_checkpoint_choices_pick_the_best_epoch_of_each_metric() -> None:
    history = make_record(epochs=10).history
    choices = {choice.rule: choice for choice in checkpoint_choices(history)}
    assert choices["lowest validation loss"].epoch == int(np.argmin(history.val_loss)) + 1
    assert choices["highest validation accuracy"].epoch == int(np.argmax(history.val_acc)) + 1
    assert choices["lowest loss after temperature scaling"].epoch == int(np.argmin(history.val_heldout_loss_scaled)) + 1
    assert choices["last epoch"].epoch == 10
    assert choices["lowest validation loss"].loss_cost == 0 and choices["highest validation accuracy"].accuracy_cost == 0
    assert choices["lowest loss after temperature scaling"].scaled_loss_cost == 0
    for choice in choices.values():
        assert choice.loss_cost >= 0 and choice.accuracy_cost >= 0 and choice.scaled_loss_cost >= 0
        assert choice.accuracy_cost == pytest.approx(history.val_acc.max() - choice.val_acc)


def test_probability_bins_put_p_equal_one_in_the_last_bin() -> None:
    assert probability_bin([0.0, 0.049, 0.05, 0.5, 0.999, 1.0], bins=20).tolist() == [0, 0, 1, 10, 19, 19]


def test_epoch_histograms_and_readouts_agree_with_the_per_example_record() -> None:
    record = make_record()
    histograms = epoch_histograms(record)
    for epoch in (1, 4, 6):
        readouts = epoch_readouts(record, epoch)
        row = epoch - 1
        assert np.array_equal(histograms.right_count[row], readouts.right_count)
        assert np.array_equal(histograms.wrong_count[row], readouts.wrong_count)
        assert readouts.right_count.sum() + readouts.wrong_count.sum() == len(record.val_labels)
        assert readouts.accuracy == pytest.approx(record.history.val_acc[row], abs=0)
        total = histograms.right_loss[row].sum() + histograms.wrong_loss[row].sum()
        assert readouts.mean_loss == pytest.approx(total / len(record.val_labels), abs=1e-12)
        assert readouts.wrong_loss_share == pytest.approx(histograms.wrong_loss[row].sum() / total, abs=1e-12)
        assert readouts.worst_share == worst_share(record.val_loss[row], 0.01)
        assert readouts.temperature == record.history.temperature[row]


def test_example_changes_read_the_thumbnails() -> None:
    record = make_record()
    rows = example_changes(record, "confidently_wrong", 2, 6, count=5)
    assert len(rows) == 2
    i = 7
    assert rows[1].true_class == CIFAR10_CLASSES[record.val_labels[i]]
    assert rows[1].predicted_to == CIFAR10_CLASSES[record.val_pred[5, i]]
    assert rows[1].prob_from == pytest.approx(float(np.exp(-record.val_loss[1, i])))
    assert np.array_equal(rows[1].image, record.thumbnails.images[1])


def test_describe_run_reads_the_metadata() -> None:
    description = describe_run(make_record())
    rows = dict(description.rows())
    assert rows["device"] == "a CPU (2 threads) (cpu)"
    assert rows["data sha256"] == "f" * 64
    assert "a JPEG copy" in rows["data"]
    assert rows["code"] == "commit abc123"
    assert rows["training time"] == "2.0 minutes"
    assert not description.full_gpu_run


# --- which record the book shows -------------------------------------------------------------


def write_summary(
    folder: Path, device: str, planned: int, recorded: int, train_size: int | None = None, label_smoothing: float = 0.0
) -> None:
    folder.mkdir(parents=True)
    summary = {"metadata": {"device": {"type": device}}, "epochs_planned": planned, "epochs_recorded": recorded,
               "complete": planned == recorded, "settings": {"train_size": train_size, "label_smoothing": label_smoothing}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_book_record_prefers_the_full_gpu_run(tmp_path: Path) -> None:
    write_summary(tmp_path / "cpu-laptop", "cpu", 24, 24)
    assert book_record(tmp_path) == tmp_path / "cpu-laptop"
    write_summary(tmp_path / "gpu-partial", "cuda", 200, 150)
    assert book_record(tmp_path) == tmp_path / "cpu-laptop", "an unfinished GPU run does not replace a finished one"
    write_summary(tmp_path / "gpu-short", "cuda", 30, 30)
    assert book_record(tmp_path) == tmp_path / "gpu-short", "complete runs: the longer wins"
    write_summary(tmp_path / "gpu-recipe", "cuda", 200, 200)
    assert book_record(tmp_path) == tmp_path / "gpu-recipe"


def test_book_record_prefers_the_full_recipe_then_all_training_images_then_the_laptop_subset(tmp_path: Path) -> None:
    write_summary(tmp_path / "cpu-laptop", "cpu", 50, 50, train_size=2_000)
    write_summary(tmp_path / "cpu-full", "cpu", 40, 40)
    assert book_record(tmp_path) == tmp_path / "cpu-full", "all 50,000 images beat a longer run on a subset"
    write_summary(tmp_path / "cpu-full-unfinished", "cpu", 80, 60)
    assert book_record(tmp_path) == tmp_path / "cpu-full", "a finished run beats an unfinished one"
    write_summary(tmp_path / "gpu-recipe", "cuda", 200, 200)
    assert book_record(tmp_path) == tmp_path / "gpu-recipe"


def test_book_record_shows_the_plain_loss_run_beside_its_label_smoothing_twin(tmp_path: Path) -> None:
    write_summary(tmp_path / "cpu-laptop", "cpu", 50, 50, train_size=2_000)
    write_summary(tmp_path / "cpu-laptop-label-smoothing", "cpu", 50, 50, train_size=2_000, label_smoothing=0.1)
    assert book_record(tmp_path) == tmp_path / "cpu-laptop", "a smoothed training loss has another scale"
    write_summary(tmp_path / "cpu-full-label-smoothing", "cpu", 60, 60, label_smoothing=0.1)
    assert book_record(tmp_path) == tmp_path / "cpu-laptop"


def test_book_record_needs_a_record(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordError):
        book_record(tmp_path)


def test_epoch_explorer_ships_the_histograms_and_stays_small() -> None:
    from lossacc.explorers import EpochExplorer

    record = make_record(epochs=6, n=2000)
    data = EpochExplorer.from_record(record, start_epoch=3).data
    histograms = epoch_histograms(record)
    assert data["start"] == 3 and data["n"] == 2000 and data["drops"] == [4]
    assert data["right_count"] == histograms.right_count.tolist()
    np.testing.assert_allclose(data["wrong_loss"], histograms.wrong_loss, atol=5e-4)
    readouts = epoch_readouts(record, 5)
    assert sum(data["right_count"][4]) / data["n"] == readouts.accuracy
    assert data["worst_share"][4] == pytest.approx(readouts.worst_share, abs=1e-6)
    per_epoch = len(json.dumps(data, allow_nan=False)) / 6
    assert per_epoch < 800, "200 epochs must stay well under the page budget of 300 kB"


def test_half_split_choices_pick_on_one_half_and_read_the_other() -> None:
    import pandas as pd

    record = make_record(epochs=8, milestones=(3, 6), seed=3)
    frame = pd.DataFrame(
        {
            "epoch": np.repeat(np.arange(1, 9), record.val_loss.shape[1]),
            "half": np.tile(np.where(record.calibration_fit_mask, "fit", "held-out"), 8),
            "loss": record.val_loss.astype(np.float64).ravel(),
            "correct": record.val_correct.ravel(),
        }
    )
    means = frame.groupby(["half", "epoch"]).mean()
    by_rule = {choice.rule: choice for choice in half_split_choices(record)}
    loss, accuracy = by_rule["lowest validation loss"], by_rule["highest validation accuracy"]
    assert loss.epoch == means.loc["fit", "loss"].idxmin()
    assert loss.heldout_value == pytest.approx(means.loc[("held-out", loss.epoch), "loss"], rel=1e-12)
    assert loss.heldout_best_epoch == means.loc["held-out", "loss"].idxmin()
    assert accuracy.epoch == means.loc["fit", "correct"].idxmax()
    assert accuracy.selection_value == pytest.approx(means.loc["fit", "correct"].max(), rel=1e-12)
    assert accuracy.heldout_best_value == pytest.approx(means.loc["held-out", "correct"].max(), rel=1e-12)
    assert loss.optimism >= 0 and accuracy.optimism >= 0
    assert loss.optimism == pytest.approx(loss.heldout_value - loss.heldout_best_value, abs=1e-15)


def test_averaging_tests_average_probabilities_over_the_epochs_before_each_drop() -> None:
    from scipy.special import logsumexp

    record = make_record(epochs=8, milestones=(3, 6), seed=4)
    tests = averaging_tests(record, window=2)
    assert [(t.drop, t.window) for t in tests] == [(4, 2), (7, 2)]
    log_p = -record.val_loss.astype(np.float64)
    # Drop at 7: the models of epochs 5 and 6; -ln of their mean probability, via logsumexp.
    expected = -(logsumexp(log_p[4:6], axis=0) - np.log(2)).mean()
    assert tests[1].loss_averaged == pytest.approx(expected, rel=1e-12)
    assert tests[1].loss_before == pytest.approx(record.val_loss[5].astype(np.float64).mean(), rel=1e-12)
    assert tests[1].loss_after == pytest.approx(record.val_loss[6].astype(np.float64).mean(), rel=1e-12)
    # A window longer than the phase stops at its first epoch: the drop at 4 averages epochs 1-3.
    assert averaging_tests(record, window=10)[0].window == 3
    # Averaging probabilities never costs loss against the worst of the window (ln is concave).
    assert tests[1].loss_averaged <= max(record.val_loss[4:6].astype(np.float64).mean(axis=1)) + 1e-12
    with pytest.raises(ValueError, match="window"):
        averaging_tests(record, window=0)
    # One epoch averaged is that epoch; epochs outside the run are refused.
    assert averaged_loss(record, 5, 5) == pytest.approx(record.val_loss[4].astype(np.float64).mean(), rel=1e-12)
    with pytest.raises(ValueError, match="not within"):
        averaged_loss(record, 7, 9)


def test_drop_and_regime_tables_show_the_effects() -> None:
    record = make_record(epochs=8, milestones=(3, 6))
    effects = drop_effects(record, baseline=3)
    frame = drop_table(effects)
    assert frame.columns.tolist() == ["drop after epoch 3", "drop after epoch 6"]
    first = frame["drop after epoch 3"]
    assert first["learning rate"] == "0.1 → 0.02"
    assert [first["became right"], first["became wrong"]] == [effects[0].became_right, effects[0].became_wrong]
    assert first["net"] == first["became right"] - first["became wrong"] and isinstance(first["net"], int)
    assert first["usual epoch: net"] == pytest.approx(effects[0].usual_count[0] - effects[0].usual_count[1])
    assert first["mean val. loss after"] == pytest.approx(record.val_loss[3].mean())
    regimes = find_record_regimes(record.history, window=1, min_epochs=1)
    rows = regime_table(regimes)
    assert list(rows.itertuples(index=False, name=None)) == [(r.kind, r.first, r.last) for r in regimes]


def test_choice_and_loss_change_tables() -> None:
    record = make_record(epochs=10)
    history = record.history
    choices = [*checkpoint_choices(history), choice_at(history, "epoch 2", 2)]
    frame = choice_table(choices)
    assert frame.columns.tolist()[-1] == "epoch 2" and frame.loc["epoch", "epoch 2"] == 2
    assert table(frame, ".4f").data.loc["epoch"].map(type).eq(int).all()  # shown as 2, not 2.0000
    assert frame.loc["val. loss", "epoch 2"] == history.val_loss[1]
    assert frame.loc["loss given up", "epoch 2"] == pytest.approx(history.val_loss[1] - history.val_loss.min())
    assert frame.loc["accuracy given up", "highest validation accuracy"] == 0
    # The best gives up nothing: its cell reads 0, not 0.0000 (a rounded amount).
    rendered = table(frame, ".4f", index=True).to_html()
    given_up = re.search(r"<td[^>]*>accuracy given up</td>(.*?)</tr>", rendered, re.S)
    assert given_up is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", given_up.group(1))
    assert cells[frame.columns.get_loc("highest validation accuracy")] == "0"
    change = record_loss_change(record, 3, 4)
    groups = loss_change_table(change)
    assert groups.index.tolist() == [*LOSS_CHANGE_GROUPS, "all"]
    assert groups.loc["all", "images"] == groups["images"].drop("all").sum() == len(change.group)
    assert groups["contribution"].drop("all").sum() == pytest.approx(groups.loc["all", "contribution"], abs=1e-12)
    # A group's contribution is its mean change times its share of the images.
    filled = groups.drop("all")[groups.drop("all")["images"] > 0]
    np.testing.assert_allclose(
        (filled["mean Δℓ"] * filled["images"] / len(change.group)).astype(float), filled["contribution"].astype(float), rtol=1e-9
    )
