"""Reading a real run: the analyses behind the chapter on the CIFAR-10 ResNet18 record.

Everything here reads a :class:`~lossacc.cifar.record.CifarRecord` (or plain arrays, for the
tests). Epochs count from 1: ``values[e - 1]`` belongs to epoch ``e``. The per-example loss is
``l_i = -ln p(y_i | x_i)``, ``p`` the probability the model gives to the true class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from lossacc.cifar.record import SUMMARY_FILE, CifarRecord, History, RecordError
from lossacc.metrics import BoolArray, FloatArray, IntArray, worst_share

# --- which record the book shows ----------------------------------------------------------

FULL_RUN_EPOCHS = 200


def is_full_gpu_run(metadata: dict[str, Any], epochs_planned: int, epochs_recorded: int) -> bool:
    """Whether a record is the full recipe run: on a CUDA device, all of 200 epochs."""
    return metadata.get("device", {}).get("type") == "cuda" and epochs_planned == epochs_recorded == FULL_RUN_EPOCHS


def book_record(records_dir: str | Path) -> Path:
    """The record folder the chapter shows, among the sub-folders of ``records_dir`` holding a ``summary.json``.

    The full GPU run (:func:`is_full_gpu_run`) wins; otherwise a run trained on the plain
    cross-entropy before one with label smoothing (whose training loss has another scale), a
    complete run before an incomplete one, then a run on all the training images before one on
    a subset, then the one with more epochs recorded (then the folder name, for a fixed order).
    """
    candidates = []
    for summary_path in sorted(Path(records_dir).glob(f"*/{SUMMARY_FILE}")):
        summary = json.loads(summary_path.read_text())
        planned, recorded = int(summary.get("epochs_planned", 0)), int(summary.get("epochs_recorded", 0))
        settings = summary.get("settings", {})
        all_training_images = settings.get("train_size") is None
        rank = (
            is_full_gpu_run(summary.get("metadata", {}), planned, recorded),
            not settings.get("label_smoothing", 0),
            planned == recorded,
            all_training_images,
            recorded,
        )
        candidates.append((rank, summary_path.parent.name, summary_path.parent))
    if not candidates:
        raise RecordError(f"no record (a folder with {SUMMARY_FILE}) under {records_dir}")
    return max(candidates)[2]


ONE_THREAD = re.compile(r"\b1 threads\b")


@dataclass(frozen=True)
class RunDescription:
    """What the page says about a run, read from the record's metadata and settings."""

    full_gpu_run: bool
    device_type: str
    device_name: str
    dataset: str
    dataset_description: str
    dataset_sha256: str
    commit: str
    commit_dirty: bool
    torch_version: str
    wall_minutes: float
    epochs: int
    settings: dict[str, Any]

    def rows(self) -> list[tuple[str, str]]:
        """(what, value) lines for a table on the page."""
        s = self.settings
        train_images = "all" if s["train_size"] is None else f"{s['train_size']:,}"
        val_images = "all" if s["val_size"] is None else f"{s['val_size']:,}"
        return [
            ("device", f"{self.device_name} ({self.device_type})"),
            ("data", f"{self.dataset}: {self.dataset_description}"),
            ("data sha256", self.dataset_sha256),
            ("code", f"commit {self.commit}" + (" (with uncommitted changes)" if self.commit_dirty else "")),
            ("PyTorch", self.torch_version),
            ("training images / validation images", f"{train_images} / {val_images}"),
            ("model", f"ResNet18, first-stage width {s['width']}"),
            (
                "optimiser",
                f"SGD, lr {s['lr']}, momentum {s['momentum']}{' (Nesterov)' if s['nesterov'] else ''}, "
                f"weight decay {s['weight_decay']}, batch {s['batch_size']}",
            ),
            ("schedule", f"{self.epochs} epochs, lr x{s['lr_decay']} after epochs {', '.join(map(str, s['milestones']))}"),
            ("augmentation", f"random crop (padding {s['crop_padding']})" + (" and horizontal flip" if s["hflip"] else "")),
            *(
                [("label smoothing", f"ε = {s['label_smoothing']} on the training loss")]
                if s.get("label_smoothing", 0)
                else []
            ),
            ("seed", str(s["seed"])),
            ("training time", f"{self.wall_minutes:.1f} minutes"),
        ]


def describe_run(record: CifarRecord) -> RunDescription:
    """The run's device, data, code and settings, as the record states them."""
    meta = record.metadata
    dataset = meta["dataset"]
    return RunDescription(
        full_gpu_run=is_full_gpu_run(meta, record.epochs_planned, record.epochs_recorded),
        device_type=meta["device"]["type"],
        device_name=ONE_THREAD.sub("1 thread", meta["device"]["name"]),
        dataset=dataset["name"],
        dataset_description=dataset["description"] or f"{dataset['source']} ({dataset['layout']})",
        dataset_sha256=dataset["sha256"],
        commit=str(meta["commit"]),
        commit_dirty=bool(meta["commit_dirty"]),
        torch_version=meta["torch_version"],
        wall_minutes=float(meta["wall_seconds"]) / 60,
        epochs=record.epochs_recorded,
        settings=record.settings,
    )


def run_title(record: CifarRecord) -> str:
    """A short name for the run, for the prose: the model, what it was trained on, and where."""
    if is_full_gpu_run(record.metadata, record.epochs_planned, record.epochs_recorded):
        return "the full 200-epoch recipe run on a GPU"
    train_size = record.settings["train_size"]
    images = "all 50,000" if train_size is None else f"{train_size:,}"
    return (
        f"the {record.metadata['device']['type'].upper()} run (a width-{record.settings['width']} ResNet18 "
        f"trained on {images} CIFAR-10 training images for {record.epochs_recorded} epochs)"
    )


def scale_sentence(record: CifarRecord) -> str:
    """What the run is, in plain words for the prose: the full recipe run, or a smaller version of it.

    The sizes are read from the record (model width and parameters, training images, epochs,
    learning-rate drops, device, wall time, validation accuracy) and set beside the recipe's:
    the full ResNet18 (width 64) on all 50,000 images for 200 epochs, drops after 60, 120, 160.
    """
    from lossacc.cifar.resnet import ResNet18, count_parameters

    params = count_parameters(ResNet18(width=record.settings["width"])) / 1e6
    best, last = float(np.max(record.history.val_acc)), float(record.history.val_acc[-1])
    reached = f"reaching {best:.1%} validation accuracy at best and {last:.1%} after the last epoch"
    if is_full_gpu_run(record.metadata, record.epochs_planned, record.epochs_recorded):
        return f"the full recipe run, recorded on a GPU ({params:.1f} M parameters), {reached}"
    full_params = count_parameters(ResNet18(width=64)) / 1e6
    train_size = record.settings["train_size"]
    train_images = "all 50,000" if train_size is None else f"{train_size:,} of the 50,000"
    milestones = ", ".join(map(str, record.settings["milestones"]))
    smoothing = record.settings.get("label_smoothing", 0)
    exception = f", but for label smoothing (ε = {smoothing}) of the training loss" if smoothing else ""
    hours = float(record.metadata["wall_seconds"]) / 3600
    duration = f"{hours:.1f} hours" if hours >= 1 else f"{hours * 60:.0f} minutes"
    return (
        f"a smaller version of the recipe, sized for a CPU: a ResNet18 slimmed to width "
        f"{record.settings['width']} ({params:.2f} M parameters; the recipe's full width 64 has "
        f"{full_params:.1f} M), trained on {train_images} training images for {record.epochs_recorded} "
        f"epochs with the learning rate cut after epochs {milestones} (the recipe: 200 epochs, cuts "
        f"after 60, 120 and 160), in {duration} on a {record.metadata['device']['type'].upper()}, "
        f"{reached}. Everything else is the recipe's{exception}. A run of the recipe itself needs a GPU; the "
        "book shows one in place of this run as soon as the repository holds it"
    )


# --- regimes of the curves ----------------------------------------------------------------


def lr_drops(lr: ArrayLike) -> IntArray:
    """Epochs ``e`` that train with a smaller learning rate than epoch ``e - 1``: ``lr_e < lr_{e-1}``."""
    rates = np.asarray(lr, dtype=np.float64)
    return np.flatnonzero(rates[1:] < rates[:-1]).astype(np.int64) + 2


def lr_phases(lr: ArrayLike) -> list[tuple[int, int]]:
    """(first, last) epoch of each stretch of constant learning rate."""
    rates = np.asarray(lr, dtype=np.float64)
    starts = [1, *(np.flatnonzero(rates[1:] != rates[:-1]) + 2).tolist()]
    ends = [s - 1 for s in starts[1:]] + [len(rates)]
    return list(zip(starts, ends))


def smooth_within_phases(values: ArrayLike, lr: ArrayLike, window: int) -> FloatArray:
    """Centred moving average ``s_e = mean{v_j : |j - e| <= window // 2, j in e's phase}``.

    The window never reaches across a learning-rate change, so a drop stays a step; it shrinks
    at the ends of each phase. ``window = 1`` returns the values.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of epochs, got {window}")
    v = np.asarray(values, dtype=np.float64)
    half = window // 2
    smoothed = np.empty_like(v)
    for first, last in lr_phases(lr):
        for e in range(first, last + 1):
            smoothed[e - 1] = v[max(first, e - half) - 1 : min(last, e + half)].mean()
    return smoothed


@dataclass(frozen=True)
class Regime:
    """Epochs ``first`` to ``last`` (inclusive) of one regime of the curves."""

    kind: str
    first: int
    last: int

    @property
    def epochs(self) -> int:
        return self.last - self.first + 1


OVERFITTING = "validation loss up, training loss down"
RECOVERY = "recovery after a learning-rate drop"
ACCURACY_UP_LOSS_UP = "validation loss up, validation accuracy up"


def runs_of(mask: ArrayLike, kind: str, min_epochs: int = 1) -> list[Regime]:
    """Maximal stretches of consecutive epochs where ``mask`` holds, at least ``min_epochs`` long."""
    flags = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(flags[1:] != flags[:-1])
    return [Regime(kind, int(a) + 1, int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_epochs]


def trend(values: ArrayLike, lr: ArrayLike, window: int) -> FloatArray:
    """Epoch-to-epoch change of the smoothed curve, ``s_e - s_{e-1}`` (NaN at epoch 1)."""
    smoothed = smooth_within_phases(values, lr, window)
    return np.concatenate([[np.nan], np.diff(smoothed)])


def find_regimes(
    lr: ArrayLike,
    train_loss: ArrayLike,
    val_loss: ArrayLike,
    val_acc: ArrayLike,
    window: int = 3,
    min_epochs: int = 2,
) -> list[Regime]:
    """Locate the three regimes of the chapter on per-epoch curves, smoothed with :func:`trend`.

    - :data:`OVERFITTING`: stretches where ``Δ val_loss > 0`` and ``Δ train_loss < 0``;
    - :data:`RECOVERY`: after each drop at epoch ``d`` with ``val_loss_d < val_loss_{d-1}``, the
      epochs ``d .. m``, ``m`` the epoch of least validation loss in ``d``'s phase (unsmoothed:
      a minimum is a property of the whole phase, and a window cut at the phase start would bias it);
    - :data:`ACCURACY_UP_LOSS_UP`: stretches where ``Δ val_loss > 0`` and ``Δ val_acc > 0``.

    Stretches shorter than ``min_epochs`` are noise and left out (a recovery is kept at any length).
    """
    val = np.asarray(val_loss, dtype=np.float64)
    loss_up = trend(val, lr, window) > 0
    regimes = runs_of(loss_up & (trend(train_loss, lr, window) < 0), OVERFITTING, min_epochs)
    phase_end = dict(lr_phases(lr))
    for drop in lr_drops(lr).tolist():
        if val[drop - 1] < val[drop - 2]:
            regimes.append(Regime(RECOVERY, drop, drop + int(np.argmin(val[drop - 1 : phase_end[drop]]))))
    regimes += runs_of(loss_up & (trend(val_acc, lr, window) > 0), ACCURACY_UP_LOSS_UP, min_epochs)
    return regimes


def find_record_regimes(history: History, window: int = 3, min_epochs: int = 2) -> list[Regime]:
    """:func:`find_regimes` on a record's history, with the clean training loss (eval mode, no
    augmentation): the same model as the validation loss, so that a rise of both (noise of a
    large learning rate) does not count as overfitting."""
    return find_regimes(history.lr, history.train_eval_loss, history.val_loss, history.val_acc, window, min_epochs)


# --- why the training loss can sit above the validation loss ------------------------------


@dataclass(frozen=True)
class TrainLossGap:
    """Per epoch, the reported training loss against the same model's clean training loss.

    ``gap = train_loss - train_eval_loss`` splits as ``lag + augmentation_and_mode`` with
    ``lag_e = (train_eval_loss_{e-1} - train_eval_loss_e) / 2``: the running mean averages the
    models along the epoch, whose clean loss is (if it falls linearly) the midpoint of the
    epoch's two ends. The rest is augmentation and train-mode batch norm. ``lag`` is NaN at epoch 1.
    """

    gap: FloatArray
    lag: FloatArray
    augmentation_and_mode: FloatArray
    train_above_val: BoolArray
    clean_train_below_val: BoolArray


def train_loss_gap(history: History) -> TrainLossGap:
    """:class:`TrainLossGap` from a record's history."""
    gap = history.train_loss - history.train_eval_loss
    lag = np.concatenate([[np.nan], -np.diff(history.train_eval_loss) / 2])
    return TrainLossGap(
        gap=gap,
        lag=lag,
        augmentation_and_mode=gap - lag,
        train_above_val=history.train_loss > history.val_loss,
        clean_train_below_val=history.train_eval_loss < history.val_loss,
    )


# --- the change of the mean loss, example by example --------------------------------------

LOSS_CHANGE_GROUPS = (
    "became right",
    "became wrong",
    "stayed right, surer",
    "stayed right, less sure",
    "stayed wrong, more wrong",
    "stayed wrong, less wrong",
)


@dataclass(frozen=True)
class LossChange:
    """The change of the mean loss between two epochs, split into :data:`LOSS_CHANGE_GROUPS`.

    With ``Δl_i = l_i(to) - l_i(from)`` and ``n`` examples, group ``g`` contributes
    ``C_g = (1/n) sum_{i in g} Δl_i``; the groups partition the examples, so
    ``sum_g C_g = mean l(to) - mean l(from)``. "Surer" and "more wrong" mean that ``p`` of the
    true class rose and fell (``Δl < 0`` and ``Δl > 0``); an unchanged loss counts as "less sure"
    or "less wrong" and contributes nothing.
    """

    mean_loss_from: float
    mean_loss_to: float
    accuracy_from: float
    accuracy_to: float
    group: IntArray
    count: IntArray
    contribution: FloatArray

    @property
    def total(self) -> float:
        """``mean l(to) - mean l(from)``."""
        return self.mean_loss_to - self.mean_loss_from

    @property
    def mean_change(self) -> FloatArray:
        """Mean ``Δl`` within each group (NaN for an empty group)."""
        with np.errstate(invalid="ignore"):
            return self.contribution * len(self.group) / self.count


def loss_change_by_group(
    loss_from: ArrayLike, loss_to: ArrayLike, correct_from: ArrayLike, correct_to: ArrayLike
) -> LossChange:
    """Split ``mean l(to) - mean l(from)`` into the contributions of :data:`LOSS_CHANGE_GROUPS`."""
    before = np.asarray(loss_from, dtype=np.float64)
    after = np.asarray(loss_to, dtype=np.float64)
    right_before = np.asarray(correct_from, dtype=bool)
    right_after = np.asarray(correct_to, dtype=bool)
    change = after - before
    group = np.select(
        [
            ~right_before & right_after,
            right_before & ~right_after,
            right_before & (change < 0),
            right_before,
            change > 0,
        ],
        [0, 1, 2, 3, 4],
        default=5,
    ).astype(np.int64)
    groups = len(LOSS_CHANGE_GROUPS)
    return LossChange(
        mean_loss_from=float(before.mean()),
        mean_loss_to=float(after.mean()),
        accuracy_from=float(right_before.mean()),
        accuracy_to=float(right_after.mean()),
        group=group,
        count=np.bincount(group, minlength=groups).astype(np.int64),
        contribution=np.bincount(group, weights=change, minlength=groups) / len(change),
    )


def record_loss_change(record: CifarRecord, epoch_from: int, epoch_to: int) -> LossChange:
    """:func:`loss_change_by_group` on the validation set between two epochs of a record."""
    correct = record.val_correct
    return loss_change_by_group(
        record.val_loss[epoch_from - 1], record.val_loss[epoch_to - 1], correct[epoch_from - 1], correct[epoch_to - 1]
    )


def worst_share_of_change(loss_from: ArrayLike, loss_to: ArrayLike, fraction: float = 0.01) -> float:
    """Share of the summed loss change carried by the most confidently wrong examples at the end.

    ``W`` = the ``ceil(fraction * n)`` examples of largest ``l(to)`` (least ``p``);
    the share is ``sum_{i in W} Δl_i / sum_i Δl_i`` (above 1 when the others improved on balance).
    """
    before = np.asarray(loss_from, dtype=np.float64)
    after = np.asarray(loss_to, dtype=np.float64)
    worst = np.argsort(-after, kind="stable")[: int(np.ceil(fraction * len(after)))]
    change = after - before
    return float(change[worst].sum() / change.sum())


def accuracy_up_loss_up_epochs(record: CifarRecord) -> tuple[int, int]:
    """The pair of epochs the chapter compares: the thumbnails' reference epoch (least mean
    validation loss) and the last epoch, which the record's example images were chosen between."""
    return record.thumbnail_reference_epoch, record.epochs_recorded


# --- what a learning-rate drop changes ------------------------------------------------------


@dataclass(frozen=True)
class DropEffect:
    """Between epoch ``drop - 1`` (last at the old rate) and ``drop`` (first at the new one):
    ``change``, the loss split by group (its first two groups count the examples crossing each
    way), and ``usual``, the same split for the epoch pairs just before, at the old rate."""

    drop: int
    lr_before: float
    lr_after: float
    change: LossChange
    usual: tuple[LossChange, ...]

    @property
    def became_right(self) -> int:
        return int(self.change.count[0])

    @property
    def became_wrong(self) -> int:
        return int(self.change.count[1])

    @property
    def usual_count(self) -> FloatArray:
        """Examples per group, averaged over the usual epoch pairs."""
        return np.mean([usual.count for usual in self.usual], axis=0)

    @property
    def usual_contribution(self) -> FloatArray:
        """Contribution of each group, averaged over the usual epoch pairs."""
        return np.mean([usual.contribution for usual in self.usual], axis=0)


def drop_effects(record: CifarRecord, baseline: int = 3) -> list[DropEffect]:
    """A :class:`DropEffect` for each learning-rate drop, with up to ``baseline`` usual epoch
    pairs (a phase must span two epochs for one to exist)."""
    lr = record.history.lr
    phase_start = {last + 1: first for first, last in lr_phases(lr)}
    return [
        DropEffect(
            drop=drop,
            lr_before=float(lr[drop - 2]),
            lr_after=float(lr[drop - 1]),
            change=record_loss_change(record, drop - 1, drop),
            usual=tuple(
                record_loss_change(record, e - 1, e) for e in range(max(phase_start[drop] + 1, drop - baseline), drop)
            ),
        )
        for drop in lr_drops(lr).tolist()
    ]


# --- temperature scaling and the choice of checkpoint ---------------------------------------


@dataclass(frozen=True)
class ScalingEffect:
    """Held-out validation loss between two epochs, raw and after temperature scaling.

    ``share_undone = 1 - (L_T(to) - L_T(from)) / (L(to) - L(from))``: the part of the raw
    rise that dividing the logits by the fitted temperature removes.
    """

    epoch_from: int
    epoch_to: int
    raw_from: float
    raw_to: float
    scaled_from: float
    scaled_to: float
    temperature_from: float
    temperature_to: float

    @property
    def share_undone(self) -> float:
        return 1 - (self.scaled_to - self.scaled_from) / (self.raw_to - self.raw_from)


def scaling_effect(history: History, epoch_from: int, epoch_to: int) -> ScalingEffect:
    """:class:`ScalingEffect` from a record's history."""
    a, b = epoch_from - 1, epoch_to - 1
    return ScalingEffect(
        epoch_from=epoch_from,
        epoch_to=epoch_to,
        raw_from=float(history.val_heldout_loss[a]),
        raw_to=float(history.val_heldout_loss[b]),
        scaled_from=float(history.val_heldout_loss_scaled[a]),
        scaled_to=float(history.val_heldout_loss_scaled[b]),
        temperature_from=float(history.temperature[a]),
        temperature_to=float(history.temperature[b]),
    )


@dataclass(frozen=True)
class CheckpointChoice:
    """The epoch a selection rule keeps, its metrics, and what it gives up against the best
    epoch of each metric (``*_cost >= 0``; 0 where the rule's epoch is the best)."""

    rule: str
    epoch: int
    val_loss: float
    val_acc: float
    val_ece: float
    scaled_loss: float
    loss_cost: float
    accuracy_cost: float
    scaled_loss_cost: float


def choice_at(history: History, rule: str, epoch: int) -> CheckpointChoice:
    """The checkpoint of ``epoch``, kept by ``rule``: its metrics and what it gives up against the
    best epoch of each metric."""
    i = epoch - 1
    best_loss, best_acc = np.nanmin(history.val_loss), np.nanmax(history.val_acc)
    best_scaled = np.nanmin(history.val_heldout_loss_scaled)
    return CheckpointChoice(
        rule=rule,
        epoch=epoch,
        val_loss=float(history.val_loss[i]),
        val_acc=float(history.val_acc[i]),
        val_ece=float(history.val_ece[i]),
        scaled_loss=float(history.val_heldout_loss_scaled[i]),
        loss_cost=float(history.val_loss[i] - best_loss),
        accuracy_cost=float(best_acc - history.val_acc[i]),
        scaled_loss_cost=float(history.val_heldout_loss_scaled[i] - best_scaled),
    )


def checkpoint_choices(history: History) -> list[CheckpointChoice]:
    """Epochs kept by lowest validation loss, highest validation accuracy, lowest held-out loss
    after temperature scaling, and the last epoch (ties go to the earliest epoch)."""
    picks = {
        "lowest validation loss": int(np.nanargmin(history.val_loss)),
        "highest validation accuracy": int(np.nanargmax(history.val_acc)),
        "lowest loss after temperature scaling": int(np.nanargmin(history.val_heldout_loss_scaled)),
        "last epoch": len(history.epoch) - 1,
    }
    return [choice_at(history, rule, i + 1) for rule, i in picks.items()]


@dataclass(frozen=True)
class HalfSplitChoice:
    """A rule that picks a checkpoint on one half of the validation set, read on the other half.

    ``epoch`` is the rule's pick on the selection half (the calibration half of the record),
    ``selection_value`` its metric there, ``heldout_value`` the same epoch's metric on the other
    half; ``heldout_best_epoch`` and ``heldout_best_value`` are what the rule would pick and report
    had it chosen on the held-out half itself. ``optimism = heldout_best_value - heldout_value``
    in the direction that flatters (lower loss, higher accuracy), so ``optimism >= 0``.
    """

    rule: str
    epoch: int
    selection_value: float
    heldout_value: float
    heldout_best_epoch: int
    heldout_best_value: float

    @property
    def optimism(self) -> float:
        return abs(self.heldout_best_value - self.heldout_value)


def half_split_choices(record: CifarRecord) -> list[HalfSplitChoice]:
    """Lowest loss and highest accuracy chosen on the calibration half, scored on the other half.

    Per half ``H`` and epoch ``e``: ``L_H(e) = mean_{i in H} l_i(e)`` and
    ``A_H(e) = mean_{i in H} [pred_i(e) = y_i]``. Ties go to the earliest epoch.
    """
    selection = record.calibration_fit_mask
    heldout = ~selection
    correct = record.val_correct
    choices = []
    for rule, values, pick in (
        ("lowest validation loss", record.val_loss.astype(np.float64), np.argmin),
        ("highest validation accuracy", correct.astype(np.float64), np.argmax),
    ):
        on_selection, on_heldout = values[:, selection].mean(axis=1), values[:, heldout].mean(axis=1)
        chosen, heldout_best = int(pick(on_selection)), int(pick(on_heldout))
        choices.append(
            HalfSplitChoice(
                rule=rule,
                epoch=chosen + 1,
                selection_value=float(on_selection[chosen]),
                heldout_value=float(on_heldout[chosen]),
                heldout_best_epoch=heldout_best + 1,
                heldout_best_value=float(on_heldout[heldout_best]),
            )
        )
    return choices


@dataclass(frozen=True)
class AveragingTest:
    """Does averaging the predictions of the last ``window`` epochs before a drop do what the drop does?

    ``loss_averaged = mean_i -ln( (1/k) sum_{e in window} p_i(e) )``, ``p_i(e)`` the probability of
    image ``i``'s true class after epoch ``e``: the loss of the models of the window combined by
    averaging their probabilities. ``share_of_drop = (loss_before - loss_averaged) /
    (loss_before - loss_after)``: how much of the drop's gain that averaging reaches.
    """

    drop: int
    window: int
    loss_before: float
    loss_averaged: float
    loss_after: float

    @property
    def share_of_drop(self) -> float:
        return (self.loss_before - self.loss_averaged) / (self.loss_before - self.loss_after)


def averaged_loss(record: CifarRecord, first: int, last: int) -> float:
    """Mean validation loss of epochs ``first..last`` combined by averaging their probabilities:
    ``mean_i -ln( mean_{e=first..last} p_i(e) )``, with ``p_i(e) = exp(-l_i(e))``."""
    if not 1 <= first <= last <= record.epochs_recorded:
        raise ValueError(f"epochs {first}..{last} are not within 1..{record.epochs_recorded}")
    probabilities = np.exp(-record.val_loss[first - 1 : last].astype(np.float64))
    return float(-np.log(probabilities.mean(axis=0)).mean())


def averaging_tests(record: CifarRecord, window: int = 3) -> list[AveragingTest]:
    """An :class:`AveragingTest` at each learning-rate drop, the window shortened to the epochs
    of the old rate (the first phase's epoch 1 included)."""
    if window < 1:
        raise ValueError(f"window must be at least 1 epoch, not {window}")
    lr = record.history.lr
    phase_start = {last + 1: first for first, last in lr_phases(lr)}
    mean_loss = record.val_loss.astype(np.float64).mean(axis=1)
    tests = []
    for drop in lr_drops(lr).tolist():
        first = max(phase_start[drop], drop - window)
        tests.append(
            AveragingTest(
                drop=drop,
                window=drop - first,
                loss_before=float(mean_loss[drop - 2]),
                loss_averaged=averaged_loss(record, first, drop - 1),
                loss_after=float(mean_loss[drop - 1]),
            )
        )
    return tests


# --- one epoch at a glance: the explorer and its Python twin --------------------------------

HISTOGRAM_BINS = 20


def probability_bin(true_class_prob: ArrayLike, bins: int = HISTOGRAM_BINS) -> IntArray:
    """Equal-width bin of ``p`` on [0, 1]: ``min(floor(p * bins), bins - 1)``."""
    p = np.asarray(true_class_prob, dtype=np.float64)
    return np.minimum(np.floor(p * bins), bins - 1).astype(np.int64)


@dataclass(frozen=True)
class EpochHistograms:
    """Per epoch and bin of ``p`` (:func:`probability_bin`), shape ``(E, bins)``: how many
    examples are right and wrong, and their summed losses."""

    right_count: IntArray
    wrong_count: IntArray
    right_loss: FloatArray
    wrong_loss: FloatArray


def epoch_histograms(record: CifarRecord, bins: int = HISTOGRAM_BINS) -> EpochHistograms:
    """:class:`EpochHistograms` of a record's validation set."""
    loss = record.val_loss.astype(np.float64)
    flat = (np.arange(record.epochs_recorded)[:, None] * bins + probability_bin(np.exp(-loss), bins)).ravel()
    right = record.val_correct.ravel()
    shape = (record.epochs_recorded, bins)

    def count(mask: BoolArray) -> IntArray:
        return np.bincount(flat[mask], minlength=shape[0] * bins).reshape(shape).astype(np.int64)

    def summed_loss(mask: BoolArray) -> FloatArray:
        sums = np.bincount(flat[mask], weights=loss.ravel()[mask], minlength=shape[0] * bins)
        return np.asarray(sums, dtype=np.float64).reshape(shape)

    return EpochHistograms(
        right_count=count(right),
        wrong_count=count(~right),
        right_loss=summed_loss(right),
        wrong_loss=summed_loss(~right),
    )


@dataclass(frozen=True)
class EpochReadouts:
    """What the epoch explorer shows for one epoch (:func:`epoch_readouts` computes it)."""

    epoch: int
    lr: float
    accuracy: float
    mean_loss: float
    wrong_loss_share: float
    worst_share: float
    temperature: float
    heldout_loss: float
    heldout_loss_scaled: float
    right_count: IntArray
    wrong_count: IntArray


def epoch_readouts(record: CifarRecord, epoch: int, bins: int = HISTOGRAM_BINS) -> EpochReadouts:
    """Accuracy, mean loss ``(1/n) sum_i l_i``, the share of the summed loss on wrong answers,
    the share carried by the worst 1%, the fitted temperature, the held-out loss before and
    after scaling, and the histogram of ``p`` split into right and wrong, after ``epoch``."""
    loss = record.val_loss[epoch - 1].astype(np.float64)
    right = record.val_correct[epoch - 1]
    which = probability_bin(np.exp(-loss), bins)
    h = record.history
    return EpochReadouts(
        epoch=epoch,
        lr=float(h.lr[epoch - 1]),
        accuracy=float(right.mean()),
        mean_loss=float(loss.mean()),
        wrong_loss_share=float(loss[~right].sum() / loss.sum()),
        worst_share=worst_share(loss, 0.01),
        temperature=float(h.temperature[epoch - 1]),
        heldout_loss=float(h.val_heldout_loss[epoch - 1]),
        heldout_loss_scaled=float(h.val_heldout_loss_scaled[epoch - 1]),
        right_count=np.bincount(which[right], minlength=bins).astype(np.int64),
        wrong_count=np.bincount(which[~right], minlength=bins).astype(np.int64),
    )


# --- example images -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleChange:
    """One validation image between two epochs: its pixels, classes and true-class probability."""

    image: NDArray[np.uint8]
    true_class: str
    predicted_from: str
    predicted_to: str
    prob_from: float
    prob_to: float


def example_changes(record: CifarRecord, group: str, epoch_from: int, epoch_to: int, count: int) -> list[ExampleChange]:
    """The first ``count`` thumbnails of ``group`` (see :data:`lossacc.cifar.record.THUMBNAIL_GROUPS`)."""
    names, thumbnails = record.classes, record.thumbnails
    p = record.true_class_prob
    rows = []
    for t in np.flatnonzero(thumbnails.group == group)[:count]:
        i = int(thumbnails.val_position[t])
        rows.append(
            ExampleChange(
                image=thumbnails.images[t],
                true_class=names[record.val_labels[i]],
                predicted_from=names[record.val_pred[epoch_from - 1, i]],
                predicted_to=names[record.val_pred[epoch_to - 1, i]],
                prob_from=float(p[epoch_from - 1, i]),
                prob_to=float(p[epoch_to - 1, i]),
            )
        )
    return rows


# Tables for the chapters: each returns a pandas DataFrame (lossacc.notebook.table shows it).


def regime_table(regimes: Sequence[Regime]) -> pd.DataFrame:
    """One row per regime: what it is and its first and last epoch."""
    return pd.DataFrame(
        {"regime": [r.kind for r in regimes], "from epoch": [r.first for r in regimes], "to epoch": [r.last for r in regimes]}
    )


def drop_table(effects: Sequence[DropEffect]) -> pd.DataFrame:
    """One column per learning-rate drop: the images that became right and wrong across it, the
    same counts averaged over the usual epochs before it, and the mean validation loss across it."""
    columns = {}
    for e in effects:
        usual_right, usual_wrong = (float(count) for count in e.usual_count[:2])
        columns[f"drop after epoch {e.drop - 1}"] = {
            "learning rate": f"{e.lr_before:g} → {e.lr_after:g}",
            "became right": e.became_right,
            "became wrong": e.became_wrong,
            "net": e.became_right - e.became_wrong,
            "usual epoch: became right": usual_right,
            "usual epoch: became wrong": usual_wrong,
            "usual epoch: net": usual_right - usual_wrong,
            "mean val. loss before": e.change.mean_loss_from,
            "mean val. loss after": e.change.mean_loss_to,
        }
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})  # whole numbers stay whole


def choice_table(choices: Sequence[CheckpointChoice]) -> pd.DataFrame:
    """One column per selection rule: the epoch it keeps, that epoch's metrics, and what it
    gives up against the best epoch of each metric."""
    columns = {
        c.rule: {
            "epoch": c.epoch,
            "val. loss": c.val_loss,
            "val. accuracy": c.val_acc,
            "ECE (15 bins)": c.val_ece,
            "loss after scaling (held-out half)": c.scaled_loss,
            "accuracy given up": c.accuracy_cost,
            "loss given up": c.loss_cost,
            "scaled loss given up": c.scaled_loss_cost,
        }
        for c in choices
    }
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})  # whole numbers stay whole


def loss_change_table(change: LossChange) -> pd.DataFrame:
    """One row per group of :data:`LOSS_CHANGE_GROUPS` and one for all images: how many images,
    their mean change of loss (empty for an empty group) and their contribution to the change
    of the mean loss."""
    rows = {
        name: {"images": int(count), "mean Δℓ": float(mean) if count else None, "contribution": float(contribution)}
        for name, count, mean, contribution in zip(LOSS_CHANGE_GROUPS, change.count, change.mean_change, change.contribution, strict=True)
    }
    rows["all"] = {"images": len(change.group), "mean Δℓ": change.total, "contribution": change.total}
    return pd.DataFrame.from_dict(rows, orient="index", dtype=object).rename_axis("group")
