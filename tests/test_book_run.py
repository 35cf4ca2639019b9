"""The run the book reads is in the reader's regime, found by code on the committed record."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from lossacc.cifar.record import CifarRecord, load_record
from lossacc.run_analysis import (
    ACCURACY_UP_LOSS_UP,
    OVERFITTING,
    RECOVERY,
    book_record,
    find_record_regimes,
    lr_drops,
)


@pytest.fixture(scope="module")
def record() -> CifarRecord:
    return load_record(book_record(ROOT / "records"))


def test_the_book_reads_a_clean_run_on_all_training_images(record: CifarRecord) -> None:
    assert record.settings["train_size"] is None, "the book's run trains on all 50,000 images"
    assert len(record.train_source_index) == 50_000 and len(record.val_labels) == 10_000
    assert record.metadata["commit_dirty"] is False and record.metadata["commit"]
    assert record.epochs_recorded == record.epochs_planned


def test_the_run_reaches_the_readers_accuracy_and_fits_its_training_images(record: CifarRecord) -> None:
    history = record.history
    assert history.val_acc[-1] >= 0.85
    last_phase = history.epoch >= lr_drops(history.lr)[-1]
    # The width-16 model does not memorise its 50,000 augmented images in 50 epochs (the record
    # of the recipe would): clean training accuracy ends near 96%, well above validation's.
    assert history.train_eval_acc[last_phase].max() >= 0.95
    assert history.train_eval_acc[-1] - history.val_acc[-1] >= 0.05


def test_the_run_shows_every_regime_of_the_question(record: CifarRecord) -> None:
    regimes = find_record_regimes(record.history)
    kinds = {regime.kind for regime in regimes}
    assert {OVERFITTING, RECOVERY, ACCURACY_UP_LOSS_UP} <= kinds
    drops = lr_drops(record.history.lr)
    loss = record.history.val_loss
    assert any(loss[d - 1] < loss[d - 2] for d in drops), "a learning-rate drop brings the validation loss down"
    assert np.argmin(loss) + 1 < record.epochs_recorded
