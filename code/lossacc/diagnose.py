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
(McNemar's exact test for accuracy, the paired t interval for the loss). The scores are read
a block of rows at a time, so memory stays near the input's own size.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from lossacc.calibration import (
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
from lossacc.run_analysis import LOSS_CHANGE_GROUPS, LossChange, loss_change_by_group
from lossacc.significance import accuracy_interval, compare_paired, mean_interval

PROGRAM = "lossacc diagnose"
SCORE_KEYS = {"logits": "logits", "probs": "probabilities", "probabilities": "probabilities", "scores": None}
LABEL_KEYS = ("labels", "targets", "y")
SUFFIXES = (".npz", ".npy", ".pt", ".pth", ".csv")
WORST_SHOWN = 10
# The smallest probability kept when probabilities are turned into log-probabilities for scaling.
LOG_FLOOR = float(np.finfo(np.float64).tiny)


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


# --- reading ---------------------------------------------------------------------------------


def _read_npz(path: Path) -> dict[str, NDArray[Any]]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _read_pt(path: Path) -> dict[str, NDArray[Any]] | NDArray[Any]:
    import torch

    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(loaded, torch.Tensor):
        return loaded.detach().numpy()
    if isinstance(loaded, dict):
        return {str(k): v.detach().numpy() for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    raise InputError(f"{path}: holds a {type(loaded).__name__}, expected a tensor or a dict of tensors")


def _read_csv(path: Path) -> dict[str, NDArray[Any]]:
    with path.open() as handle:
        header = [name.strip() for name in handle.readline().split(",")]
    if not header or all(name.replace(".", "").replace("-", "").isdigit() for name in header if name):
        raise InputError(f"{path}: a CSV needs a header line naming its columns (one per class, and 'label')")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
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
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if suffix == ".npz":
            return _read_npz(path)
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        if suffix == ".csv":
            return _read_csv(path)
        return _read_pt(path)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError) as error:
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
    look_like_probabilities = _check_values(scores, path)
    return _decide_kind(
        scores, y, kind if kind != "auto" else (stated_kind or "auto"), look_like_probabilities, str(path)
    )


def _check_values(scores: NDArray[Any], path: Path) -> bool:
    """Refuse NaN or infinite scores; return whether every row is non-negative and sums to 1."""
    rows_are_distributions = True
    for rows in row_blocks(*scores.shape):
        block = np.asarray(scores[rows], dtype=np.float64)
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise InputError(
                f"{path}: scores contain NaN or infinite values (first at row {rows.start + row}, column {column})"
            )
        if rows_are_distributions:
            rows_are_distributions = bool(
                (block >= 0).all() and (np.abs(block.sum(axis=1) - 1) <= PROBABILITY_SUM_TOLERANCE).all()
            )
    return rows_are_distributions


def double_softmax_ceiling(num_classes: int) -> float:
    """The largest confidence softmax can give to a probability vector: ``e / (e + k - 1)``."""
    return math.e / (math.e + num_classes - 1)


def _decide_kind(
    scores: NDArray[Any], labels: NDArray[np.int64], kind: str, look_like_probabilities: bool, source: str
) -> Predictions:
    warnings = []
    if kind == "auto":
        kind = "probabilities" if look_like_probabilities else "logits"
    elif kind == "logits" and look_like_probabilities:
        warnings.append(
            "the scores given as logits are non-negative and every row sums to 1: they look like probabilities. "
            "A loss that applies softmax to them reports the double-softmax loss (chapter 2)."
        )
    elif kind == "probabilities" and not look_like_probabilities:
        raise InputError(
            f"{source}: the scores given as probabilities are not distributions (negative entries or rows not summing "
            "to 1): they look like logits; pass --kind logits"
        )
    if kind == "probabilities":
        ceiling = double_softmax_ceiling(scores.shape[1])
        top = max(float(np.asarray(scores[rows]).max()) for rows in row_blocks(*scores.shape))
        if top <= ceiling + 1e-9:
            warnings.append(
                f"no confidence exceeds e/(e + k - 1) = {ceiling:.4f}, the most softmax can give to a probability "
                "vector: these look like probabilities passed through softmax twice."
            )
    return Predictions(scores, labels, kind, source, tuple(warnings))


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
    """
    scores, labels = predictions.scores, predictions.labels
    n, k = scores.shape
    top_k = min(top_k, k)
    loss, confidence, brier = np.empty(n), np.empty(n), np.empty(n)
    predicted = np.empty(n, dtype=np.int64)
    top_k_hits = 0.0
    for rows in row_blocks(n, k):
        block = np.asarray(scores[rows], dtype=np.float64)
        y = labels[rows]
        log_p = _log_probs(block, predictions.kind)
        p = np.exp(log_p)
        at_label = np.arange(len(y)), y
        loss[rows] = -log_p[at_label]
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
        temperature = fit_temperature(_as_logits(scores[fit_rows], predictions.kind), labels[fit_rows])
        heldout_scaled = scaled_loss(_as_logits(scores[held_out], predictions.kind), labels[held_out], temperature)
        heldout_loss = float(loss[held_out].mean())
    else:
        temperature, heldout_scaled, heldout_loss = math.nan, math.nan, math.nan
    return Diagnosis(
        source=predictions.source,
        kind=predictions.kind,
        num_examples=n,
        num_classes=k,
        accuracy=float(correct.mean()),
        mean_loss=float(loss.mean()),
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
        warnings=predictions.warnings,
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
    accuracy = accuracy_interval(int(d.correct.sum()), d.num_examples)
    loss = mean_interval(d.per_example_loss)
    return [
        ("accuracy", f"{d.accuracy:.4f}"),
        ("  95% interval (Wilson)", f"[{accuracy.low:.4f}, {accuracy.high:.4f}]"),
        ("mean loss (cross-entropy)", f"{d.mean_loss:.4f}"),
        ("  95% interval (t)", f"[{loss.low:.4f}, {loss.high:.4f}]"),
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
        f"{d.source}: {d.num_examples:,} examples, {d.num_classes} classes, {d.kind}",
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


def paired_lines(first: Diagnosis, second: Diagnosis) -> list[str]:
    """The second checkpoint against the first on the same examples: McNemar's exact test for
    accuracy and the paired t interval of the per-example loss differences."""
    c = compare_paired(first.per_example_loss, first.correct, second.per_example_loss, second.correct)

    def verdict(real: bool) -> str:
        return "real at the 5% level" if real else "not distinguishable from noise at the 5% level"

    return [
        f"paired: accuracy {c.accuracy.estimate:+.4f} [95%: {c.accuracy.low:+.4f}, {c.accuracy.high:+.4f}]; "
        f"McNemar exact p = {c.mcnemar.pvalue:.3g} ({c.mcnemar.only_a:,} right only in the first, "
        f"{c.mcnemar.only_b:,} only in the second): {verdict(c.mcnemar.pvalue < 0.05)}",
        f"paired: mean loss {c.loss.estimate:+.4f} [95%: {c.loss.low:+.4f}, {c.loss.high:+.4f}]; "
        f"p = {c.loss_pvalue:.3g}: {verdict(c.loss.excludes_zero())}",
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
            f'<text transform="translate({middle + 3.5:.1f},{top - 4}) rotate(-90)" font-family="sans-serif" font-size="9" '
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
            f"<h2>{html.escape(d.source)}</h2><p>{d.num_examples:,} examples, {d.num_classes} classes, scores read as {d.kind}.</p>"
            + "".join(f'<p class="warning">Warning: {html.escape(w)}</p>' for w in d.warnings)
            + _table(("metric", "value"), metrics)
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


class Parser(argparse.ArgumentParser):
    """Reports a bad command line in one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
        if arguments.bins < 1 or arguments.top_k < 1:
            raise InputError("--bins and --top-k must be positive")
        loaded = [load_predictions(p, arguments.labels, arguments.kind) for p in arguments.predictions]
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
    for d in diagnoses:
        print("\n".join(summary_lines(d)))
    if change is not None:
        print("\n".join(change_lines(change) + paired_lines(*diagnoses)))
    if arguments.html:
        print(f"HTML report: {arguments.html}")
    return 0
