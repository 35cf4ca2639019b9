"""The record of a CIFAR-10 run: what the book reads, written by the trainer and checked on load.

A record is a folder with two files:

``summary.json``
    ``format`` ("lossacc-cifar-record"), ``version`` (1), ``epochs_planned``,
    ``epochs_recorded``, ``complete``, ``classes``, ``settings`` (every training knob),
    ``metadata`` (commit, device, versions, dataset and its sha256, seed, ``wall_seconds`` (the
    epochs' summed times, without start-up and checkpoint writes), ``sessions`` (one per
    start or resume, with its epochs and machine)),
    ``history`` (one list per :class:`History` field, one value per epoch; ``null`` for a
    non-finite value), ``logit_epochs``, ``thumbnail_reference_epoch`` and ``arrays`` (the
    dtype and shape of every array below).
``arrays.npz`` (compressed; ``E`` epochs recorded, ``n`` validation images, ``K`` classes)
    ``val_labels`` int8 (n,); ``val_source_index`` int32 (n,), positions in the test split;
    ``train_source_index`` int32 (N,) and ``train_eval_source_index`` int32 (M,), positions in
    the training split (splits as loaded: the python release in its official order, an image
    folder sorted by class, then file name); ``calibration_fit_mask`` bool (n,), the half the
    temperature is fitted on; ``val_loss`` float16 (E, n), the loss ``-ln p(y_i | x_i)`` of
    each validation image after each epoch; ``val_pred`` int8 (E, n), its predicted class; ``val_logits`` float32
    (L, n, K) after the epochs in ``logit_epochs``; ``thumbnail_images`` uint8 (T, 32, 32, 3),
    ``thumbnail_val_position`` int32 (T,), ``thumbnail_group`` str (T,).

The per-example loss is stored rather than the true-class probability ``p = exp(-loss)``:
float16 keeps three significant digits of ``-ln p`` at every size, where a float16 ``p``
would round 0.9999 to 1 and 1e-8 to 0. A 200-epoch record of 10,000 images stays near 10 MB.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossacc.cifar.files import atomic_write
from lossacc.metrics import per_example_loss_from_logits

RECORD_FORMAT = "lossacc-cifar-record"
RECORD_VERSION = 1
SUMMARY_FILE = "summary.json"
ARRAYS_FILE = "arrays.npz"
MAX_FILE_BYTES = 16 * 2**20
THUMBNAIL_GROUPS = ("confidently_wrong", "turned_right", "random")

# Storage dtype of every array in arrays.npz ("str" for the unicode group names).
ARRAY_DTYPES: dict[str, str] = {
    "val_labels": "int8",
    "val_source_index": "int32",
    "train_source_index": "int32",
    "train_eval_source_index": "int32",
    "calibration_fit_mask": "bool",
    "val_loss": "float16",
    "val_pred": "int8",
    "val_logits": "float32",
    "thumbnail_images": "uint8",
    "thumbnail_val_position": "int32",
    "thumbnail_group": "str",
}


class RecordError(ValueError):
    """A record folder is missing, unreadable, or inconsistent with itself."""


@dataclass(frozen=True)
class History:
    """Per-epoch scalars, float64 arrays of length ``E`` (``epoch``: int64, counting from 1).

    ``lr``: learning rate during the epoch. ``train_*``: running mean over the epoch's
    augmented batches in train mode. ``train_eval_*``: eval mode, no augmentation, on the fixed
    training subset. ``val_*``: the validation set; ``val_ece`` with 15 bins (settings say).
    ``temperature``: fitted on the calibration half; ``val_heldout_*``: the other half before
    and after dividing the logits by it. ``*_seconds``: training time, and the epoch's total
    time including evaluation. Accuracies are fractions in [0, 1].
    """

    epoch: NDArray[np.int64]
    lr: NDArray[np.float64]
    train_loss: NDArray[np.float64]
    train_acc: NDArray[np.float64]
    train_eval_loss: NDArray[np.float64]
    train_eval_acc: NDArray[np.float64]
    val_loss: NDArray[np.float64]
    val_acc: NDArray[np.float64]
    val_ece: NDArray[np.float64]
    temperature: NDArray[np.float64]
    val_heldout_loss: NDArray[np.float64]
    val_heldout_ece: NDArray[np.float64]
    val_heldout_loss_scaled: NDArray[np.float64]
    val_heldout_ece_scaled: NDArray[np.float64]
    train_seconds: NDArray[np.float64]
    epoch_seconds: NDArray[np.float64]

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[float | None]]) -> History:
        missing = [name for name in HISTORY_FIELDS if name not in columns]
        if missing:
            raise RecordError(f"history lacks {', '.join(missing)}")
        values: dict[str, NDArray[Any]] = {
            name: np.array([math.nan if v is None else v for v in columns[name]], dtype=np.float64)
            for name in HISTORY_FIELDS
        }
        values["epoch"] = values["epoch"].astype(np.int64)
        return cls(**values)

    def columns(self) -> dict[str, list[float | None]]:
        """JSON-ready lists; non-finite values become ``None``."""
        return {name: [v.item() if np.isfinite(v) else None for v in getattr(self, name)] for name in HISTORY_FIELDS}


HISTORY_FIELDS = tuple(f.name for f in fields(History))


@dataclass(frozen=True)
class Thumbnails:
    """Images of chosen validation examples: ``images`` uint8 (T, 32, 32, 3), ``val_position``
    (T,) their column in the per-example arrays, ``group`` (T,) one of ``THUMBNAIL_GROUPS``."""

    images: NDArray[np.uint8]
    val_position: NDArray[np.int64]
    group: NDArray[np.str_]

    def positions(self, group: str) -> NDArray[np.int64]:
        """Validation positions of the thumbnails in ``group``."""
        return self.val_position[self.group == group]


@dataclass(frozen=True)
class CifarRecord:
    """A run's record in memory; :func:`load_record` returns one, :func:`write_record` saves one.

    Per-example arrays are ``(epoch - 1, validation position)``: ``val_loss[e - 1, i]`` is
    ``-ln p(y_i | x_i)`` after epoch ``e`` (float32 on load), ``val_pred`` the predicted class.
    """

    settings: dict[str, Any]
    metadata: dict[str, Any]
    classes: tuple[str, ...]
    epochs_planned: int
    history: History
    val_labels: NDArray[np.int64]
    val_source_index: NDArray[np.int64]
    train_source_index: NDArray[np.int64]
    train_eval_source_index: NDArray[np.int64]
    calibration_fit_mask: NDArray[np.bool_]
    val_loss: NDArray[np.floating]
    val_pred: NDArray[np.int64]
    logit_epochs: tuple[int, ...]
    val_logits: NDArray[np.float32]
    thumbnail_reference_epoch: int
    thumbnails: Thumbnails

    @property
    def epochs_recorded(self) -> int:
        return len(self.history.epoch)

    @property
    def complete(self) -> bool:
        return self.epochs_recorded == self.epochs_planned

    @property
    def true_class_prob(self) -> NDArray[np.float32]:
        """``p(y_i | x_i) = exp(-loss)``, shape (E, n)."""
        return np.exp(-self.val_loss)

    @property
    def val_correct(self) -> NDArray[np.bool_]:
        """Whether each validation image is classified correctly after each epoch, (E, n)."""
        return self.val_pred == self.val_labels[None, :]

    def logits_at(self, epoch: int) -> NDArray[np.float32]:
        """Validation logits (n, K) after ``epoch`` (1-based), one of ``logit_epochs``."""
        if epoch not in self.logit_epochs:
            raise KeyError(f"no logits kept for epoch {epoch}; kept: {list(self.logit_epochs)}")
        return self.val_logits[self.logit_epochs.index(epoch)]


def choose_thumbnails(
    val_loss: NDArray[np.floating],
    val_pred: NDArray[np.integer],
    labels: NDArray[np.integer],
    per_group: int,
    seed: int,
) -> tuple[NDArray[np.int64], NDArray[np.str_], int]:
    """Pick validation positions to show, relative to the epoch ``r`` of least mean validation loss.

    ``confidently_wrong``: wrong after the last epoch, largest loss increase since ``r``;
    ``turned_right``: wrong after ``r`` and right after the last epoch, largest loss decrease;
    ``random``: a fixed random draw (``seed``) among the rest. Returns positions, groups, ``r``.
    """
    losses = val_loss.astype(np.float64)
    reference = int(np.argmin(losses.mean(axis=1)))
    wrong_last = val_pred[-1] != labels
    change = losses[-1] - losses[reference]
    became_wrong = np.flatnonzero(wrong_last & (change > 0))
    turned_right = np.flatnonzero((val_pred[reference] != labels) & ~wrong_last)
    chosen = {
        "confidently_wrong": became_wrong[np.argsort(-change[became_wrong], kind="stable")][:per_group],
        "turned_right": turned_right[np.argsort(change[turned_right], kind="stable")][:per_group],
    }
    rest = np.setdiff1d(np.arange(len(labels)), np.concatenate(list(chosen.values())))
    chosen["random"] = np.sort(np.random.default_rng(seed).choice(rest, size=min(per_group, len(rest)), replace=False))
    positions = np.concatenate([chosen[g] for g in THUMBNAIL_GROUPS]).astype(np.int64)
    groups = np.array([g for g in THUMBNAIL_GROUPS for _ in chosen[g]], dtype=np.str_)
    return positions, groups, reference + 1


def write_record(directory: Path, record: CifarRecord) -> None:
    """Write ``arrays.npz`` then ``summary.json`` into ``directory``, each atomically."""
    _check(record)
    arrays = {
        "val_labels": record.val_labels,
        "val_source_index": record.val_source_index,
        "train_source_index": record.train_source_index,
        "train_eval_source_index": record.train_eval_source_index,
        "calibration_fit_mask": record.calibration_fit_mask,
        "val_loss": record.val_loss,
        "val_pred": record.val_pred,
        "val_logits": record.val_logits,
        "thumbnail_images": record.thumbnails.images,
        "thumbnail_val_position": record.thumbnails.val_position,
        "thumbnail_group": record.thumbnails.group,
    }
    stored: dict[str, Any] = {
        name: np.asarray(array).astype(np.str_ if ARRAY_DTYPES[name] == "str" else ARRAY_DTYPES[name])
        for name, array in arrays.items()
    }
    summary = {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "epochs_planned": record.epochs_planned,
        "epochs_recorded": record.epochs_recorded,
        "complete": record.complete,
        "classes": list(record.classes),
        "settings": record.settings,
        "metadata": record.metadata,
        "history": record.history.columns(),
        "logit_epochs": list(record.logit_epochs),
        "thumbnail_reference_epoch": record.thumbnail_reference_epoch,
        "arrays": {name: {"dtype": ARRAY_DTYPES[name], "shape": list(array.shape)} for name, array in stored.items()},
    }
    atomic_write(directory / ARRAYS_FILE, lambda handle: np.savez_compressed(handle, **stored))
    atomic_write(
        directory / SUMMARY_FILE, lambda handle: handle.write(json.dumps(summary, indent=1, allow_nan=False).encode())
    )
    for name in (ARRAYS_FILE, SUMMARY_FILE):
        size = (directory / name).stat().st_size
        if size > MAX_FILE_BYTES:
            warnings.warn(
                f"{directory / name} is {size / 2**20:.1f} MiB, over the {MAX_FILE_BYTES / 2**20:.0f} MiB budget",
                stacklevel=2,
            )


def load_record(directory: str | Path) -> CifarRecord:
    """Read a record folder and check it: format, keys, dtypes, shapes, and that the stored
    per-example arrays and logits agree with the per-epoch history. Raises :class:`RecordError`."""
    directory = Path(directory)
    try:
        summary = json.loads((directory / SUMMARY_FILE).read_text())
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise RecordError(f"cannot read the record in {directory}: {error}") from error
    if not isinstance(summary, dict) or summary.get("format") != RECORD_FORMAT:
        raise RecordError(f"{directory / SUMMARY_FILE} is not a {RECORD_FORMAT} summary")
    if summary.get("version") != RECORD_VERSION:
        raise RecordError(f"record version {summary.get('version')} is not the supported {RECORD_VERSION}")
    required = (
        "epochs_planned",
        "epochs_recorded",
        "classes",
        "settings",
        "metadata",
        "history",
        "logit_epochs",
        "thumbnail_reference_epoch",
        "arrays",
    )
    missing = [key for key in required if key not in summary]
    missing += [f"{ARRAYS_FILE}:{name}" for name in ARRAY_DTYPES if name not in arrays]
    if missing:
        raise RecordError(f"record in {directory} lacks {', '.join(missing)}")
    for name, array in arrays.items():
        declared = summary["arrays"].get(name, {})
        stored_kind = "str" if array.dtype.kind == "U" else str(array.dtype)
        if stored_kind != ARRAY_DTYPES.get(name) or declared != {"dtype": stored_kind, "shape": list(array.shape)}:
            raise RecordError(f"array {name}: stored {stored_kind} {list(array.shape)}, summary declares {declared}")
    record = CifarRecord(
        settings=summary["settings"],
        metadata=summary["metadata"],
        classes=tuple(summary["classes"]),
        epochs_planned=int(summary["epochs_planned"]),
        history=History.from_columns(summary["history"]),
        val_labels=arrays["val_labels"].astype(np.int64),
        val_source_index=arrays["val_source_index"].astype(np.int64),
        train_source_index=arrays["train_source_index"].astype(np.int64),
        train_eval_source_index=arrays["train_eval_source_index"].astype(np.int64),
        calibration_fit_mask=arrays["calibration_fit_mask"],
        val_loss=arrays["val_loss"].astype(np.float32),
        val_pred=arrays["val_pred"].astype(np.int64),
        logit_epochs=tuple(int(e) for e in summary["logit_epochs"]),
        val_logits=arrays["val_logits"],
        thumbnail_reference_epoch=int(summary["thumbnail_reference_epoch"]),
        thumbnails=Thumbnails(
            arrays["thumbnail_images"], arrays["thumbnail_val_position"].astype(np.int64), arrays["thumbnail_group"]
        ),
    )
    if summary["epochs_recorded"] != record.epochs_recorded:
        raise RecordError(f"summary says {summary['epochs_recorded']} epochs, history has {record.epochs_recorded}")
    _check(record)
    return record


def _check(record: CifarRecord) -> None:
    """Raise :class:`RecordError` unless shapes, ranges and the history agree with the arrays."""
    epochs, (n,), k = record.epochs_recorded, record.val_labels.shape, len(record.classes)

    def require(condition: bool | np.bool_, message: str) -> None:
        if not condition:
            raise RecordError(message)

    require(0 < epochs <= record.epochs_planned, f"{epochs} epochs recorded of {record.epochs_planned} planned")
    require(np.array_equal(record.history.epoch, np.arange(1, epochs + 1)), "history epochs are not 1, 2, ..., E")
    for name in HISTORY_FIELDS:
        require(getattr(record.history, name).shape == (epochs,), f"history {name} does not have {epochs} values")
    require(((record.val_labels >= 0) & (record.val_labels < k)).all(), "validation labels outside [0, K)")
    require(
        record.val_source_index.shape == (n,) and record.calibration_fit_mask.shape == (n,),
        "per-image arrays differ in length",
    )
    require(
        record.val_loss.shape == (epochs, n) and record.val_pred.shape == (epochs, n),
        f"per-example arrays are not ({epochs}, {n})",
    )
    require(((record.val_pred >= 0) & (record.val_pred < k)).all(), "predicted classes outside [0, K)")
    logit_epochs = np.array(record.logit_epochs)
    require(
        record.val_logits.shape == (len(logit_epochs), n, k)
        and (np.diff(logit_epochs) > 0).all()
        and np.isin(logit_epochs, np.arange(1, epochs + 1)).all(),
        f"logits {record.val_logits.shape} do not match logit epochs {list(logit_epochs)} of {epochs}",
    )
    thumbnails = record.thumbnails
    require(
        thumbnails.images.shape == (len(thumbnails.val_position), 32, 32, 3) == (len(thumbnails.group), 32, 32, 3)
        and ((thumbnails.val_position >= 0) & (thumbnails.val_position < n)).all()
        and np.isin(thumbnails.group, THUMBNAIL_GROUPS).all(),
        "thumbnails are inconsistent",
    )
    stored_loss = record.val_loss.astype(np.float16).astype(np.float64)
    accuracy = (record.val_pred == record.val_labels).mean(axis=1)
    require(
        np.allclose(accuracy, record.history.val_acc, rtol=0, atol=1e-9),
        "val_acc in the history does not match val_pred",
    )
    require(
        np.allclose(stored_loss.mean(axis=1), record.history.val_loss, rtol=2e-3, atol=1e-4, equal_nan=True),
        "val_loss in the history does not match the per-example losses",
    )
    for row, epoch in enumerate(record.logit_epochs):
        logits = record.val_logits[row]
        require(
            np.array_equal(logits.argmax(axis=1), record.val_pred[epoch - 1]),
            f"logits of epoch {epoch} do not give val_pred",
        )
        from_logits = per_example_loss_from_logits(logits, record.val_labels)
        require(
            np.allclose(from_logits, stored_loss[epoch - 1], rtol=2e-3, atol=1e-4, equal_nan=True),
            f"logits of epoch {epoch} do not give val_loss",
        )
