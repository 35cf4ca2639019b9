"""Is the difference real? Noise in validation numbers, paired comparisons, examples needed.

The library behind the chapter "Is the difference real?".

- **One number.** Accuracy on ``n`` examples is a binomial proportion: its standard error is
  ``sqrt(p (1 - p) / n)`` and its 95% interval is Wilson's,
  ``(p + z^2/2n ± z sqrt(p (1 - p)/n + z^2/4n^2)) / (1 + z^2/n)`` (:func:`accuracy_interval`,
  from :func:`scipy.stats.binomtest`). A mean loss gets the t interval
  ``mean ± t sd / sqrt(n)`` (:func:`mean_interval`).
- **Two checkpoints on the same examples** are compared pair by pair
  (:func:`compare_paired`): McNemar's exact test for accuracy (a binomial test of the
  ``b`` examples only the first gets right against the ``c`` only the second gets right,
  ``b ~ Binomial(b + c, 1/2)`` if both are equally good), and the paired t interval of the
  per-example differences for the loss (and for accuracy). The per-example differences
  cancel what the two share (hard examples stay hard), so the paired interval is narrower
  than the one from two separate samples.
- **Ranking two models** (:func:`significance_readouts`, the explorer's twin): a mean of
  ``n`` per-example differences with true mean ``delta`` and standard deviation ``sigma``
  ranks the models the right way with chance ``Phi(delta sqrt(n) / sigma)``, so 95% correct
  rankings need ``n = (1.645 sigma / delta)^2`` examples (:func:`examples_needed`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from lossacc.metrics import BoolArray, FloatArray

# Two-sided 95% (1.95996...) and one-sided 95% (1.64485...) standard-normal quantiles.
Z_TWO_SIDED = float(stats.norm.ppf(0.975))
Z_ONE_SIDED = float(stats.norm.ppf(0.95))


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def accuracy_interval(correct: int, n: int, confidence: float = 0.95) -> Interval:
    """Accuracy ``correct / n`` with its Wilson interval (``scipy.stats.binomtest``)."""
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(correct / n, float(ci.low), float(ci.high))


def wilson_bounds(p: float, n: float, z: float = Z_TWO_SIDED) -> tuple[float, float]:
    """Wilson's interval written out: the explorer's formula, also for a ``p`` that is not ``k / n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - spread, centre + spread


def accuracy_standard_error(p: float, n: float) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` examples: ``sqrt(p (1 - p) / n)``."""
    return math.sqrt(p * (1 - p) / n)


def mean_interval(values: ArrayLike, confidence: float = 0.95) -> Interval:
    """Mean of ``values`` with its t interval (``scipy.stats.ttest_1samp``)."""
    x = np.asarray(values, dtype=np.float64)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return Interval(float(x.mean()), float(ci.low), float(ci.high))


def epoch_intervals(correct: ArrayLike, losses: ArrayLike, confidence: float = 0.95) -> tuple[list[Interval], list[Interval]]:
    """Per epoch (rows of ``(E, n)`` arrays): the accuracy's Wilson interval and the mean loss's t interval."""
    right = np.asarray(correct, dtype=bool)
    loss = np.asarray(losses, dtype=np.float64)
    n = right.shape[1]
    return (
        [accuracy_interval(int(row.sum()), n, confidence) for row in right],
        [mean_interval(row, confidence) for row in loss],
    )


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``only_a``/``only_b`` examples only A/B gets right (the discordant pairs)."""

    only_a: int
    only_b: int
    pvalue: float


def mcnemar_exact(correct_a: ArrayLike, correct_b: ArrayLike) -> McNemar:
    """Exact McNemar test: ``only_a ~ Binomial(only_a + only_b, 1/2)`` if A and B are equally accurate."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    pvalue = 1.0 if only_a + only_b == 0 else float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return McNemar(only_a, only_b, pvalue)


def paired_interval(values_a: ArrayLike, values_b: ArrayLike, confidence: float = 0.95) -> tuple[Interval, float]:
    """Mean of ``b - a`` over the same examples, its paired t interval and p-value (``scipy.stats.ttest_rel``)."""
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    result = stats.ttest_rel(b, a)
    ci = result.confidence_interval(confidence)
    return Interval(float((b - a).mean()), float(ci.low), float(ci.high)), float(result.pvalue)


def unpaired_interval(values_a: ArrayLike, values_b: ArrayLike, confidence: float = 0.95) -> Interval:
    """Mean of ``b`` minus mean of ``a`` treated as two independent samples (Welch's t interval)."""
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(confidence)
    return Interval(float(b.mean() - a.mean()), float(ci.low), float(ci.high))


@dataclass(frozen=True)
class PairedComparison:
    """B against A on the same examples (differences are B minus A)."""

    accuracy: Interval  # paired t interval of the accuracy difference
    accuracy_unpaired: Interval
    mcnemar: McNemar
    loss: Interval  # paired t interval of the mean-loss difference
    loss_unpaired: Interval
    loss_pvalue: float


def compare_paired(
    loss_a: ArrayLike, correct_a: ArrayLike, loss_b: ArrayLike, correct_b: ArrayLike, confidence: float = 0.95
) -> PairedComparison:
    """Paired verdicts for two models scored on the same examples: McNemar for accuracy, paired t for loss."""
    accuracy, _ = paired_interval(np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64), confidence)
    loss, loss_pvalue = paired_interval(loss_a, loss_b, confidence)
    return PairedComparison(
        accuracy=accuracy,
        accuracy_unpaired=unpaired_interval(np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64), confidence),
        mcnemar=mcnemar_exact(correct_a, correct_b),
        loss=loss,
        loss_unpaired=unpaired_interval(loss_a, loss_b, confidence),
        loss_pvalue=loss_pvalue,
    )


def interval_text(interval: Interval, digits: int = 4) -> str:
    """``+0.0123 [+0.0050, +0.0196]``: an estimate and its interval, signed, for a table."""
    return f"{interval.estimate:+.{digits}f} [{interval.low:+.{digits}f}, {interval.high:+.{digits}f}]"


def comparison_table(comparison: PairedComparison) -> pd.DataFrame:
    """Accuracy and mean loss: the difference, its paired 95% interval, and the interval that
    treats the two as separate samples."""
    rows = {}
    for name, paired, separate in (
        ("accuracy", comparison.accuracy, comparison.accuracy_unpaired),
        ("mean loss", comparison.loss, comparison.loss_unpaired),
    ):
        rows[name] = {
            "difference": paired.estimate,
            "paired 95%": f"[{paired.low:+.4f}, {paired.high:+.4f}]",
            "separate 95%": f"[{separate.low:+.4f}, {separate.high:+.4f}]",
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def compare_epochs(losses: ArrayLike, correct: ArrayLike, epochs: Sequence[int]) -> dict[tuple[int, int], PairedComparison]:
    """Every pair of ``epochs`` (counted from 1, rows of ``losses`` and ``correct`` from 0),
    compared on the same examples: the later against the earlier."""
    losses, correct = np.asarray(losses), np.asarray(correct)
    return {
        (a, b): compare_paired(losses[a - 1], correct[a - 1], losses[b - 1], correct[b - 1]) for a, b in combinations(sorted(epochs), 2)
    }


def pairs_table(comparisons: Mapping[tuple[int, int], PairedComparison]) -> pd.DataFrame:
    """One row per pair of :func:`compare_epochs`: the change of accuracy and of mean loss with
    their paired 95% intervals, McNemar's p-value and the paired t test's."""
    rows = {
        f"{a} → {b}": {
            "accuracy change [95%]": interval_text(c.accuracy),
            "McNemar p": c.mcnemar.pvalue,
            "loss change [95%]": interval_text(c.loss),
            "paired t p": c.loss_pvalue,
        }
        for (a, b), c in comparisons.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("epochs")


def early_stop(values: ArrayLike, patience: int, higher_is_better: bool) -> tuple[int, int]:
    """Replay early stopping on a per-epoch curve: ``(stop epoch, kept epoch)``, counted from 1.

    Training stops at the first epoch that is ``patience + 1`` epochs after the best so far
    (patience 0: the first epoch that does not improve) and keeps the best epoch; a run that
    never stops ends at its last epoch. Only strict improvements count.
    """
    v = np.asarray(values, dtype=np.float64)
    score = v if higher_is_better else -v
    best = 0
    for epoch in range(1, len(score)):
        if score[epoch] > score[best]:
            best = epoch
        elif epoch - best > patience:
            return epoch + 1, best + 1
    return len(score), best + 1


def examples_needed(delta: float, sd: float, z: float = Z_ONE_SIDED) -> float:
    """Examples for a mean difference ``delta`` of per-example spread ``sd`` to be ``z`` standard errors from 0.

    ``(z sd / delta)^2``; with the one-sided 95% ``z``, the chance of ranking right is 95%.
    Infinite when ``delta <= 0``.
    """
    return math.inf if delta <= 0 else (z * sd / delta) ** 2


def normal_cdf(x: float) -> float:
    """Standard normal CDF by Hart's rational approximation (West 2005), as the explorer computes it.

    Accurate to about 1e-14 against :func:`scipy.stats.norm.cdf`.
    """
    a = abs(x)
    if a > 37:
        tail = 0.0
    elif a < 7.07106781186547:
        e = math.exp(-a * a / 2)
        num = ((((((3.52624965998911e-02 * a + 0.700383064443688) * a + 6.37396220353165) * a + 33.912866078383) * a
                 + 112.079291497871) * a + 221.213596169931) * a + 220.206867912376)
        den = (((((((8.83883476483184e-02 * a + 1.75566716318264) * a + 16.064177579207) * a + 86.7807322029461) * a
                  + 296.564248779674) * a + 637.333633378831) * a + 793.826512519948) * a + 440.413735824752)
        tail = e * num / den
    else:
        e = math.exp(-a * a / 2)
        b = a + 1 / (a + 2 / (a + 3 / (a + 4 / (a + 0.65))))
        tail = e / b / 2.506628274631
    return 1 - tail if x > 0 else tail


# --- two models on a population: the simulation, the explorer and its twin ------------------


@dataclass(frozen=True)
class TwoModels:
    """A population of two-class examples scored by two models, as true-class log-odds.

    Example ``i`` has a difficulty ``base_i`` shared by both models; model A gives it the
    log-odds ``base_i + noise_a_i`` and model B ``base_i + shift + noise_b_i``: B is better by
    ``shift`` on average, and the independent ``noise`` makes the two disagree example by
    example (two checkpoints, or two runs). Right means log-odds above 0; the loss is
    ``ln(1 + e^(-z))``.
    """

    base: FloatArray
    noise_a: FloatArray
    noise_b: FloatArray


def two_models(size: int = 5000, mean: float = 1.5, spread: float = 2.0, disagreement: float = 0.7, seed: int = 0) -> TwoModels:
    """Draw the population (rounded to 3 decimals, as the explorer receives it).

    Half the examples are drawn; the other half repeat them with the two models' noises
    swapped, so that with ``shift = 0`` the two models are exactly equally good.
    """
    rng = np.random.default_rng(seed)
    base = np.round(rng.normal(mean, spread, size // 2), 3)
    noise_a, noise_b = np.round(rng.normal(0.0, disagreement, (2, size // 2)), 3)
    return TwoModels(np.tile(base, 2), np.concatenate([noise_a, noise_b]), np.concatenate([noise_b, noise_a]))


def scored(models: TwoModels, shift: float) -> tuple[FloatArray, BoolArray, FloatArray, BoolArray]:
    """Per example ``(loss_a, correct_a, loss_b, correct_b)`` when B is better by ``shift``."""
    z_a = models.base + models.noise_a
    z_b = models.base + shift + models.noise_b
    return np.logaddexp(0.0, -z_a), z_a > 0, np.logaddexp(0.0, -z_b), z_b > 0


@dataclass(frozen=True)
class SignificanceReadouts:
    """What the explorer shows for ``n`` validation examples drawn from the population.

    ``*_gain`` are B's true advantages (accuracy up, loss down); the ``*_sd`` their
    per-example standard deviations. The half-widths are of 95% intervals of the difference,
    paired and from two separate samples. ``*_pvalue`` are the two-sided p-values a validation
    set with the expected counts gives (McNemar's normal form for accuracy, the paired z test
    for loss); ``*_power`` the chance the test finds the difference at the 5% level;
    ``*_rank`` the chance the metric ranks B first; ``*_needed`` the examples for 95% correct
    rankings.
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    loss_a: float
    loss_b: float
    accuracy_low: float  # Wilson interval of B's accuracy at n
    accuracy_high: float
    loss_half_width: float  # of B's mean loss at n
    accuracy_gain: float
    loss_gain: float
    accuracy_paired_half_width: float
    accuracy_unpaired_half_width: float
    loss_paired_half_width: float
    loss_unpaired_half_width: float
    accuracy_pvalue: float
    loss_pvalue: float
    accuracy_power: float
    loss_power: float
    accuracy_rank: float
    loss_rank: float
    accuracy_needed: float
    loss_needed: float


def significance_readouts(models: TwoModels, shift: float, n: int) -> SignificanceReadouts:
    """The explorer's readouts (normal approximations; population standard deviations)."""
    loss_a, correct_a, loss_b, correct_b = scored(models, shift)
    ca, cb = correct_a.astype(np.float64), correct_b.astype(np.float64)
    d_acc, d_loss = cb - ca, loss_a - loss_b
    acc_gain, loss_gain = float(d_acc.mean()), float(d_loss.mean())
    acc_sd, loss_sd = float(d_acc.std()), float(d_loss.std())
    discordant = float(np.abs(d_acc).mean())
    root_n = math.sqrt(n)
    acc_low, acc_high = wilson_bounds(float(cb.mean()), n)

    def pvalue(z: float) -> float:
        return 2 * (1 - normal_cdf(abs(z)))

    def power(gain: float, sd: float) -> float:
        return normal_cdf(abs(gain) * root_n / sd - Z_TWO_SIDED) if sd > 0 else float(gain != 0)

    def rank(gain: float, sd: float) -> float:
        return normal_cdf(gain * root_n / sd) if sd > 0 else 0.5 + 0.5 * np.sign(gain)

    return SignificanceReadouts(
        n=n,
        accuracy_a=float(ca.mean()),
        accuracy_b=float(cb.mean()),
        loss_a=float(loss_a.mean()),
        loss_b=float(loss_b.mean()),
        accuracy_low=acc_low,
        accuracy_high=acc_high,
        loss_half_width=Z_TWO_SIDED * float(loss_b.std()) / root_n,
        accuracy_gain=acc_gain,
        loss_gain=loss_gain,
        accuracy_paired_half_width=Z_TWO_SIDED * acc_sd / root_n,
        accuracy_unpaired_half_width=Z_TWO_SIDED * math.sqrt(float(ca.var()) + float(cb.var())) / root_n,
        loss_paired_half_width=Z_TWO_SIDED * loss_sd / root_n,
        loss_unpaired_half_width=Z_TWO_SIDED * math.sqrt(float(loss_a.var()) + float(loss_b.var())) / root_n,
        accuracy_pvalue=pvalue(acc_gain * root_n / math.sqrt(discordant)) if discordant > 0 else 1.0,
        loss_pvalue=pvalue(loss_gain * root_n / loss_sd) if loss_sd > 0 else 1.0,
        accuracy_power=power(acc_gain, acc_sd),
        loss_power=power(loss_gain, loss_sd),
        accuracy_rank=float(rank(acc_gain, acc_sd)),
        loss_rank=float(rank(loss_gain, loss_sd)),
        accuracy_needed=examples_needed(acc_gain, acc_sd),
        loss_needed=examples_needed(loss_gain, loss_sd),
    )


def ranking_simulation(
    models: TwoModels, shift: float, sizes: ArrayLike, repeats: int = 400, seed: int = 1
) -> tuple[FloatArray, FloatArray]:
    """Monte Carlo: for each size ``n``, draw ``repeats`` validation sets of ``n`` examples
    (with replacement) and return the share in which accuracy and the loss rank B strictly first."""
    loss_a, correct_a, loss_b, correct_b = scored(models, shift)
    d_acc = correct_b.astype(np.float64) - correct_a
    d_loss = loss_a - loss_b
    rng = np.random.default_rng(seed)
    acc_share, loss_share = [], []
    for n in np.asarray(sizes, dtype=np.int64):
        rows = rng.integers(0, len(d_acc), (repeats, int(n)))
        acc_share.append(float((d_acc[rows].sum(axis=1) > 0).mean()))
        loss_share.append(float((d_loss[rows].sum(axis=1) > 0).mean()))
    return np.array(acc_share), np.array(loss_share)
