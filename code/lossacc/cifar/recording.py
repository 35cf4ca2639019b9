"""What a run has recorded so far (:class:`RunState`), the record built from it, and the check
that a record folder holds this run and not another one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossacc.cifar.config import TrainConfig
from lossacc.cifar.data import CifarData
from lossacc.cifar.provenance import now
from lossacc.cifar.record import HISTORY_FIELDS, SUMMARY_FILE, CifarRecord, History, RecordError, Thumbnails, choose_thumbnails
from lossacc.cifar.splits import Splits

# In the run folder, rewritten after every epoch: the latest epoch's headline numbers and the
# session's epoch times, for whoever watches the run (scripts/train_on_gpu.py polls it).
PROGRESS_FILE = "progress.json"


@dataclass
class RunState:
    """What a run has recorded so far; with the model and optimizer it is the checkpoint."""

    history: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in HISTORY_FIELDS})
    val_loss: list[NDArray[np.float16]] = field(default_factory=list)
    val_pred: list[NDArray[np.int8]] = field(default_factory=list)
    logit_epochs: list[int] = field(default_factory=list)
    val_logits: list[NDArray[np.float32]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return len(self.val_loss)

    @property
    def created(self) -> str | None:
        """When the run's first session started (``None`` before it has one): the run's identity with its settings."""
        return self.sessions[0]["started"] if self.sessions else None


def setting_differences(there: dict[str, Any], now_: dict[str, Any]) -> list[str]:
    """``"key=X there, Y now"`` for each setting that differs between two settings dicts."""
    return [
        f"{key}={there.get(key)!r} there, {now_.get(key)!r} now"
        for key in sorted(set(there) | set(now_))
        if there.get(key) != now_.get(key)
    ]


def other_run_differences(
    summary: dict[str, Any], settings: dict[str, Any], data_sha256: str, created: str | None
) -> list[str]:
    """How the run recorded in ``summary`` (a ``summary.json``) differs from the run described
    by the other arguments; empty when it is the same run (``created=None``: a run not yet begun)."""
    metadata = summary.get("metadata", {})
    differences = setting_differences(summary.get("settings", {}), settings)
    there_sha = str(metadata.get("dataset", {}).get("sha256", ""))
    if there_sha != data_sha256:
        differences.append(f"dataset sha256 {there_sha[:12]}... there, {data_sha256[:12]}... now")
    if not differences and metadata.get("created") != created:
        differences.append(f"a run started {metadata.get('created')} there, this one {created or 'now'}")
    return differences


def check_record_folder(
    folder: Path, settings: dict[str, Any], data_sha256: str, created: str | None, *, overwrite: bool
) -> None:
    """Raise :class:`RecordError` if ``folder`` holds the record of another run, unless ``overwrite``."""
    summary_path = folder / SUMMARY_FILE
    if overwrite or not summary_path.exists():
        return
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as error:
        raise RecordError(
            f"{folder} holds an unreadable {SUMMARY_FILE} ({error}); choose another record folder or overwrite it"
        ) from error
    differences = other_run_differences(summary if isinstance(summary, dict) else {}, settings, data_sha256, created)
    if differences:
        raise RecordError(
            f"{folder} already holds the record of another run ({'; '.join(differences)}); "
            "choose another record folder or pass --overwrite-record"
        )


def build_record(state: RunState, config: TrainConfig, data: CifarData, splits: Splits) -> CifarRecord:
    """The record of the epochs in ``state``: settings, provenance, history, per-example arrays, thumbnails."""
    val_loss, val_pred = np.stack(state.val_loss), np.stack(state.val_pred)
    val_labels = data.test_labels[splits.val]
    positions, groups, reference_epoch = choose_thumbnails(
        val_loss, val_pred, val_labels, config.thumbnails_per_group, config.subset_seed
    )
    number_of_classes = len(data.classes)
    last = state.sessions[-1]
    metadata = {
        "created": state.created,
        "updated": now(),
        **{key: last.get(key) for key in PROVENANCE_KEYS},
        "dataset": {
            "name": "CIFAR-10",
            "source": data.source.name,
            "layout": data.source.layout,
            "sha256": data.source.sha256,
            "description": data.source.description,
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
        },
        "seed": config.seed,
        "wall_seconds": float(sum(state.history["epoch_seconds"])),
        "sessions": state.sessions,
    }
    return CifarRecord(
        settings=config.settings(),
        metadata=metadata,
        classes=data.classes,
        epochs_planned=config.epochs,
        history=History.from_columns(state.history),
        val_labels=val_labels,
        val_source_index=splits.val,
        train_source_index=splits.train,
        train_eval_source_index=splits.train_eval,
        calibration_fit_mask=splits.calibration_fit_mask,
        val_loss=val_loss,
        val_pred=val_pred.astype(np.int64),
        logit_epochs=tuple(state.logit_epochs),
        val_logits=np.stack(state.val_logits)
        if state.val_logits
        else np.zeros((0, len(val_labels), number_of_classes), np.float32),
        thumbnail_reference_epoch=reference_epoch,
        thumbnails=Thumbnails(data.test_images[splits.val[positions]], positions, groups),
    )


# The latest session's provenance, copied to the record's metadata top level.
PROVENANCE_KEYS = (
    "commit",
    "commit_dirty",
    "commit_source",
    "device",
    "torch_version",
    "cuda_version",
    "numpy_version",
    "python_version",
    "platform",
)
