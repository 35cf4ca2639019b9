"""Per-class curves and shares of a loss change, cross-checked against torch on the book's record."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from lossacc.cifar.record import CifarRecord, load_record
from lossacc.per_class import (
    LOSS_DOWN,
    LOSS_UP_ACCURACY_DOWN,
    LOSS_UP_ACCURACY_UP,
    class_rise,
    confusion_matrix,
    most_confused_with,
    per_class_curves,
    rank_correlation,
    record_class_rise,
    record_per_class_curves,
    rise_shares,
)
from lossacc.run_analysis import book_record

CLASSES = ("a", "b", "c")


@pytest.fixture(scope="module")
def record() -> CifarRecord:
    return load_record(book_record(ROOT / "records"))


def test_per_class_means_by_hand() -> None:
    loss = np.array([[1.0, 3.0, 2.0, 4.0, 0.5]])
    correct = np.array([[True, False, True, True, False]])
    labels = np.array([0, 0, 1, 1, 2])
    curves = per_class_curves(loss, correct, labels, CLASSES)
    assert np.allclose(curves.loss, [[2.0, 3.0, 0.5]]) and np.allclose(curves.accuracy, [[0.5, 1.0, 0.0]])
    assert curves.count.tolist() == [2, 2, 1]


def test_shares_add_up_and_verdicts_follow_the_signs() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    after = np.array([2.0, 1.0, 1.5, 1.5, 0.5, 0.5])  # changes +1, 0, +0.5, +0.5, -0.5, -0.5
    right_before = np.array([True, False, True, True, True, False])
    right_after = np.array([True, True, True, False, True, True])
    rise = class_rise(before, after, right_before, right_after, labels, CLASSES)
    assert np.allclose(rise.share, [1.0, 1.0, -1.0]) and np.isclose(rise.share.sum(), 1.0)
    assert rise.verdict == [LOSS_UP_ACCURACY_UP, LOSS_UP_ACCURACY_DOWN, LOSS_DOWN]
    assert rise.order.tolist() == [0, 1, 2] and [row[0] for row in rise.rows()] == ["a", "b", "c"]


def test_per_class_loss_matches_torch_cross_entropy_on_the_record(record: CifarRecord) -> None:
    """Independent: torch's cross-entropy on the kept logits, class by class, against the
    per-class means of the stored (float16) per-example losses."""
    curves = record_per_class_curves(record)
    labels = torch.from_numpy(record.val_labels)
    for epoch in record.logit_epochs:
        logits = torch.from_numpy(record.logits_at(epoch)).double()
        for c in range(len(record.classes)):
            mask = labels == c
            expected_loss = F.cross_entropy(logits[mask], labels[mask]).item()
            expected_acc = (logits[mask].argmax(1) == c).double().mean().item()
            assert curves.loss[epoch - 1, c] == pytest.approx(expected_loss, rel=2e-3)
            assert curves.accuracy[epoch - 1, c] == pytest.approx(expected_acc, abs=1e-12)
    # the classes' means, weighted by their counts, are the history's validation loss
    assert np.allclose(curves.loss @ curves.count / curves.count.sum(), record.history.val_loss, rtol=2e-3)


def test_class_shares_of_the_record_sum_to_one_and_match_a_loop(record: CifarRecord) -> None:
    last = record.epochs_recorded
    first = int(np.argmin(record.history.val_loss)) + 1
    rise = record_class_rise(record, first, last)
    change = record.val_loss[last - 1].astype(np.float64) - record.val_loss[first - 1]
    by_loop = [change[record.val_labels == c].sum() / change.sum() for c in range(len(record.classes))]
    assert np.allclose(rise.share, by_loop) and np.isclose(rise.share.sum(), 1.0)
    assert np.allclose(rise_shares(record.val_loss[first - 1], record.val_loss[last - 1], record.val_labels, 10), by_loop)


def test_confusion_matrix_and_partner_against_torch() -> None:
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    matrix = confusion_matrix(labels, predicted, 4)
    expected = torch.zeros(4, 4, dtype=torch.int64).index_put_(
        (torch.from_numpy(labels), torch.from_numpy(predicted)), torch.tensor(1), accumulate=True
    )
    assert np.array_equal(matrix, expected.numpy())
    partner, rate = most_confused_with(np.array([[8, 1, 1], [0, 5, 5], [3, 0, 7]]))
    assert partner.tolist() == [1, 2, 0] and np.allclose(rate, [0.1, 0.5, 0.3])


def test_rank_correlation_is_spearmans() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.permutation(10), rng.permutation(10)
    d = a - b  # permutations of 0..9 are their own ranks
    assert rank_correlation(a, b) == pytest.approx(1 - 6 * np.sum(d**2) / (10 * (10**2 - 1)))
    assert rank_correlation([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
