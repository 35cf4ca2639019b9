"""Log-loss asymmetry: why a few confident mistakes can outweigh many small gains.

The library behind the chapter "Log-loss asymmetry". Every function works with the
probability ``p`` that a model gives to the *true* class; the per-example loss is
``-ln p`` and an example is right when the true class wins the argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lossacc.metrics import (
    BoolArray,
    FloatArray,
    IntArray,
    accuracy,
    cross_entropy_from_probs,
    per_example_loss_from_logits,
    per_example_loss_from_probs,
)

CONFIDENT_RIGHT, BORDERLINE, CONFIDENTLY_WRONG = 0, 1, 2
GROUP_NAMES = ("confident right", "borderline", "confidently wrong")
# Argmax margin of each group, as (mean, standard deviation) of a normal distribution.
GROUP_MARGINS = ((3.5, 1.0), (-0.3, 0.4), (-3.0, 0.8))
GROUP_SIZES = (1500, 340, 160)


# --- one example: the shape of -ln p -------------------------------------------------


def binary_probs(true_class_prob: ArrayLike) -> tuple[FloatArray, IntArray]:
    """Two-class predictions with true-class probability ``p``: rows ``[1 - p, p]``, labels ``1``.

    With this layout an argmax tie at ``p = 1/2`` goes to class 0, so an example is
    right exactly when ``p > 1/2``.
    """
    p = np.atleast_1d(np.asarray(true_class_prob, dtype=np.float64))
    return np.stack([1.0 - p, p], axis=1), np.ones(len(p), dtype=np.int64)


def true_class_loss(true_class_prob: ArrayLike) -> FloatArray:
    """Per-example cross-entropy ``-ln p`` of a true-class probability ``p``."""
    return per_example_loss_from_probs(*binary_probs(true_class_prob))


def loss_slope(true_class_prob: ArrayLike) -> FloatArray:
    """Derivative of the loss with respect to the true-class probability: ``d(-ln p)/dp = -1/p``."""
    return -1.0 / np.asarray(true_class_prob, dtype=np.float64)


def loss_change(before: ArrayLike, after: ArrayLike) -> FloatArray:
    """Change of each example's loss when ``p`` moves from ``before`` to ``after``: ``ln(before/after)``."""
    return true_class_loss(after) - true_class_loss(before)


# --- four images ------------------------------------------------------------------------

FOUR_IMAGE_NAMES = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Snapshot:
    """True-class probabilities of a few examples and the two metrics they give."""

    true_class_prob: FloatArray
    accuracy: float
    mean_loss: float


def snapshot(true_class_prob: ArrayLike) -> Snapshot:
    """Accuracy (share with ``p > 1/2``) and mean loss ``mean(-ln p)`` of two-class predictions."""
    probs, labels = binary_probs(true_class_prob)
    return Snapshot(probs[:, 1], accuracy(probs, labels), cross_entropy_from_probs(probs, labels))


@dataclass(frozen=True)
class FourImageScenario:
    """Images A, B (confident right), C (borderline) and D (confidently wrong), before and after."""

    before: Snapshot
    after: Snapshot


def four_image_scenario(
    confident: float = 0.90, borderline: float = 0.49, wrong: float = 0.10, step: float = 0.02
) -> FourImageScenario:
    """A and B move from ``confident`` to ``confident + step``, C from ``borderline`` to
    ``borderline + step``, D from ``wrong`` down to ``wrong - step``.

    C crosses the decision threshold when ``borderline < 1/2 < borderline + step``.
    """
    before = np.array([confident, confident, borderline, wrong])
    after = before + np.array([step, step, step, -step])
    if not ((before > 0) & (before <= 1) & (after > 0) & (after <= 1)).all():
        raise ValueError(f"probabilities must stay in (0, 1], got {before} -> {after}")
    return FourImageScenario(snapshot(before), snapshot(after))


def break_even_wrong_probability(confident: float = 0.90, borderline: float = 0.49, step: float = 0.02) -> float:
    """Starting probability of D at which the four-image mean loss does not change.

    A, B and C lower the summed loss by ``G = 2 ln((c + s)/c) + ln((b + s)/b)``; D raises it
    by ``ln(w / (w - s))``. The two cancel at ``w* = s e^G / (e^G - 1)``: the mean loss
    rises for ``w < w*`` and falls for ``w > w*``.
    """
    gain = -loss_change([confident, confident, borderline], [confident + step, confident + step, borderline + step]).sum()
    return float(step * np.exp(gain) / np.expm1(gain))


# --- a validation set: populations -----------------------------------------------------


@dataclass(frozen=True)
class Population:
    """A validation set of logits ``(n, k)``, labels ``(n,)`` and group membership ``(n,)``."""

    logits: FloatArray
    labels: IntArray
    group: IntArray

    def _true_and_others(self) -> tuple[FloatArray, FloatArray]:
        rows = np.arange(len(self.labels))
        others = self.logits.copy()
        others[rows, self.labels] = -np.inf
        return self.logits[rows, self.labels], others

    @property
    def true_log_odds(self) -> FloatArray:
        """``a_i = z_iy - ln sum_{c != y} e^{z_ic}``, so that ``p_i = 1 / (1 + e^{-a_i})``."""
        true_logit, others = self._true_and_others()
        top = others.max(axis=1)
        return true_logit - top - np.log(np.exp(others - top[:, None]).sum(axis=1))

    @property
    def argmax_margin(self) -> FloatArray:
        """``b_i = z_iy - max_{c != y} z_ic``: the example is right when ``b_i > 0``."""
        true_logit, others = self._true_and_others()
        return true_logit - others.max(axis=1)


def make_population(
    num_classes: int = 2, group_sizes: Sequence[int] = GROUP_SIZES, seed: int = 0
) -> Population:
    """A seeded validation set made of the three groups of :data:`GROUP_NAMES`.

    Each example draws a label uniformly, ``k - 1`` wrong-class logits from ``N(0, 1)`` and
    an argmax margin ``b`` from its group's normal distribution (:data:`GROUP_MARGINS`);
    the true-class logit is ``max(wrong logits) + b``. With two classes ``a = b``.
    """
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(len(group_sizes)), group_sizes)
    means, sds = np.array(GROUP_MARGINS).T
    margin = rng.normal(means[group], sds[group])
    n = len(group)
    labels = rng.integers(num_classes, size=n)
    logits = rng.standard_normal((n, num_classes))
    rows = np.arange(n)
    logits[rows, labels] = -np.inf
    logits[rows, labels] = logits.max(axis=1) + margin
    return Population(logits, labels, group)


def shift_true_class(population: Population, shifts: Sequence[float]) -> FloatArray:
    """Logits with each example's true-class logit moved by its group's shift: ``z_iy + s_{g_i}``."""
    logits = population.logits.copy()
    rows = np.arange(len(population.labels))
    logits[rows, population.labels] += np.asarray(shifts, dtype=np.float64)[population.group]
    return logits


def log_odds_loss(true_log_odds: ArrayLike) -> FloatArray:
    """Loss from the true-class log-odds ``a``: ``-ln p = ln(1 + e^{-a})``.

    Computed as the cross-entropy of the two-class logits ``[0, a]`` with label 1.
    """
    a = np.atleast_1d(np.asarray(true_log_odds, dtype=np.float64))
    return per_example_loss_from_logits(np.stack([np.zeros_like(a), a], axis=1), np.ones(len(a), dtype=np.int64))


@dataclass(frozen=True)
class PopulationReadouts:
    """What the population explorer shows for one position of its three sliders."""

    true_class_prob: FloatArray
    per_example_loss: FloatArray
    correct: BoolArray
    accuracy: float
    mean_loss: float
    group_accuracy: FloatArray
    group_mean_loss: FloatArray


def population_readouts(
    true_log_odds: ArrayLike, argmax_margin: ArrayLike, group: ArrayLike, shifts: Sequence[float]
) -> PopulationReadouts:
    """Readouts after moving every true-class logit of group ``g`` by ``shifts[g]``.

    With ``a_i`` the true-class log-odds, ``b_i`` the argmax margin and ``s = shifts[g_i]``:

    - ``p_i = 1 / (1 + exp(-(a_i + s)))``
    - ``loss_i = -ln p_i = ln(1 + exp(-(a_i + s)))``
    - ``correct_i = (b_i + s > 0)``
    - ``accuracy = mean(correct)``, ``mean_loss = mean(loss)``; per group, the same means
      over that group's examples.

    Moving the true-class logit moves ``a`` and ``b`` by the same amount, so this equals
    the library's metrics on :func:`shift_true_class` logits.
    """
    g = np.asarray(group, dtype=np.int64)
    s = np.asarray(shifts, dtype=np.float64)[g]
    losses = log_odds_loss(np.asarray(true_log_odds, dtype=np.float64) + s)
    correct = np.asarray(argmax_margin, dtype=np.float64) + s > 0
    counts = np.bincount(g, minlength=len(shifts))
    return PopulationReadouts(
        true_class_prob=np.exp(-losses),
        per_example_loss=losses,
        correct=correct,
        accuracy=float(correct.mean()),
        mean_loss=float(losses.mean()),
        group_accuracy=np.bincount(g, weights=correct, minlength=len(shifts)) / counts,
        group_mean_loss=np.bincount(g, weights=losses, minlength=len(shifts)) / counts,
    )


def fewest_drifters(population: Population, crossing_shift: float, drift_shift: float) -> int:
    """Fewest confidently-wrong examples whose drift cancels the loss gained by the crossers.

    Every borderline example's true-class logit moves up by ``crossing_shift``, lowering
    the summed loss by ``G``. A confidently-wrong example drifting by ``-drift_shift`` adds
    ``d_i = ln(1 + e^{-(a_i - drift_shift)}) - ln(1 + e^{-a_i})``. The answer is the smallest
    ``m`` with the ``m`` largest ``d_i`` summing to at least ``G``.
    """
    a = population.true_log_odds
    borderline = a[population.group == BORDERLINE]
    wrong = a[population.group == CONFIDENTLY_WRONG]
    gain = (log_odds_loss(borderline) - log_odds_loss(borderline + crossing_shift)).sum()
    added = np.sort(log_odds_loss(wrong - drift_shift) - log_odds_loss(wrong))[::-1]
    enough = np.cumsum(added) >= gain
    if not enough.any():
        raise ValueError("the whole confidently-wrong group drifting does not cancel the gain")
    return int(np.argmax(enough)) + 1


# --- several classes ---------------------------------------------------------------------


def rival_distribution(true_class_prob: float, rival_prob: float, num_classes: int) -> FloatArray:
    """A probability vector with the truth at index 0, its strongest rival at index 1 and
    ``1 - p_true - p_rival`` shared equally by the other ``k - 2`` classes."""
    rest = 1.0 - true_class_prob - rival_prob
    if rest < -1e-12 or (num_classes < 3 and abs(rest) > 1e-12):
        raise ValueError(f"p_true + p_rival must not exceed 1 (equal 1 with two classes), got {1.0 - rest}")
    probs = np.full(num_classes, rest / max(num_classes - 2, 1))
    probs[:2] = true_class_prob, rival_prob
    return probs


# Tables for the chapter: each returns a pandas DataFrame (lossacc.notebook.table shows it).


def four_image_table(scenario: FourImageScenario) -> pd.DataFrame:
    """One row per image of the four-image scenario: its true-class probability, whether it is
    right (``p > 1/2``) and its loss, before → after the epoch, and the change of its loss."""
    p0, p1 = scenario.before.true_class_prob, scenario.after.true_class_prob
    loss0, loss1 = true_class_loss(p0), true_class_loss(p1)
    return pd.DataFrame(
        {
            "image": FOUR_IMAGE_NAMES,
            "p": [f"{a:.2f} → {b:.2f}" for a, b in zip(p0, p1)],
            "right": [f"{'yes' if a > 0.5 else 'no'} → {'yes' if b > 0.5 else 'no'}" for a, b in zip(p0, p1)],
            "loss": [f"{a:.3f} → {b:.3f}" for a, b in zip(loss0, loss1)],
            "change": loss1 - loss0,
        }
    )


def group_table(readouts: PopulationReadouts, group: ArrayLike) -> pd.DataFrame:
    """Examples, accuracy and mean loss of each group and of the whole set."""
    counts = np.bincount(np.asarray(group), minlength=len(GROUP_NAMES))
    return pd.DataFrame(
        {
            "group": [*GROUP_NAMES, "all"],
            "examples": [*counts.tolist(), int(counts.sum())],
            "accuracy": [*readouts.group_accuracy.tolist(), readouts.accuracy],
            "mean loss": [*readouts.group_mean_loss.tolist(), readouts.mean_loss],
        }
    )


def epoch_table(start: PopulationReadouts, end: PopulationReadouts, group: ArrayLike) -> pd.DataFrame:
    """Accuracy, mean loss and each group's summed loss before and after an epoch, and the change."""
    counts = np.bincount(np.asarray(group), minlength=len(GROUP_NAMES))
    summed = {
        f"summed loss, {name}": (start.group_mean_loss[g] * counts[g], end.group_mean_loss[g] * counts[g])
        for g, name in enumerate(GROUP_NAMES)
    }
    rows = {"accuracy": (start.accuracy, end.accuracy), "mean loss": (start.mean_loss, end.mean_loss)} | summed
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["before", "after"]).astype(float)
    frame["change"] = frame["after"] - frame["before"]
    return frame.rename_axis("measure").reset_index()
