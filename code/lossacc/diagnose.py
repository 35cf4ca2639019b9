"""``lossacc diagnose``: what a model's saved validation predictions say, beyond loss and accuracy.

Input: scores ``(n, k)`` (logits or probabilities) and integer labels ``(n,)`` from one file
each or one file holding both:

- ``.npz`` with an array ``logits`` or ``probs`` (also ``probabilities``, ``scores``) and ``labels``;
- ``.npy`` (the scores; labels from ``--labels``), read memory-mapped;
- ``.pt``/``.pth`` saved with ``torch.save``: a dict with the same keys, or one tensor (labels from
  ``--labels``), read memory-mapped;
- ``.csv`` with a header line: one column per class, and a ``label`` column (or ``--labels``).

For each file (one checkpoint, or two to compare) the report gives accuracy and mean loss, each
with its 95% interval (:mod:`lossacc.significance`), top-k
accuracy, balanced accuracy, ECE (15 right-closed bins), the Brier score (summed over classes)
and temperature scaling: ``T`` fitted on the even-numbered rows, the loss on the odd-numbered
rows before and after dividing the logits by it. Two files add the change of the mean loss split
into example groups (:func:`lossacc.run_analysis.loss_change_by_group`) and the paired verdicts
(McNemar's exact test for accuracy, the paired t interval for the loss). Per class, each file
gets its accuracy and mean loss (the highest loss first: five classes in the terminal, all in
the HTML report), and two files each class's share of the change
(:func:`lossacc.per_class.class_rise`). The scores are read
a block of rows at a time, so memory stays near the input's own size.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import sys
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from lossacc.calibration import (
    MAX_NUM_BINS,
    NUM_BINS,
    PROBABILITY_SUM_TOLERANCE,
    ReliabilityBins,
    calibration_error,
    fit_temperature,
    reliability_bins_from_confidence,
    row_blocks,
    scaled_loss,
)
from lossacc.metrics import FloatArray, log_softmax, top_k_accuracy
from lossacc.per_class import class_rise, per_class_curves
from lossacc.run_analysis import LOSS_CHANGE_GROUPS, LossChange, loss_change_by_group, loss_change_table
from lossacc.significance import accuracy_interval, compare_paired, mean_interval

PROGRAM = "lossacc diagnose"
SCORE_KEYS = {"logits": "logits", "probs": "probabilities", "probabilities": "probabilities", "scores": None}
LABEL_KEYS = ("labels", "targets", "y")
SUFFIXES = (".npz", ".npy", ".pt", ".pth", ".csv")
WORST_SHOWN = 10
CLASSES_SHOWN = 5  # classes the terminal lists; the HTML report lists all
# The smallest probability kept when probabilities are turned into log-probabilities for scaling.
LOG_FLOOR = float(np.finfo(np.float64).tiny)
# Rows of stored probabilities sum to 1 only up to their rounding: 3 decimals over k classes are
# off by up to k/2000 (typically far less), float16 by about 1e-3. Rows within this of 1 (and
# non-negative) are read as probabilities, each divided by its sum.
ROUNDED_SUM_TOLERANCE = 0.02
# A true-class probability of 0 has an infinite loss; the report also gives the mean loss with
# such probabilities clipped to float64's machine epsilon (as scikit-learn's log_loss clips).
CLIP_PROBABILITY = float(np.finfo(np.float64).eps)
# Logits beyond this are not a model's outputs (a diverged run, or garbage): they are refused.
MAX_ABS_SCORE = 1e6


class InputError(ValueError):
    """Predictions that cannot be read or do not make sense; the message is one line for the user."""


@dataclass(frozen=True)
class Predictions:
    """Scores ``(n, k)`` as stored (possibly memory-mapped), labels ``(n,)``, and what the scores are."""

    scores: NDArray[Any]
    labels: NDArray[np.int64]
    kind: str  # "logits" or "probabilities"
    source: str
    warnings: tuple[str, ...]
    reason: str = ""  # why the scores were read as ``kind``


# --- reading ---------------------------------------------------------------------------------


def _read_npz(path: Path) -> dict[str, NDArray[Any]]:
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot read it as .npz (not a zip archive of .npy arrays, as numpy.savez writes)")
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _read_npy(path: Path) -> NDArray[Any]:
    with path.open("rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise InputError(f"{path}: cannot read it as .npy (no .npy header, as numpy.save writes)")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _read_pt(path: Path) -> dict[str, NDArray[Any]] | NDArray[Any]:
    import torch

    def to_numpy(tensor: torch.Tensor) -> NDArray[Any]:
        """A sparse tensor made dense, bfloat16 (which NumPy lacks) widened to float32."""
        tensor = tensor.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.numpy()

    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(loaded, torch.Tensor):
        return to_numpy(loaded)
    if isinstance(loaded, dict):
        return {str(k): to_numpy(v) for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    raise InputError(f"{path}: holds a {type(loaded).__name__}, expected a tensor or a dict of tensors")


def _read_csv(path: Path) -> dict[str, NDArray[Any]]:
    with path.open() as handle:
        header = [name.strip().strip("'\"").strip() for name in handle.readline().split(",")]
    if not header or all(name.replace(".", "").replace("-", "").isdigit() for name in header if name):
        raise InputError(f"{path}: a CSV needs a header line naming its columns (one per class, and 'label')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data"
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if table.size == 0:
        raise InputError(f"{path}: no examples (the CSV has a header line and no rows of numbers)")
    if table.shape[1] != len(header):
        raise InputError(f"{path}: {table.shape[1]} columns of numbers under a header of {len(header)}")
    columns = {"scores": np.delete(table, header.index("label"), axis=1) if "label" in header else table}
    if "label" in header:
        columns["labels"] = table[:, header.index("label")]
    return columns


def _read(path: Path) -> dict[str, NDArray[Any]] | NDArray[Any]:
    """The arrays in ``path``; failures become :class:`InputError`."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: unknown file type '{path.suffix}'; use one of {', '.join(SUFFIXES)}")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise InputError(f"{path}: is not a regular file (a pipe or a device?); save the predictions to a file")
    try:
        if suffix == ".npz":
            return _read_npz(path)
        if suffix == ".npy":
            return _read_npy(path)
        if suffix == ".csv":
            return _read_csv(path)
        return _read_pt(path)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, RuntimeError, TypeError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: cannot read it as {suffix} ({first_line})") from error


def _as_integer_labels(values: NDArray[Any], where: str) -> NDArray[np.int64]:
    labels = np.asarray(values)
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    if labels.ndim != 1:
        raise InputError(f"{where}: labels must have shape (n,), got {labels.shape}")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
            raise InputError(f"{where}: labels must be whole numbers (class indices)")
    elif not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{where}: labels must be class indices, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def _pick(arrays: dict[str, NDArray[Any]], keys: Sequence[str], path: Path, what: str) -> tuple[str, NDArray[Any]]:
    for key in keys:
        if key in arrays:
            return key, arrays[key]
    raise InputError(f"{path}: no {what} array (looked for {', '.join(keys)}; found {', '.join(arrays) or 'nothing'})")


def load_predictions(path: str | Path, labels_path: str | Path | None = None, kind: str = "auto") -> Predictions:
    """Read scores and labels, check them, and decide whether the scores are logits or probabilities."""
    path = Path(path)
    content = _read(path)
    stated_kind = None
    labels: NDArray[Any] | None = None
    if isinstance(content, dict):
        key, scores = _pick(content, list(SCORE_KEYS), path, "scores")
        stated_kind = SCORE_KEYS[key]
        if any(k in content for k in LABEL_KEYS):
            labels = _pick(content, LABEL_KEYS, path, "labels")[1]
    else:
        scores = content
    if labels_path is not None:
        extra = _read(Path(labels_path))
        labels = _pick(extra, LABEL_KEYS, Path(labels_path), "labels")[1] if isinstance(extra, dict) else extra
    if labels is None:
        raise InputError(f"{path}: no labels; store an array 'labels' with the scores or give --labels FILE")
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise InputError(f"{path}: scores must have shape (n, k) with k >= 2 classes, got {scores.shape}")
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise InputError(f"{path}: scores must be numbers, got dtype {scores.dtype}")
    n, k = scores.shape
    if n == 0:
        raise InputError(f"{path}: no examples")
    y = _as_integer_labels(labels, str(labels_path or path))
    if len(y) != n:
        raise InputError(f"{path}: {n} rows of scores but {len(y)} labels")
    if y.min() < 0 or y.max() >= k:
        raise InputError(f"{path}: labels must lie in [0, {k}) for {k} classes, got range [{y.min()}, {y.max()}]")
    if kind != "auto":
        reason = "as --kind says"
    elif stated_kind:
        reason = f"the file's array is named '{key}'"
    else:
        reason = ""
    return _decide_kind(
        scores, y, kind if kind != "auto" else (stated_kind or "auto"), _check_values(scores, path), str(path), reason
    )


@dataclass(frozen=True)
class RowSums:
    """Whether every score is non-negative, and the largest distance of a row's sum from 1."""

    non_negative: bool
    largest_deviation: float

    @property
    def distributions(self) -> bool:
        """Rows that are probability distributions, up to the rounding of stored probabilities."""
        return self.non_negative and self.largest_deviation <= ROUNDED_SUM_TOLERANCE

    def describe(self) -> str:
        if not self.non_negative:
            return "some scores are negative"
        if not self.distributions:
            return f"rows sum to values up to {self.largest_deviation:.3g} away from 1"
        if self.largest_deviation <= PROBABILITY_SUM_TOLERANCE:
            return "every row is non-negative and sums to 1"
        return (
            f"every row is non-negative and sums to 1 within {self.largest_deviation:.2g}: probabilities rounded or "
            "stored in low precision, each row divided by its sum"
        )


def _check_values(scores: NDArray[Any], path: Path) -> RowSums:
    """Refuse NaN, infinite or absurdly large scores; say how close the rows are to distributions."""
    non_negative, deviation = True, 0.0
    for rows in row_blocks(*scores.shape):
        block = np.asarray(scores[rows], dtype=np.float64)
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise InputError(
                f"{path}: scores contain NaN or infinite values (first at row {rows.start + row}, column {column})"
            )
        huge = np.abs(block) > MAX_ABS_SCORE
        if huge.any():
            row, column = np.argwhere(huge)[0]
            raise InputError(
                f"{path}: scores reach {block[row, column]:.3g} (row {rows.start + row}, column {column}); "
                f"logits beyond +-{MAX_ABS_SCORE:.0e} are not a working model's outputs (a diverged run?)"
            )
        non_negative = non_negative and bool((block >= 0).all())
        deviation = max(deviation, float(np.abs(block.sum(axis=1) - 1).max()))
    return RowSums(non_negative, deviation)


def double_softmax_ceiling(num_classes: int) -> float:
    """The largest confidence softmax can give to a probability vector: ``e / (e + k - 1)``."""
    return math.e / (math.e + num_classes - 1)


def _decide_kind(
    scores: NDArray[Any], labels: NDArray[np.int64], kind: str, sums: RowSums, source: str, reason: str
) -> Predictions:
    warnings = []
    look_like_probabilities = sums.distributions
    if kind == "auto":
        kind = "probabilities" if look_like_probabilities else "logits"
        reason = sums.describe()
    elif kind == "probabilities" and look_like_probabilities:
        reason = f"{reason}; {sums.describe()}"
    elif kind == "logits" and look_like_probabilities:
        warnings.append(
            "the scores given as logits are non-negative and every row sums to 1: they look like probabilities. "
            "A loss that applies softmax to them reports the double-softmax loss (chapter 2)."
        )
    elif kind == "probabilities" and not look_like_probabilities:
        raise InputError(
            f"{source}: the scores given as probabilities are not distributions ({sums.describe()}): "
            "they look like logits; pass --kind logits"
        )
    if kind == "probabilities":
        ceiling = double_softmax_ceiling(scores.shape[1])
        top = max(float(np.asarray(scores[rows]).max()) for rows in row_blocks(*scores.shape))
        if top <= ceiling + 1e-9:
            warnings.append(
                f"no confidence exceeds e/(e + k - 1) = {ceiling:.4f}, the most softmax can give to a probability "
                "vector: these look like probabilities passed through softmax twice."
            )
    return Predictions(scores, labels, kind, source, tuple(warnings), reason)


# --- the numbers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """One checkpoint's metrics, and the per-example values the report draws on."""

    source: str
    kind: str
    num_examples: int
    num_classes: int
    accuracy: float
    mean_loss: float
    top_k: int
    top_k_accuracy: float
    balanced_accuracy: float
    ece: float
    brier: float
    temperature: float
    heldout_loss: float
    heldout_loss_scaled: float
    bins: ReliabilityBins
    per_example_loss: FloatArray
    confidence: FloatArray
    predicted: NDArray[np.int64]
    correct: NDArray[np.bool_]
    warnings: tuple[str, ...]
    reason: str = ""  # why the scores were read as ``kind``
    infinite_losses: int = 0  # examples with probability 0 at the true class (loss -ln 0 = inf)
    mean_loss_clipped: float = math.nan  # the mean loss with those probabilities clipped to CLIP_PROBABILITY


def _log_probs(block: FloatArray, kind: str) -> FloatArray:
    if kind == "logits":
        return log_softmax(block)
    return np.log(np.maximum(block / block.sum(axis=1, keepdims=True), LOG_FLOOR))


def _as_logits(scores: NDArray[Any], kind: str) -> NDArray[Any]:
    """Logits as stored, or the log of probabilities (logits of the same distribution): one copy,
    in the scores' own float type, with zeros raised to its smallest normal number."""
    if kind == "logits":
        return scores
    floor = np.finfo(scores.dtype).tiny if np.issubdtype(scores.dtype, np.floating) else LOG_FLOOR
    log_probs = np.maximum(scores, floor)
    return np.log(log_probs, out=log_probs)


def diagnose(predictions: Predictions, num_bins: int = NUM_BINS, top_k: int = 5) -> Diagnosis:
    """Metrics of one checkpoint, computed a block of rows at a time.

    Loss ``l_i = -ln p_iy``; Brier ``sum_c (p_ic - [c = y_i])^2``; ECE over ``num_bins``
    right-closed bins; balanced accuracy ``(1/|C|) sum_{c in C} acc_c`` over the classes ``C``
    present in the labels; ``T`` fitted on the even rows, losses on the odd rows.

    A probability of 0 at the true class gives an infinite loss, and an infinite mean loss;
    ``per_example_loss`` holds ``-ln CLIP_PROBABILITY`` for such examples, so that
    ``mean_loss_clipped`` (and the loss change between checkpoints) stay finite, and
    ``infinite_losses`` counts them.
    """
    scores, labels = predictions.scores, predictions.labels
    n, k = scores.shape
    top_k = min(top_k, k)
    loss, confidence, brier = np.empty(n), np.empty(n), np.empty(n)
    infinite = np.zeros(n, dtype=bool)
    predicted = np.empty(n, dtype=np.int64)
    top_k_hits = 0.0
    for rows in row_blocks(n, k):
        block = np.asarray(scores[rows], dtype=np.float64)
        y = labels[rows]
        log_p = _log_probs(block, predictions.kind)
        p = np.exp(log_p)
        at_label = np.arange(len(y)), y
        if predictions.kind == "probabilities":
            infinite[rows] = block[at_label] == 0
        loss[rows] = np.where(infinite[rows], -math.log(CLIP_PROBABILITY), -log_p[at_label])
        confidence[rows] = p.max(axis=1)
        predicted[rows] = block.argmax(axis=1)
        brier[rows] = (p**2).sum(axis=1) - 2 * p[at_label] + 1
        top_k_hits += top_k_accuracy(block, y, top_k) * len(y)
    correct = predicted == labels
    classes = np.unique(labels)
    recall = np.bincount(labels[correct], minlength=k)[classes] / np.bincount(labels, minlength=k)[classes]
    bins = reliability_bins_from_confidence(confidence, correct, num_bins)
    fit_rows, held_out = slice(0, None, 2), slice(1, None, 2)
    if n >= 2:
        # Logits that look like probabilities were warned about: scale them as the model would.
        temperature = fit_temperature(
            _as_logits(scores[fit_rows], predictions.kind), labels[fit_rows], refuse_probabilities=False
        )
        heldout_scaled = scaled_loss(_as_logits(scores[held_out], predictions.kind), labels[held_out], temperature)
        heldout_loss = math.inf if infinite[held_out].any() else float(loss[held_out].mean())
    else:
        temperature, heldout_scaled, heldout_loss = math.nan, math.nan, math.nan
    return Diagnosis(
        source=predictions.source,
        kind=predictions.kind,
        num_examples=n,
        num_classes=k,
        accuracy=float(correct.mean()),
        mean_loss=math.inf if infinite.any() else float(loss.mean()),
        top_k=top_k,
        top_k_accuracy=top_k_hits / n,
        balanced_accuracy=float(recall.mean()),
        ece=calibration_error(bins),
        brier=float(brier.mean()),
        temperature=temperature,
        heldout_loss=heldout_loss,
        heldout_loss_scaled=heldout_scaled,
        bins=bins,
        per_example_loss=loss,
        confidence=confidence,
        predicted=predicted,
        correct=correct,
        warnings=predictions.warnings + _infinite_loss_warning(int(infinite.sum()), n, float(loss.mean())),
        reason=predictions.reason,
        infinite_losses=int(infinite.sum()),
        mean_loss_clipped=float(loss.mean()),
    )


def _infinite_loss_warning(count: int, n: int, clipped: float) -> tuple[str, ...]:
    if not count:
        return ()
    return (
        f"{count:,} of {n:,} examples give probability 0 to their true class: their loss, -ln 0, is infinite, and so "
        f"is the mean loss; with those probabilities clipped to {CLIP_PROBABILITY:.3g} the mean loss would be "
        f"{clipped:.4f}.",
    )


def most_confidently_wrong(
    diagnosis: Diagnosis, labels: NDArray[np.int64], count: int = WORST_SHOWN
) -> list[tuple[int, int, int, float, float]]:
    """(index, label, predicted, confidence, loss) of the wrong examples of highest confidence."""
    wrong = np.flatnonzero(~diagnosis.correct)
    order = wrong[np.argsort(-diagnosis.confidence[wrong], kind="stable")[:count]]
    return [
        (
            int(i),
            int(labels[i]),
            int(diagnosis.predicted[i]),
            float(diagnosis.confidence[i]),
            float(diagnosis.per_example_loss[i]),
        )
        for i in order
    ]


# --- the report ----------------------------------------------------------------------------------


def metric_rows(d: Diagnosis) -> list[tuple[str, str]]:
    """The report's metrics of one checkpoint, as (name, formatted value): the terminal and the
    HTML page show the same rows."""
    clipped = (
        [
            ("examples with p = 0 at the true class", f"{d.infinite_losses:,}"),
            (f"mean loss, p = 0 clipped to {CLIP_PROBABILITY:.3g}", f"{d.mean_loss_clipped:.4f}"),
        ]
        if d.infinite_losses
        else []
    )
    accuracy = accuracy_interval(int(d.correct.sum()), d.num_examples)
    loss_interval = (
        "undefined: some losses are infinite"
        if d.infinite_losses
        else "[{0.low:.4f}, {0.high:.4f}]".format(mean_interval(d.per_example_loss))
    )
    return [
        ("accuracy", f"{d.accuracy:.4f}"),
        ("  95% interval (Wilson)", f"[{accuracy.low:.4f}, {accuracy.high:.4f}]"),
        ("mean loss (cross-entropy)", f"{d.mean_loss:.4f}"),
        ("  95% interval (t)", loss_interval),
        *clipped,
        (f"top-{d.top_k} accuracy", f"{d.top_k_accuracy:.4f}"),
        ("balanced accuracy", f"{d.balanced_accuracy:.4f}"),
        (f"ECE ({len(d.bins.count)} right-closed bins)", f"{d.ece:.4f}"),
        ("Brier score (summed over classes)", f"{d.brier:.4f}"),
        ("temperature (fitted on even rows)", f"{d.temperature:.3f}"),
        ("loss on odd rows, raw", f"{d.heldout_loss:.4f}"),
        ("loss on odd rows, temperature-scaled", f"{d.heldout_loss_scaled:.4f}"),
    ]


def summary_lines(diagnosis: Diagnosis) -> list[str]:
    """The terminal report of one checkpoint."""
    d = diagnosis
    rows = metric_rows(d)
    return [
        f"{d.source}: {d.num_examples:,} examples, {d.num_classes} classes, read as {d.kind} ({d.reason})",
        *(f"  {name:<38}{value}" for name, value in rows),
    ] + [f"  warning: {w}" for w in d.warnings]


def change_lines(change: LossChange) -> list[str]:
    """The terminal report of the loss change between two checkpoints."""
    lines = [
        (
            f"change of the mean loss: {change.mean_loss_from:.4f} -> {change.mean_loss_to:.4f} ({change.total:+.4f}); "
            f"accuracy {change.accuracy_from:.4f} -> {change.accuracy_to:.4f}"
        )
    ]
    lines += [
        f"  {name:<26} {count:>9,} examples  {contribution:+.4f}"
        for name, count, contribution in zip(LOSS_CHANGE_GROUPS, change.count, change.contribution, strict=True)
    ]
    return lines


def class_rows(diagnosis: Diagnosis, labels: NDArray[np.int64]) -> list[tuple[str, str, str, str]]:
    """(class, examples, accuracy, mean loss) of each class present in ``labels``, the highest mean loss first."""
    d = diagnosis
    names = tuple(str(c) for c in range(d.num_classes))
    curves = per_class_curves(d.per_example_loss[None], d.correct[None], labels, names)
    present = np.flatnonzero(curves.count > 0)
    order = present[np.argsort(-curves.loss[0, present], kind="stable")]
    return [(names[c], f"{curves.count[c]:,}", f"{curves.accuracy[0, c]:.4f}", f"{curves.loss[0, c]:.4f}") for c in order]


def class_change_rows(a: Diagnosis, b: Diagnosis, labels: NDArray[np.int64]) -> list[tuple[str, str, str, str, str]]:
    """Each class present, from checkpoint ``a`` to ``b``: (class, mean loss, accuracy, share of the
    change of the mean loss, verdict), the largest share first (:func:`lossacc.per_class.class_rise`)."""
    names = tuple(str(c) for c in range(a.num_classes))
    present = {names[c] for c in np.flatnonzero(np.bincount(labels, minlength=a.num_classes))}
    rise = class_rise(a.per_example_loss, b.per_example_loss, a.correct, b.correct, labels, names)
    return [row for row in rise.rows() if row[0] in present]


def class_lines(diagnosis: Diagnosis, labels: NDArray[np.int64], shown: int = CLASSES_SHOWN) -> list[str]:
    """The terminal's per-class lines of one checkpoint: the ``shown`` classes of highest mean loss."""
    rows = class_rows(diagnosis, labels)
    return [f"  classes, highest mean loss first ({min(shown, len(rows))} of {len(rows)}):"] + [
        f"    class {c}: {n} examples, accuracy {acc}, mean loss {loss}" for c, n, acc, loss in rows[:shown]
    ]


def class_change_lines(a: Diagnosis, b: Diagnosis, labels: NDArray[np.int64], shown: int = CLASSES_SHOWN) -> list[str]:
    """The terminal's per-class lines of a change: the ``shown`` classes with the largest share of it."""
    rows = class_change_rows(a, b, labels)
    moved = "rose" if b.mean_loss > a.mean_loss else "fell"
    return [f"  classes whose loss {moved} most ({min(shown, len(rows))} of {len(rows)}):"] + [
        f"    class {c}: mean loss {loss}, accuracy {acc}, {share} of the change ({verdict})".replace(" → ", " -> ")
        for c, loss, acc, share, verdict in rows[:shown]
    ]


def paired_lines(first: Diagnosis, second: Diagnosis) -> list[str]:
    """The second checkpoint against the first on the same examples: McNemar's exact test for
    accuracy and the paired t interval of the per-example loss differences."""
    c = compare_paired(first.per_example_loss, first.correct, second.per_example_loss, second.correct)

    def verdict(real: bool) -> str:
        return "real at the 5% level" if real else "not distinguishable from noise at the 5% level"

    loss_line = (
        "paired: mean loss undefined: some losses are infinite"
        if first.infinite_losses or second.infinite_losses
        else f"paired: mean loss {c.loss.estimate:+.4f} [95%: {c.loss.low:+.4f}, {c.loss.high:+.4f}]; "
        f"p = {c.loss_pvalue:.3g}: {verdict(c.loss.excludes_zero())}"
    )
    return [
        f"paired: accuracy {c.accuracy.estimate:+.4f} [95%: {c.accuracy.low:+.4f}, {c.accuracy.high:+.4f}]; "
        f"McNemar exact p = {c.mcnemar.pvalue:.3g} ({c.mcnemar.only_a:,} right only in the first, "
        f"{c.mcnemar.only_b:,} only in the second): {verdict(c.mcnemar.pvalue < 0.05)}",
        loss_line,
    ]


# Colours readable on light and dark pages alike; the SVG styles itself, so it also works as an image.
INK = "#808080"
BAR = "#3b6fb6"
GAP = "#c0362c"


def reliability_svg(bins: ReliabilityBins, title: str) -> str:
    """A self-styled SVG reliability diagram: accuracy per bin, the gap to its mean confidence,
    the diagonal, and the number of examples in each bin above it."""
    width, height, left, bottom, top = 360, 320, 40, 40, 52
    side = width - left - 10
    plot_bottom = height - bottom
    size = plot_bottom - top

    def x(v: float) -> float:
        return left + side * v

    def y(v: float) -> float:
        return plot_bottom - size * v

    font = 'font-family="sans-serif" font-size="11"'
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>'
        ),
        f'<rect x="{x(0)}" y="{y(1)}" width="{side}" height="{size}" fill="none" stroke="{INK}" stroke-width="0.8"/>',
    ]
    for i in range(len(bins.count)):
        x0, x1 = x(bins.edges[i]), x(bins.edges[i + 1])
        middle = (x0 + x1) / 2
        parts.append(
            f'<text transform="translate({middle + 3.5:.1f},{top - 4}) rotate(-90)" {font} '
            f'fill="{INK}">{int(bins.count[i])}</text>'
        )
        if bins.count[i] == 0:
            continue
        accuracy, confidence = bins.accuracy[i], bins.confidence[i]
        parts.append(
            f'<rect x="{x0 + 0.5:.1f}" y="{y(accuracy):.1f}" width="{x1 - x0 - 1:.1f}" '
            f'height="{y(0) - y(accuracy):.1f}" fill="{BAR}"/>'
        )
        parts.append(
            f'<rect x="{x0 + 0.5:.1f}" y="{y(max(accuracy, confidence)):.1f}" width="{x1 - x0 - 1:.1f}" '
            f'height="{abs(y(accuracy) - y(confidence)):.1f}" fill="{GAP}" fill-opacity="0.4"/>'
        )
    parts.append(f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="{INK}" stroke-dasharray="4 3"/>')
    for v in (0, 0.5, 1):
        parts.append(f'<text x="{x(v):.1f}" y="{plot_bottom + 14}" text-anchor="middle" {font} fill="{INK}">{v:g}</text>')
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" {font} fill="{INK}">{v:g}</text>')
    parts.append(
        f'<text x="{x(0.5):.1f}" y="{height - 8}" text-anchor="middle" {font} fill="{INK}">'
        "top-1 confidence (blue: accuracy; red: gap to confidence)</text>"
    )
    parts.append(f'<text x="{left}" y="12" {font} fill="{INK}">examples in each bin:</text></svg>')
    return "".join(parts)


def change_svg(change: LossChange) -> str:
    """An inline SVG of each group's contribution to the change of the mean loss."""
    width, row, left = 360, 26, 170
    values = change.contribution
    scale = (width - left - 50) / max(float(np.abs(values).max()), 1e-12) / 2
    zero = left + (width - left - 50) / 2
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {row * len(values) + 20}" role="img" '
            'aria-label="Contribution of each example group to the change of the mean loss">'
        ),
        f'<line x1="{zero}" y1="0" x2="{zero}" y2="{row * len(values)}" stroke="{INK}" stroke-dasharray="4 3"/>',
    ]
    font = f'font-family="sans-serif" font-size="11" fill="{INK}"'
    for i, (name, value) in enumerate(zip(LOSS_CHANGE_GROUPS, values, strict=True)):
        x0 = min(zero, zero + value * scale)
        parts.append(f'<text x="0" y="{i * row + 17}" {font}>{html.escape(name)}</text>')
        parts.append(
            f'<rect x="{x0:.1f}" y="{i * row + 5}" width="{abs(value) * scale:.1f}" height="16" '
            f'fill="{GAP if value > 0 else BAR}"/>'
        )
        parts.append(f'<text x="{width - 2}" y="{i * row + 17}" text-anchor="end" {font}>{value:+.4f}</text>')
    return "".join(parts) + "</svg>"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.45; }
table { border-collapse: collapse; margin: .5rem 0; font-variant-numeric: tabular-nums; }
td, th { padding: .15rem .6rem; border-bottom: 1px solid #8884; text-align: right; }
td:first-child, th:first-child { text-align: left; }
svg { width: 100%; max-width: 30rem; height: auto; display: block; }
.warning { color: #b35c00; }
.scroll { overflow-x: auto; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #ddd; } }
"""


def report_frames(diagnoses: Sequence[Diagnosis]) -> list[tuple[str, pd.DataFrame]]:
    """The report as tables for a notebook, each with its caption: the metrics of each checkpoint
    side by side (the rows of the terminal and the HTML report), and for two checkpoints where
    the change of the mean loss came from."""
    metrics: dict[str, dict[str, str]] = {}
    for d in diagnoses:
        heading = ""
        for name, value in metric_rows(d):
            label = f"{heading}: {name.strip()}" if name.startswith(" ") else name
            heading = heading if name.startswith(" ") else name
            metrics.setdefault(d.source, {})[label] = value
    frames = [("Each checkpoint's numbers", pd.DataFrame(metrics).fillna(""))]
    if len(diagnoses) == 2:
        a, b = diagnoses
        change = loss_change_by_group(a.per_example_loss, b.per_example_loss, a.correct, b.correct)
        groups = loss_change_table(change)
        caption = f"Where the change of the mean loss came from ({change.mean_loss_from:.4f} → {change.mean_loss_to:.4f})"
        frames.append((caption, groups))
    return frames


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def html_report(diagnoses: Sequence[Diagnosis], labels: NDArray[np.int64], change: LossChange | None) -> str:
    """A self-contained HTML page (inline SVG, no external file or host) with the whole report."""
    sections = []
    for d in diagnoses:
        metrics = metric_rows(d)
        worst = [(i, y, p, f"{c:.4f}", f"{loss:.3f}") for i, y, p, c, loss in most_confidently_wrong(d, labels)]
        sections.append(
            f"<h2>{html.escape(d.source)}</h2><p>{d.num_examples:,} examples, {d.num_classes} classes, scores read as "
            f"{d.kind} ({html.escape(d.reason)}).</p>"
            + "".join(f'<p class="warning">Warning: {html.escape(w)}</p>' for w in d.warnings)
            + _table(("metric", "value"), metrics)
            + "<h3>Per class, highest mean loss first</h3>"
            + _table(("class", "examples", "accuracy", "mean loss"), class_rows(d, labels))
            + "<h3>Reliability diagram</h3>"
            + reliability_svg(d.bins, f"Reliability diagram of {d.source}")
            + "<h3>The most confidently wrong examples</h3>"
            + _table(("row", "label", "predicted", "confidence", "loss"), worst)
        )
    if change is not None:
        rows = [
            (name, f"{count:,}", f"{value:+.4f}")
            for name, count, value in zip(LOSS_CHANGE_GROUPS, change.count, change.contribution, strict=True)
        ]
        sections.append(
            f"<h2>From the first checkpoint to the second</h2><p>Mean loss {change.mean_loss_from:.4f} → {change.mean_loss_to:.4f} "
            f"({change.total:+.4f}); accuracy {change.accuracy_from:.4f} → {change.accuracy_to:.4f}. Each group's share of the change:</p>"
            + change_svg(change)
            + _table(("group", "examples", "contribution"), rows)
            + "<h3>Per class, largest share of the change first</h3>"
            + _table(
                ("class", "mean loss", "accuracy", "share of the change", "verdict"),
                class_change_rows(diagnoses[0], diagnoses[1], labels),
            )
            + "".join(f"<p>{html.escape(line)}</p>" for line in paired_lines(*diagnoses))
        )
    favicon = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"/>').decode()
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:image/svg+xml;base64,{favicon}">'
        f"<title>lossacc diagnose</title><style>{STYLE}</style></head><body><h1>lossacc diagnose</h1>"
        "<p>Calibration conventions: ECE over equal-width bins (m/M, (m+1)/M]; the Brier score sums over classes; "
        "the temperature is fitted on the even-numbered rows and judged on the odd-numbered ones.</p>"
        + "".join(sections)
        + "</body></html>"
    )


# --- the command -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions",
        nargs="+",
        metavar="FILE",
        help="one checkpoint's predictions, or two to compare (.npz, .npy, .pt, .csv)",
    )
    parser.add_argument("--labels", metavar="FILE", help="labels, when the predictions file has none")
    parser.add_argument(
        "--kind",
        choices=("auto", "logits", "probabilities"),
        default="auto",
        help="what the scores are (default: the file's key, else probabilities when every row is a distribution)",
    )
    parser.add_argument("--bins", type=int, default=NUM_BINS, help=f"ECE bins (default {NUM_BINS})")
    parser.add_argument("--top-k", type=int, default=5, help="k of the top-k accuracy (default 5)")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report here")


def run(arguments: argparse.Namespace) -> int:
    """Run the report; bad input is one line on stderr and exit status 2."""
    try:
        if len(arguments.predictions) > 2:
            raise InputError("give one predictions file, or two to compare")
        if not 1 <= arguments.bins <= MAX_NUM_BINS:
            raise InputError(f"--bins must be positive and at most {MAX_NUM_BINS:,}, got {arguments.bins:,}")
        if arguments.top_k < 1:
            raise InputError("--top-k must be positive")
        loaded = [load_predictions(p, arguments.labels, arguments.kind) for p in arguments.predictions]
        if len(loaded) == 2 and loaded[0].scores.shape[1] != loaded[1].scores.shape[1]:
            raise InputError(
                f"the two checkpoints have {loaded[0].scores.shape[1]} and {loaded[1].scores.shape[1]} classes: "
                "they must score the same classes of the same examples"
            )
        if len(loaded) == 2 and not np.array_equal(loaded[0].labels, loaded[1].labels):
            raise InputError(
                "the two checkpoints have different labels: they must score the same examples in the same order"
            )
        diagnoses = [diagnose(p, arguments.bins, arguments.top_k) for p in loaded]
        change = None
        if len(diagnoses) == 2:
            a, b = diagnoses
            change = loss_change_by_group(a.per_example_loss, b.per_example_loss, a.correct, b.correct)
        if arguments.html:
            Path(arguments.html).write_text(html_report(diagnoses, loaded[0].labels, change))
    except (InputError, ValueError, OSError) as error:
        print(f"{PROGRAM}: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    labels = loaded[0].labels
    for d in diagnoses:
        print("\n".join(summary_lines(d) + class_lines(d, labels)))
    if change is not None:
        print(
            "\n".join(
                change_lines(change)
                + paired_lines(*diagnoses)
                + class_change_lines(diagnoses[0], diagnoses[1], labels)
            )
        )
    if arguments.html:
        print(f"HTML report: {arguments.html}")
    return 0
