"""Class imbalance: when the class mix rewards a bias that the loss punishes.

The library behind the chapter "Class imbalance". All synthetic models here share one
generative story, a Gaussian signal-detection model: example ``i`` of class ``y_i`` gets
one noisy score per class, ``x_ic = d [c = y_i] + eps_ic`` with ``eps_ic ~ N(0, 1)``. Its
log-likelihood ratios are the *evidence* ``e_ic = d x_ic = d^2 [c = y_i] + d eps_ic`` and
the exact posterior under class priors ``pi`` is ``softmax(e_i + ln pi)``. A model reads
the evidence with a *confidence* ``kappa`` (logit scale; 1 is calibrated) and a *bias*
``beta`` towards frequent classes: ``z_ic = kappa e_ic + beta ln pi_c``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lossacc.calibration import brier_score, expected_calibration_error, fit_temperature, scaled_loss_derivatives
from lossacc.metrics import (
    BoolArray,
    FloatArray,
    IntArray,
    accuracy,
    cross_entropy_from_logits,
    loss_on_right_and_wrong,
    per_example_loss_from_logits,
    softmax,
    top_k_accuracy,
)


def power_law_priors(num_classes: int, imbalance_ratio: float) -> FloatArray:
    """Class shares ``pi_c ∝ (c + 1)^(-alpha)`` with ``alpha = ln(rho) / ln(k)``.

    Class 0 is the most frequent and ``pi_0 / pi_{k-1} = rho`` (the imbalance ratio);
    ``rho = 1`` gives equal shares.
    """
    if imbalance_ratio < 1:
        raise ValueError(f"imbalance_ratio must be >= 1, got {imbalance_ratio}")
    exponent = np.log(imbalance_ratio) / np.log(num_classes)
    weights = np.arange(1, num_classes + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def evidence(noise: ArrayLike, labels: ArrayLike, separation: float) -> FloatArray:
    """Log-likelihood ratios ``e_ic = d^2 [c = y_i] + d eps_ic`` of the signal-detection model."""
    e = separation * np.asarray(noise, dtype=np.float64)
    y = np.asarray(labels)
    e[np.arange(len(y)), y] += separation**2
    return e


def bias_logits(base_logits: ArrayLike, priors: ArrayLike, bias: float) -> FloatArray:
    """Logits leaning towards frequent classes: ``z_ic = s_ic + beta ln pi_c``."""
    return np.asarray(base_logits, dtype=np.float64) + bias * np.log(np.asarray(priors, dtype=np.float64))


def accuracy_per_class(logits: ArrayLike, labels: ArrayLike, classes: ArrayLike) -> FloatArray:
    """Recall of each listed class: accuracy over the examples whose label is that class."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    return np.array([accuracy(z[y == c], y[y == c]) for c in np.asarray(classes)])


# --- the explorer: a handful of classes, an imbalance slider and a bias slider ---------


@dataclass(frozen=True)
class ImbalanceBase:
    """The explorer's fixed population: class-balanced base logits ``(n, k)`` and labels ``(n,)``."""

    base_logits: FloatArray
    labels: IntArray


def make_imbalance_base(
    num_classes: int = 4, per_class: int = 500, separation: float = 1.5, confidence: float = 3.0, seed: int = 0
) -> ImbalanceBase:
    """``per_class`` examples of each class with base logits ``s = kappa e`` (no class priors).

    ``confidence = kappa > 1`` makes the model over-confident, as trained networks often are.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), per_class)
    noise = rng.standard_normal((len(labels), num_classes))
    return ImbalanceBase(confidence * evidence(noise, labels, separation), labels)


@dataclass(frozen=True)
class ImbalanceReadouts:
    """What the imbalance explorer shows for one position of its two sliders."""

    priors: FloatArray
    per_class_accuracy: FloatArray
    per_class_loss: FloatArray
    predicted_share: FloatArray
    accuracy: float
    balanced_accuracy: float
    mean_loss: float


def imbalance_readouts(
    base_logits: ArrayLike, labels: ArrayLike, imbalance_ratio: float, bias: float
) -> ImbalanceReadouts:
    """Metrics on a validation set whose class mix is ``pi = power_law_priors(k, rho)``.

    The base population is class-balanced; class ``c`` stands for a share ``pi_c`` of the
    validation set by weighting its examples, which equals repeating them in those
    proportions. With ``n_c`` examples of class ``c`` and ``alpha = ln(rho)/ln(k)``:

    - ``pi_c = (c + 1)^(-alpha) / sum_j (j + 1)^(-alpha)``
    - ``z_ic = s_ic + beta ln pi_c``; ``correct_i = (argmax_c z_ic = y_i)``, ties to the lower index
    - ``loss_i = ln sum_c e^{z_ic} - z_{i y_i}``
    - ``acc_c = mean of correct_i over class c``; ``loss_c = mean of loss_i over class c``
    - ``accuracy = sum_c pi_c acc_c``; ``balanced_accuracy = (1/k) sum_c acc_c``;
      ``mean_loss = sum_c pi_c loss_c``
    - ``predicted_share_j = sum_c pi_c (share of class-c examples with argmax j)``
    """
    s = np.asarray(base_logits, dtype=np.float64)
    y = np.asarray(labels)
    k = s.shape[1]
    priors = power_law_priors(k, imbalance_ratio)
    z = bias_logits(s, priors, bias)
    classes = np.arange(k)
    per_class_accuracy = accuracy_per_class(z, y, classes)
    per_class_loss = np.array([cross_entropy_from_logits(z[y == c], y[y == c]) for c in classes])
    predicted = z.argmax(axis=1)
    confusion = np.array([np.bincount(predicted[y == c], minlength=k) / (y == c).sum() for c in classes])
    return ImbalanceReadouts(
        priors=priors,
        per_class_accuracy=per_class_accuracy,
        per_class_loss=per_class_loss,
        predicted_share=priors @ confusion,
        accuracy=float(priors @ per_class_accuracy),
        balanced_accuracy=float(per_class_accuracy.mean()),
        mean_loss=float(priors @ per_class_loss),
    )


# --- the 3000-class table -----------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """A row of the question's table, and the interval where the model's lean is searched."""

    name: str
    loss: float
    accuracy: float
    lean_interval: tuple[float, float]


# The table from the question: (validation loss, validation accuracy) of three settings.
# A reads the evidence without class frequencies; B leans towards rare classes, C towards frequent ones.
TABLE = (
    TableRow("A", loss=1.25, accuracy=0.90, lean_interval=(0.0, 0.0)),
    TableRow("B", loss=1.05, accuracy=0.85, lean_interval=(-1.0, 0.0)),
    TableRow("C", loss=1.55, accuracy=0.95, lean_interval=(0.0, 1.0)),
)
LOSS_TOLERANCE = 0.01
ACCURACY_TOLERANCE = 0.005
NUM_CLASSES = 3000
TAIL_EXPONENT = 1.1  # pi_c ∝ (c + 1)^-1.1: a long tail of rare classes


@dataclass(frozen=True)
class LongTailSample:
    """Noise ``eps (n, k)``, labels ``(n,)`` and log class priors ``ln pi (k,)`` of a sample."""

    noise: FloatArray
    labels: IntArray
    log_priors: FloatArray


def long_tail_sample(
    num_examples: int, num_classes: int = NUM_CLASSES, seed: int = 0, class_balanced: bool = False
) -> LongTailSample:
    """A seeded sample from ``k`` classes with shares ``pi_c ∝ (c + 1)^-TAIL_EXPONENT``.

    Labels are drawn from ``pi``; with ``class_balanced`` they run through the classes in
    turn instead, so plain accuracy on the sample estimates balanced accuracy.
    """
    rng = np.random.default_rng(seed)
    priors = power_law_priors(num_classes, num_classes**TAIL_EXPONENT)
    if class_balanced:
        labels = np.arange(num_examples) % num_classes
    else:
        labels = rng.choice(num_classes, size=num_examples, p=priors)
    return LongTailSample(rng.standard_normal((num_examples, num_classes)), labels, np.log(priors))


@dataclass(frozen=True)
class SyntheticModel:
    """A readout of the evidence: ``z = kappa (e + lambda ln pi)``.

    ``separation`` d is what the network knows; ``confidence`` kappa scales its logits
    (1 is calibrated); ``lean`` lambda = beta / kappa is its pull towards frequent
    classes (0 ignores class frequency, 1 is the Bayes-optimal argmax, < 0 favours rare classes).
    """

    name: str
    separation: float
    confidence: float
    lean: float

    def scores(self, sample: LongTailSample) -> FloatArray:
        """Logits before the confidence scale: ``u_ic = d^2 [c = y_i] + d eps_ic + lambda ln pi_c``."""
        return evidence(sample.noise, sample.labels, self.separation) + self.lean * sample.log_priors

    def logits(self, sample: LongTailSample) -> FloatArray:
        """``z_ic = kappa u_ic``."""
        return self.confidence * self.scores(sample)


def separation_for_accuracy(sample: LongTailSample, target_accuracy: float) -> float:
    """Separation d at which the lean-free readout reaches ``target_accuracy`` (closed form).

    With ``lambda = 0`` example i is right when ``d > g_i = max_{c != y} eps_ic - eps_iy``,
    so d is taken midway between the order statistics of ``g`` around the target share.
    """
    rows = np.arange(len(sample.labels))
    others = sample.noise.copy()
    others[rows, sample.labels] = -np.inf
    gaps = np.sort(others.max(axis=1) - sample.noise[rows, sample.labels])
    count = int(round(target_accuracy * len(gaps)))
    return float((gaps[count - 1] + gaps[count]) / 2)


def lean_for_accuracy(
    sample: LongTailSample, separation: float, target_accuracy: float, interval: tuple[float, float], steps: int = 10
) -> float:
    """Smallest lean in ``interval`` reaching ``target_accuracy``, by bisection.

    Assumes accuracy rises with the lean inside the interval; returns the upper end of the
    final bracket, where accuracy is at least the target. A zero-width interval returns its value.
    """
    low, high = interval
    if high <= low:
        return high
    # The scores at lean l are e + l ln pi (SyntheticModel.scores): the evidence e is the same at every step.
    e = evidence(sample.noise, sample.labels, separation)
    for _ in range(steps):
        middle = (low + high) / 2
        if accuracy(e + middle * sample.log_priors, sample.labels) < target_accuracy:
            low = middle
        else:
            high = middle
    return high


def confidence_for_loss(model: SyntheticModel, sample: LongTailSample, target_loss: float, start: float = 50.0) -> float:
    """Over-confident kappa (right of the loss minimum) at which the mean loss is ``target_loss``.

    Newton's method from a large ``start``: on the rising branch of a convex function it
    approaches the root from the right without overshooting.
    """
    scores, kappa = model.scores(sample), start
    for _ in range(50):
        at_kappa = scaled_loss_derivatives(scores, sample.labels, kappa)
        if abs(at_kappa.loss - target_loss) < 1e-5:
            return kappa
        kappa -= (at_kappa.loss - target_loss) / at_kappa.slope
    raise RuntimeError("Newton's method did not converge")


def best_confidence(model: SyntheticModel, sample: LongTailSample) -> float:
    """Temperature scaling of the model's scores: ``kappa* = 1 / T*`` with ``T*`` from
    :func:`lossacc.calibration.fit_temperature` (the kappa that minimises the mean loss on ``sample``)."""
    return 1 / fit_temperature(model.scores(sample), sample.labels)


def fit_table_models(sample: LongTailSample, table: tuple[TableRow, ...] = TABLE) -> tuple[SyntheticModel, ...]:
    """Synthetic models whose metrics on ``sample`` land on the rows of ``table``.

    The first row has no lean and fixes the separation d shared by all rows
    (:func:`separation_for_accuracy`); every row then finds its lean for its accuracy
    (:func:`lean_for_accuracy`; the argmax does not depend on kappa) and its
    confidence for its loss (:func:`confidence_for_loss`).
    """
    if table[0].lean_interval != (0.0, 0.0):
        raise ValueError("the first row must have no lean: it fixes the separation")
    separation = separation_for_accuracy(sample, table[0].accuracy)
    models = []
    for row in table:
        lean = lean_for_accuracy(sample, separation, row.accuracy, row.lean_interval)
        model = SyntheticModel(row.name, separation, 1.0, lean)
        models.append(replace(model, confidence=confidence_for_loss(model, sample, row.loss)))
    return tuple(models)


# Class-frequency ranges for the per-class view: (name, first rank, end rank).
FREQUENCY_RANGES = (("20 most frequent", 0, 20), ("ranks 20-499", 20, 500), ("ranks 500-2999", 500, 3000))


@dataclass(frozen=True)
class ModelViews:
    """What a model's validation loss and accuracy leave out, all computed on samples."""

    loss: float
    accuracy: float
    top5_accuracy: float
    balanced_accuracy: float
    range_accuracy: FloatArray
    loss_right: float
    loss_wrong: float
    brier: float
    mean_confidence: float
    ece: float
    scaled_confidence: float
    scaled_loss: float
    per_example_loss: FloatArray
    correct: BoolArray
    balanced_correct: BoolArray


def model_views(
    model: SyntheticModel, validation: LongTailSample, one_per_class: LongTailSample, calibration: LongTailSample
) -> ModelViews:
    """Loss, accuracy and the views beside them for one model.

    On ``validation``: mean loss, top-1 and top-5 accuracy, accuracy in each of
    :data:`FREQUENCY_RANGES`, mean loss on right and on wrong examples, Brier score, mean
    top-1 confidence and ECE (15 bins). On ``one_per_class`` (one example of each class):
    balanced accuracy. Temperature scaling: the confidence minimising the loss on
    ``calibration`` and the validation loss with it. Right or wrong is decided by argmax,
    with the tie rule of :func:`lossacc.metrics.accuracy`.
    """
    scores = model.scores(validation)  # logits at any confidence kappa are kappa * scores (SyntheticModel.logits)
    logits = model.confidence * scores
    labels = validation.labels
    probs = softmax(logits)
    losses = per_example_loss_from_logits(logits, labels)
    correct = logits.argmax(axis=1) == labels
    loss_right, loss_wrong = loss_on_right_and_wrong(losses, correct)
    scaled_confidence = best_confidence(model, calibration)
    balanced_correct = model.logits(one_per_class).argmax(axis=1) == one_per_class.labels
    return ModelViews(
        loss=float(losses.mean()),
        accuracy=float(correct.mean()),
        top5_accuracy=top_k_accuracy(logits, labels, k=5),
        balanced_accuracy=float(balanced_correct.mean()),
        range_accuracy=np.array([correct[(labels >= lo) & (labels < hi)].mean() for _, lo, hi in FREQUENCY_RANGES]),
        loss_right=loss_right,
        loss_wrong=loss_wrong,
        brier=brier_score(probs, labels),
        mean_confidence=float(probs.max(axis=1).mean()),
        ece=expected_calibration_error(probs, labels),
        scaled_confidence=scaled_confidence,
        scaled_loss=cross_entropy_from_logits(scaled_confidence * scores, labels),
        per_example_loss=losses,
        correct=correct,
        balanced_correct=balanced_correct,
    )


def paired_difference(correct_a: ArrayLike, correct_b: ArrayLike) -> tuple[float, float]:
    """Accuracy of ``a`` minus that of ``b`` on the same examples, and its standard error.

    The two accuracies are paired, so the noise is that of the per-example differences
    ``d_i = [a right on i] - [b right on i]``: the difference is ``mean(d)`` and its standard
    error ``std(d, ddof=1) / sqrt(n)``. Examples that both models get right, or both wrong,
    add no noise, which makes it smaller than the standard error of either accuracy alone.
    """
    d = np.asarray(correct_a, dtype=np.float64) - np.asarray(correct_b, dtype=np.float64)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"need two equal-length 1-D arrays of at least 2 examples, got shape {d.shape}")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


# --- tables for the chapter (lossacc.tables.table shows them) --------------------------------


def sweep_table(biases: ArrayLike, sweep: Sequence[ImbalanceReadouts], chosen: Mapping[str, int]) -> pd.DataFrame:
    """One row per chosen position ``name: index`` of a sweep of the bias: the bias, accuracy,
    balanced accuracy, mean loss and the share of predictions that go to class 0."""
    biases = np.asarray(biases)
    return pd.DataFrame(
        {
            "bias β": [biases[i] for i in chosen.values()],
            "accuracy": [sweep[i].accuracy for i in chosen.values()],
            "balanced accuracy": [sweep[i].balanced_accuracy for i in chosen.values()],
            "mean loss": [sweep[i].mean_loss for i in chosen.values()],
            "predicted as class 0": [float(sweep[i].predicted_share[0]) for i in chosen.values()],
        },
        index=list(chosen),
    )


def per_class_table(priors: ArrayLike, readouts: Mapping[str, ImbalanceReadouts]) -> pd.DataFrame:
    """Per class: its share of the data, then for each named readout the share of predictions
    it gets, its accuracy and its mean loss."""
    rows = {"share of the data": np.asarray(priors, dtype=float)}
    for what, field in [("predicted share", "predicted_share"), ("accuracy", "per_class_accuracy"), ("loss", "per_class_loss")]:
        rows |= {f"{what}, {name}": getattr(r, field) for name, r in readouts.items()}
    return pd.DataFrame(rows, index=[f"class {c}" for c in range(len(rows["share of the data"]))]).T


def fitted_table(models: Sequence[SyntheticModel], sample: LongTailSample, table: tuple[TableRow, ...] = TABLE) -> pd.DataFrame:
    """One column per fitted model: its loss and accuracy on ``sample`` beside the table's
    targets, and the three numbers that make it (separation d, lean λ, confidence κ)."""
    columns = {}
    for row, model in zip(table, models, strict=True):
        logits = model.logits(sample)
        columns[model.name] = {
            "loss": cross_entropy_from_logits(logits, sample.labels),
            "loss (target)": row.loss,
            "accuracy": accuracy(logits, sample.labels),
            "accuracy (target)": row.accuracy,
            "separation d": model.separation,
            "lean λ": model.lean,
            "confidence κ": model.confidence,
        }
    return pd.DataFrame(columns)


# The rows of the table of views: label, field of ModelViews.
VIEW_ROWS = {
    "validation loss": "loss",
    "accuracy": "accuracy",
    "top-5 accuracy": "top5_accuracy",
    "balanced accuracy": "balanced_accuracy",
    "loss on right answers": "loss_right",
    "loss on mistakes": "loss_wrong",
    "Brier score (summed over classes)": "brier",
    "mean top-1 confidence": "mean_confidence",
    "ECE (15 bins)": "ece",
    "loss after temperature scaling": "scaled_loss",
}


def views_table(views: Mapping[str, ModelViews]) -> pd.DataFrame:
    """One column per model: each view of :data:`VIEW_ROWS`, then the accuracy in each range of
    :data:`FREQUENCY_RANGES`."""
    rows = {label: [getattr(v, field) for v in views.values()] for label, field in VIEW_ROWS.items()}
    for i, (range_name, _, _) in enumerate(FREQUENCY_RANGES):
        rows[f"accuracy, {range_name}"] = [float(v.range_accuracy[i]) for v in views.values()]
    return pd.DataFrame(rows, index=list(views)).T


# The numbers chapter 8 compares the models on: label, (field of ModelViews, better is max or min).
PICK_ROWS = {
    "accuracy": ("accuracy", max),
    "top-5 accuracy": ("top5_accuracy", max),
    "balanced accuracy": ("balanced_accuracy", max),
    "loss": ("loss", min),
    "Brier score (summed over classes)": ("brier", min),
    "ECE (15 bins)": ("ece", min),
    "loss after temperature scaling": ("scaled_loss", min),
}


def picks_table(views: Mapping[str, ModelViews]) -> pd.DataFrame:
    """One row per number of :data:`PICK_ROWS`: its value for each model, and the model it picks
    (the highest accuracy, the lowest loss)."""
    rows = {}
    for label, (field, best) in PICK_ROWS.items():
        values = {name: float(getattr(v, field)) for name, v in views.items()}
        rows[label] = {**values, "picks": best(values, key=values.__getitem__)}
    return pd.DataFrame.from_dict(rows, orient="index", dtype=object)
