"""The run record: round trip, size budget, thumbnail choice, and the loader's checks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc.cifar.data import CIFAR10_CLASSES
from lossacc.cifar.record import (
    ARRAYS_FILE,
    HISTORY_FIELDS,
    MAX_FILE_BYTES,
    SUMMARY_FILE,
    CifarRecord,
    History,
    RecordError,
    Thumbnails,
    choose_thumbnails,
    load_record,
    write_record,
)


def make_record(epochs: int, n: int, logit_epochs: tuple[int, ...], seed: int = 0) -> CifarRecord:
    """A self-consistent record of random logits, built with torch (independently of the trainer)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    val_loss = np.empty((epochs, n), np.float16)
    val_pred = np.empty((epochs, n), np.int64)
    kept: list[np.ndarray] = []
    columns: dict[str, list[float]] = {name: list(rng.random(epochs)) for name in HISTORY_FIELDS}
    for row in range(epochs):
        logits = rng.normal(0, 1 + row / 10, size=(n, 10)).astype(np.float32)
        losses = F.cross_entropy(
            torch.tensor(logits, dtype=torch.float64), torch.tensor(labels), reduction="none"
        ).numpy()
        val_loss[row], val_pred[row] = losses, logits.argmax(axis=1)
        columns["val_loss"][row], columns["val_acc"][row] = (
            float(losses.mean()),
            float((val_pred[row] == labels).mean()),
        )
        if row + 1 in logit_epochs:
            kept.append(logits)
    columns["epoch"] = list(range(1, epochs + 1))
    positions, groups, reference = choose_thumbnails(val_loss, val_pred, labels, 4, seed)
    return CifarRecord(
        settings={"epochs": epochs},
        metadata={"commit": None, "device": {"type": "cpu"}},
        classes=CIFAR10_CLASSES,
        epochs_planned=epochs,
        history=History.from_columns(columns),
        val_labels=labels,
        val_source_index=np.arange(n),
        train_source_index=np.arange(3 * n),
        train_eval_source_index=np.arange(n),
        calibration_fit_mask=np.arange(n) % 2 == 0,
        val_loss=val_loss,
        val_pred=val_pred,
        logit_epochs=logit_epochs,
        val_logits=np.stack(kept),
        thumbnail_reference_epoch=reference,
        thumbnails=Thumbnails(
            rng.integers(0, 256, size=(len(positions), 32, 32, 3), dtype=np.uint8), positions, groups
        ),
    )


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    record = make_record(epochs=5, n=300, logit_epochs=(1, 3, 5))
    write_record(tmp_path, record)
    loaded = load_record(tmp_path)
    assert (
        loaded.settings == record.settings and loaded.metadata == record.metadata and loaded.classes == record.classes
    )
    for name in HISTORY_FIELDS:
        assert np.array_equal(getattr(loaded.history, name), getattr(record.history, name))
    assert loaded.val_loss.dtype == np.float32 and np.array_equal(loaded.val_loss, record.val_loss.astype(np.float32))
    assert np.array_equal(loaded.val_pred, record.val_pred) and np.array_equal(loaded.val_labels, record.val_labels)
    assert np.array_equal(loaded.logits_at(3), record.val_logits[1])
    assert np.array_equal(loaded.thumbnails.images, record.thumbnails.images)
    assert list(loaded.thumbnails.group) == list(record.thumbnails.group)
    assert loaded.complete and loaded.epochs_recorded == 5
    assert np.allclose(loaded.true_class_prob, np.exp(-record.val_loss.astype(np.float64)), rtol=1e-6)
    with pytest.raises(KeyError, match="no logits kept for epoch 2"):
        loaded.logits_at(2)
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["arrays"]["val_loss"] == {"dtype": "float16", "shape": [5, 300]}
    assert summary["arrays"]["val_pred"] == {"dtype": "int8", "shape": [5, 300]}
    assert summary["arrays"]["val_logits"] == {"dtype": "float32", "shape": [3, 300, 10]}


@pytest.mark.slow  # writes a 200-epoch record
def test_a_full_run_fits_the_size_budget(tmp_path: Path) -> None:
    # 200 epochs x 10,000 images of random (incompressible) values: the worst case.
    record = make_record(epochs=200, n=10_000, logit_epochs=(1, 30, 60, 61, 90, 120, 121, 140, 160, 161, 180, 200))
    write_record(tmp_path, record)
    assert (tmp_path / ARRAYS_FILE).stat().st_size < MAX_FILE_BYTES
    assert (tmp_path / SUMMARY_FILE).stat().st_size < MAX_FILE_BYTES


def test_thumbnails_pick_the_examples_the_chapter_discusses() -> None:
    labels = np.zeros(6, np.int64)
    # Epoch 2 has the least mean loss. Example 0 turns wrong and confident, 1 turns wrong mildly,
    # 2 turns right, 3 and 4 stay right, 5 stays wrong and gets less wrong.
    losses = np.array([[1.0, 1.0, 3.0, 0.5, 0.5, 4.0], [0.5, 0.5, 2.0, 0.1, 0.1, 3.0], [6.0, 1.5, 0.2, 0.1, 0.1, 2.0]])
    wrong = np.array([[0, 0, 1, 0, 0, 1], [0, 0, 1, 0, 0, 1], [1, 1, 0, 0, 0, 1]], bool)
    predicted = np.where(wrong, 1, 0)
    positions, groups, reference = choose_thumbnails(losses, predicted, labels, per_group=2, seed=0)
    assert reference == 2
    assert list(positions[groups == "confidently_wrong"]) == [0, 1]
    assert list(positions[groups == "turned_right"]) == [2]
    assert set(positions[groups == "random"]) <= {3, 4, 5} and len(positions[groups == "random"]) == 2


def write_broken(tmp_path: Path, edit_summary: object = None, edit_arrays: object = None) -> Path:
    write_record(tmp_path, make_record(epochs=3, n=50, logit_epochs=(1, 3)))
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    if callable(edit_summary):
        edit_summary(summary)
    (tmp_path / SUMMARY_FILE).write_text(json.dumps(summary))
    if callable(edit_arrays):
        with np.load(tmp_path / ARRAYS_FILE) as stored:
            arrays = dict(stored)
        edit_arrays(arrays)
        np.savez_compressed(tmp_path / ARRAYS_FILE, **arrays)
    return tmp_path


@pytest.mark.parametrize(
    ("edit_summary", "edit_arrays", "message"),
    [
        (lambda s: s.update(format="something-else"), None, "is not a lossacc-cifar-record summary"),
        (lambda s: s.update(version=99), None, "record version 99"),
        (lambda s: s.pop("logit_epochs"), None, "lacks logit_epochs"),
        (None, lambda a: a.pop("val_pred"), "lacks arrays.npz:val_pred"),
        (None, lambda a: a.update(val_pred=a["val_pred"].astype(np.int64)), "array val_pred: stored int64"),
        (lambda s: s["history"]["val_acc"].__setitem__(1, 0.99), None, "val_acc in the history does not match"),
        (lambda s: s["history"]["val_loss"].__setitem__(0, 9.0), None, "val_loss in the history does not match"),
        (lambda s: s["history"].pop("temperature"), None, "history lacks temperature"),
        (lambda s: s.update(logit_epochs=[1, 2]), None, "logits of epoch 2 do not give val_pred"),
        (lambda s: s.update(epochs_recorded=2), None, "summary says 2 epochs, history has 3"),
    ],
)
def test_loader_refuses_inconsistent_records(
    tmp_path: Path, edit_summary: object, edit_arrays: object, message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        load_record(write_broken(tmp_path, edit_summary, edit_arrays))


def test_loader_refuses_a_folder_without_a_record(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot read the record"):
        load_record(tmp_path)


def test_writer_refuses_an_inconsistent_record(tmp_path: Path) -> None:
    record = make_record(epochs=3, n=50, logit_epochs=(1, 3))
    with pytest.raises(RecordError, match="predicted classes outside"):
        write_record(tmp_path, replace(record, val_pred=record.val_pred + 10))
    assert not (tmp_path / SUMMARY_FILE).exists()
