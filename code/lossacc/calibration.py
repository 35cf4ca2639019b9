"""Calibration: how far confidence can be trusted, and temperature scaling (Guo et al., 2017).

``probs`` and ``logits`` have shape ``(n, k)`` with ``n >= 1`` and ``k >= 2``; ``labels`` has
shape ``(n,)`` and holds integers in ``[0, k)``. Bad input (labels out of range or not
integers, rows of ``probs`` that are not distributions, non-finite values, no examples)
raises ``ValueError``.

Calibration is judged on the top-1 *confidence* ``c_i = max_j p_ij`` against whether the
top-1 prediction is right. ``M`` equal-width bins, **right-closed**,
``B_m = {i : c_i in (m/M, (m+1)/M]}`` (``M = 15`` by default, as Guo et al. 2017), give the
reliability diagram and the expected calibration error
``ECE = sum_m |B_m|/n |acc(B_m) - conf(B_m)|``. The edge convention matters only for
confidences exactly on an edge: right-closed bins are those of Guo et al.'s reference code
and of netcal's default; torchmetrics and netcal's left-closed option put such a confidence in
the bin above (``right_closed=False`` here). On 400 confidences that are multiples of 1/30
(chapter 5's example), torchmetrics 1.9's ``multiclass_calibration_error`` gives 0.1175, the
left-closed figure, against 0.1083 right-closed; away from edges the two agree (to 1e-8 on
random softmax outputs).

The Brier score here **sums over the classes**, ``(1/n) sum_i sum_c (p_ic - [c = y_i])^2``,
between 0 and 2; for two classes that is twice scikit-learn's ``brier_score_loss``, which
scores the positive class only.

Temperature scaling divides the logits by one ``T > 0`` fitted to minimise the mean
cross-entropy on held-out data; it changes confidence but never the predicted class.
Large inputs are processed a block of rows at a time (``BLOCK_ENTRIES`` values), so a float32
array (even a memory-mapped one) is never copied whole into float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from lossacc.metrics import FloatArray, _as_labels, log_softmax, per_example_loss_from_logits, softmax

NUM_BINS = 15
MAX_NUM_BINS = 10_000  # more bins than this hold almost nothing each, and cost memory for nothing
TEMPERATURE_BOUNDS = (0.01, 100.0)
PROBABILITY_SUM_TOLERANCE = 1e-4
BLOCK_ENTRIES = 2**18  # entries of one block of rows (2 MiB in float64)


def _as_scores(values: ArrayLike, name: str) -> NDArray[np.floating]:
    """``values`` as an ``(n, k)`` real array (its own dtype kept), refused if empty or not finite."""
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, k) with k >= 2 classes, got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} holds no examples")
    for rows in row_blocks(*array.shape):
        if not np.isfinite(array[rows]).all():
            raise ValueError(f"{name} contain NaN or infinite values")
    return array


def _as_probs(probs: ArrayLike) -> FloatArray:
    """``probs`` as float64 ``(n, k)``, each row non-negative and summing to 1."""
    p = np.asarray(_as_scores(probs, "probs"), dtype=np.float64)
    sums = p.sum(axis=1)
    if (p < 0).any() or (np.abs(sums - 1) > PROBABILITY_SUM_TOLERANCE).any():
        raise ValueError(
            f"each row of probs must be non-negative and sum to 1 (row sums range from {sums.min():.4g} "
            f"to {sums.max():.4g}, smallest entry {p.min():.4g}); pass softmax(logits), not logits"
        )
    return p


def _rows_are_distributions(scores: NDArray[np.floating]) -> bool:
    """Whether every row of ``scores`` is non-negative and sums to 1 (within ``PROBABILITY_SUM_TOLERANCE``)."""
    for rows in row_blocks(*scores.shape):
        block = np.asarray(scores[rows], dtype=np.float64)
        if (block < 0).any() or (np.abs(block.sum(axis=1) - 1) > PROBABILITY_SUM_TOLERANCE).any():
            return False
    return True


def row_blocks(n: int, columns: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)``, each of at most ``BLOCK_ENTRIES // columns`` rows (at least 1)."""
    rows = max(1, BLOCK_ENTRIES // max(columns, 1))
    return (slice(start, min(start + rows, n)) for start in range(0, n, rows))


def per_example_brier(probs: ArrayLike, labels: ArrayLike) -> FloatArray:
    """``b_i = sum_c (p_ic - [c = y_i])^2 = sum_c p_ic^2 - 2 p_iy + 1``, between 0 and 2."""
    p = _as_probs(probs)
    y = _as_labels(labels, *p.shape)
    return (p**2).sum(axis=1) - 2 * p[np.arange(len(y)), y] + 1


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """Multi-class Brier score ``(1/n) sum_i sum_c (p_ic - [c = y_i])^2``, summed over classes (0 to 2).

    Like log loss it is a proper scoring rule, but one confident mistake costs at most 2.
    For two classes it is twice scikit-learn's ``brier_score_loss``.
    """
    return float(per_example_brier(probs, labels).mean())


@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin: edges ``(M + 1,)``, example count, mean confidence and accuracy ``(M,)``."""

    edges: FloatArray
    count: FloatArray
    confidence: FloatArray
    accuracy: FloatArray


def _check_num_bins(num_bins: int) -> None:
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or not 1 <= num_bins <= MAX_NUM_BINS:
        raise ValueError(f"num_bins must be a positive integer, at most {MAX_NUM_BINS:,}, got {num_bins!r}")


def _as_confidence(confidence: ArrayLike) -> FloatArray:
    c = np.asarray(confidence, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"confidence must be a non-empty (n,) array, got shape {c.shape}")
    if not np.isfinite(c).all() or (c <= 0).any() or (c > 1).any():
        raise ValueError(f"confidences must lie in (0, 1], got range [{c.min():.4g}, {c.max():.4g}]")
    return c


def equal_mass_edges(confidence: ArrayLike, num_bins: int = NUM_BINS) -> FloatArray:
    """Bin edges holding about ``n / M`` confidences each: 0, the ``m/M`` quantiles, and 1."""
    _check_num_bins(num_bins)
    inner = np.quantile(_as_confidence(confidence), np.arange(1, num_bins) / num_bins)
    return np.concatenate([[0.0], inner, [1.0]])


def reliability_bins_from_confidence(
    confidence: ArrayLike,
    correct: ArrayLike,
    num_bins: int = NUM_BINS,
    edges: ArrayLike | None = None,
    right_closed: bool = True,
) -> ReliabilityBins:
    """Bins of the top-1 confidences ``c_i`` in ``(0, 1]``, with the accuracy in each.

    ``correct`` says whether each top-1 prediction is right. The bins are ``num_bins`` of equal
    width unless ``edges`` (non-decreasing, from 0 to 1) are given; ``right_closed`` bins are
    ``(e_m, e_{m+1}]``, otherwise ``[e_m, e_{m+1})`` (and 1 in the last bin). Empty bins have
    NaN confidence and accuracy.
    """
    c = _as_confidence(confidence)
    right = np.asarray(correct)
    if right.shape != c.shape:
        raise ValueError(f"confidence and correct must be of one shape (n,), got {c.shape} and {right.shape}")
    if edges is None:
        _check_num_bins(num_bins)
        bin_edges = np.arange(num_bins + 1) / num_bins
    else:
        bin_edges = np.asarray(edges, dtype=np.float64)
        if (
            bin_edges.ndim != 1
            or not 2 <= len(bin_edges) <= MAX_NUM_BINS + 1
            or not np.isfinite(bin_edges).all()
            or (np.diff(bin_edges) < 0).any()
            or bin_edges[0] != 0
            or bin_edges[-1] != 1
        ):
            raise ValueError(
                f"edges must be a non-decreasing sequence from 0 to 1 (2 to {MAX_NUM_BINS + 1:,} finite values) "
                f"that covers every confidence, got {np.array2string(bin_edges, threshold=6)}"
            )
    count_bins = len(bin_edges) - 1
    which = np.searchsorted(bin_edges, c, side="left" if right_closed else "right") - 1
    which = np.clip(which, 0, count_bins - 1)
    count = np.bincount(which, minlength=count_bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, weights=c, minlength=count_bins) / count
        bin_accuracy = np.bincount(which, weights=right.astype(np.float64), minlength=count_bins) / count
    return ReliabilityBins(bin_edges, count, mean_confidence, bin_accuracy)


def reliability_bins(probs: ArrayLike, labels: ArrayLike, num_bins: int = NUM_BINS) -> ReliabilityBins:
    """Top-1 confidence ``max_c p_ic`` in the right-closed bins ``(m/M, (m+1)/M]``, with the accuracy in each."""
    p = _as_probs(probs)
    y = _as_labels(labels, *p.shape)
    return reliability_bins_from_confidence(p.max(axis=1), p.argmax(axis=1) == y, num_bins)


def calibration_error(bins: ReliabilityBins) -> float:
    """``ECE = sum_m (n_m / n) |acc_m - conf_m|`` over the filled bins."""
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float((bins.count[filled] * gaps).sum() / bins.count.sum())


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, num_bins: int = NUM_BINS) -> float:
    """``ECE = sum_m (n_m / n) |acc_m - conf_m|`` over the bins of :func:`reliability_bins` (15 by default)."""
    return calibration_error(reliability_bins(probs, labels, num_bins))


@dataclass(frozen=True)
class ScaledLossDerivatives:
    """Mean loss ``f(b)`` of the logits ``b z`` (``b = 1/T``) and its derivatives ``f'(b)`` and ``f''(b)``."""

    loss: float
    slope: float
    curvature: float


def scaled_loss_derivatives(logits: ArrayLike, labels: ArrayLike, inverse_temperature: float) -> ScaledLossDerivatives:
    """With ``p = softmax(b z_i)``: ``f = mean_i [logsumexp(b z_i) - b z_iy]``,
    ``f' = mean_i [E_p z_i - z_iy]`` and ``f'' = mean_i Var_p z_i`` (so f is convex in b)."""
    z_all = _as_scores(logits, "logits")
    y_all = _as_labels(labels, *z_all.shape)
    return _derivatives(z_all, y_all, inverse_temperature)


def _derivatives(
    logits: NDArray[np.floating], labels: NDArray[np.int64], inverse_temperature: float
) -> ScaledLossDerivatives:
    """:func:`scaled_loss_derivatives` on checked inputs, a block of rows at a time."""
    loss = slope = curvature = 0.0
    for rows in row_blocks(*logits.shape):
        z = np.asarray(logits[rows], dtype=np.float64)
        y = labels[rows]
        log_p = log_softmax(inverse_temperature * z)
        p = np.exp(log_p)
        true_z = z[np.arange(len(y)), y]
        mean_z = (p * z).sum(axis=1)
        loss -= float(log_p[np.arange(len(y)), y].sum())
        slope += float((mean_z - true_z).sum())
        curvature += float(((p * z**2).sum(axis=1) - mean_z**2).sum())
    n = len(labels)
    return ScaledLossDerivatives(loss / n, slope / n, curvature / n)


def fit_temperature(
    logits: ArrayLike, labels: ArrayLike, tolerance: float = 1e-10, *, refuse_probabilities: bool = True
) -> float:
    """``T* = argmin_T (1/n) sum_i -log softmax(z_i / T)[y_i]`` within ``TEMPERATURE_BOUNDS``.

    With ``b = 1/T`` the loss ``f(b)`` is convex (:func:`scaled_loss_derivatives`), so its
    minimum is where ``f'(b) = 0``: Newton's method ``b <- b - f'(b)/f''(b)`` from ``b = 1``,
    kept inside a bracket where ``f'`` changes sign (a step leaving it bisects the bracket
    on a log scale instead). When ``f'`` keeps one sign the minimum is at a bound.

    Probabilities are refused (rows non-negative and summing to 1): scaling them as logits
    fits a meaningless temperature; pass the logits, or ``np.log(probs)``. Pass
    ``refuse_probabilities=False`` to scale them as logits anyway (what a model whose outputs
    already went through softmax does: the double-softmax bug).
    """
    if not (isinstance(tolerance, (int, float, np.floating)) and 0 < tolerance < 1):
        raise ValueError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    z = _as_scores(logits, "logits")
    y = _as_labels(labels, *z.shape)
    if refuse_probabilities and _rows_are_distributions(z):
        raise ValueError(
            "the logits are non-negative and every row sums to 1: they look like probabilities; "
            "pass the logits, or np.log(probs)"
        )
    low, high = 1 / TEMPERATURE_BOUNDS[1], 1 / TEMPERATURE_BOUNDS[0]
    b = 1.0
    current = _derivatives(z, y, b)
    if current.slope < 0:
        if _derivatives(z, y, high).slope <= 0:
            return TEMPERATURE_BOUNDS[0]
        low = b
    elif current.slope > 0:
        if _derivatives(z, y, low).slope >= 0:
            return TEMPERATURE_BOUNDS[1]
        high = b
    for _ in range(200):
        if current.slope == 0:
            return 1 / b
        proposal = b - current.slope / current.curvature if current.curvature > 0 else math.nan
        if not low < proposal < high:
            proposal = math.sqrt(low * high)
        if abs(proposal - b) <= tolerance * b:
            return 1 / proposal
        b = proposal
        current = _derivatives(z, y, b)
        if current.slope < 0:
            low = b
        else:
            high = b
    raise RuntimeError("temperature fit did not converge")


def scaled_loss(logits: ArrayLike, labels: ArrayLike, temperature: float) -> float:
    """Mean cross-entropy of the temperature-scaled logits, ``(1/n) sum_i -log softmax(z_i / T)[y_i]``, ``T > 0``."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    z = _as_scores(logits, "logits")
    y = _as_labels(labels, *z.shape)
    total = sum(
        float(per_example_loss_from_logits(_divide(z[rows], temperature), y[rows]).sum()) for rows in row_blocks(*z.shape)
    )
    return total / len(y)


def _divide(logits: NDArray[np.floating], temperature: float) -> FloatArray:
    """``z / T`` in float64, refused when it overflows (a temperature too small for these logits)."""
    with np.errstate(over="ignore"):
        scaled = np.asarray(logits, dtype=np.float64) / temperature
    if not np.isfinite(scaled).all():
        raise ValueError(f"temperature {temperature:.4g} is too small: the logits divided by it overflow")
    return scaled


def scaled_probs(logits: ArrayLike, temperature: float) -> FloatArray:
    """``softmax(z / T)``: the probabilities after temperature scaling (the argmax is unchanged)."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    return softmax(_divide(_as_scores(logits, "logits"), temperature))


@dataclass(frozen=True)
class ScalingResult:
    """Temperature scaling fitted on one part of a validation set and judged on the other."""

    temperature: float
    accuracy_before: float
    accuracy_after: float
    loss_before: float
    loss_after: float
    ece_before: float
    ece_after: float


def fit_and_judge_temperature(
    logits: ArrayLike, labels: ArrayLike, fit_mask: ArrayLike, num_bins: int = NUM_BINS
) -> ScalingResult:
    """``T`` fitted on the rows where ``fit_mask`` is true; accuracy, loss and ECE of the other rows
    before and after dividing their logits by ``T``."""
    z = np.asarray(_as_scores(logits, "logits"), dtype=np.float64)
    y = _as_labels(labels, *z.shape)
    fit = np.asarray(fit_mask, dtype=bool)
    if fit.shape != y.shape or fit.all() or not fit.any():
        raise ValueError("fit_mask must be a boolean (n,) mask with rows on both sides")
    temperature = fit_temperature(z[fit], y[fit])
    held_z, held_y = z[~fit], y[~fit]
    before, after = softmax(held_z), scaled_probs(held_z, temperature)
    return ScalingResult(
        temperature=temperature,
        accuracy_before=float((before.argmax(axis=1) == held_y).mean()),
        accuracy_after=float((after.argmax(axis=1) == held_y).mean()),
        loss_before=scaled_loss(held_z, held_y, 1.0),
        loss_after=scaled_loss(held_z, held_y, temperature),
        ece_before=expected_calibration_error(before, held_y, num_bins),
        ece_after=expected_calibration_error(after, held_y, num_bins),
    )


@dataclass(frozen=True)
class TemperatureReadouts:
    """What the temperature explorer shows at one temperature: the Python twin of ``temperature.js``."""

    accuracy: float
    mean_loss: float
    mean_confidence: float
    ece: float
    bins: ReliabilityBins


def temperature_readouts(logits: ArrayLike, labels: ArrayLike, temperature: float, num_bins: int = NUM_BINS) -> TemperatureReadouts:
    """Accuracy, mean loss, mean top-1 confidence, ECE and reliability bins of ``softmax(z / T)``."""
    probs = scaled_probs(logits, temperature)
    y = _as_labels(labels, *probs.shape)
    bins = reliability_bins(probs, y, num_bins)
    return TemperatureReadouts(
        accuracy=float((probs.argmax(axis=1) == y).mean()),
        mean_loss=scaled_loss(logits, y, temperature),
        mean_confidence=float(probs.max(axis=1).mean()),
        ece=calibration_error(bins),
        bins=bins,
    )


def scaling_table(results: Mapping[int, ScalingResult]) -> pd.DataFrame:
    """One row per epoch of ``{epoch: fit_and_judge_temperature(...)}``: the fitted temperature,
    the held-out accuracy (which scaling never changes) and the held-out loss and ECE before and
    after scaling."""
    rows = {
        epoch: {
            "fitted T": r.temperature,
            "accuracy": r.accuracy_before,
            "loss before": r.loss_before,
            "loss after": r.loss_after,
            "ECE before": r.ece_before,
            "ECE after": r.ece_after,
        }
        for epoch, r in results.items()
    }
    if any(r.accuracy_after != r.accuracy_before for r in results.values()):
        raise ValueError("a temperature changed the held-out accuracy: the argmax must not move")
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("after epoch")


def binning_table(probabilities: Mapping[str, ArrayLike], labels: ArrayLike, bin_counts: Sequence[int]) -> pd.DataFrame:
    """The ECE of each named set of probabilities under ``M`` equal-width and ``M`` equal-mass
    bins, one row per ``M`` of ``bin_counts``: how much the answer depends on the binning."""
    columns = {}
    for name, probs in probabilities.items():
        probs = np.asarray(probs)
        confidence, right = probs.max(axis=1), probs.argmax(axis=1) == np.asarray(labels)
        columns[f"{name}, equal width"] = [calibration_error(reliability_bins_from_confidence(confidence, right, m)) for m in bin_counts]
        columns[f"{name}, equal mass"] = [
            calibration_error(reliability_bins_from_confidence(confidence, right, edges=equal_mass_edges(confidence, m)))
            for m in bin_counts
        ]
    return pd.DataFrame(columns, index=pd.Index(list(bin_counts), name="bins M"))
