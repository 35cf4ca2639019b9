"""Class by class: each class's validation loss and accuracy, and its part in a change of the loss.

With ``n`` examples, labels ``y_i`` and per-example losses ``l_i = -ln p(y_i | x_i)``, class
``c`` (``n_c`` examples) has mean loss ``L_c = (1/n_c) sum_{y_i = c} l_i`` and accuracy
``A_c = (1/n_c) sum_{y_i = c} [pred_i = c]``. Between two epochs, group ``g`` of a partition
of the examples carries the share ``S_g = sum_{i in g} Δl_i / sum_i Δl_i`` of the change of
the mean loss, ``Δl_i = l_i(to) - l_i(from)``; the shares add up to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lossacc.cifar.record import CifarRecord
from lossacc.metrics import FloatArray, IntArray


def group_sums(values: ArrayLike, groups: ArrayLike, k: int) -> FloatArray:
    """``sum_{groups_i = g} values[..., i]`` for ``g = 0 .. k-1``, over the last axis: shape ``(..., k)``."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups, dtype=np.int64)
    rows = v.reshape(-1, v.shape[-1])
    sums = np.stack([np.bincount(g, weights=row, minlength=k) for row in rows]).astype(np.float64)
    return sums.reshape(*v.shape[:-1], k)


@dataclass(frozen=True)
class PerClassCurves:
    """Per epoch and class, shape ``(E, K)``: mean validation loss ``L_c`` and accuracy ``A_c``;
    ``count`` (K,) the examples of each class."""

    classes: tuple[str, ...]
    loss: FloatArray
    accuracy: FloatArray
    count: IntArray


def per_class_curves(val_loss: ArrayLike, correct: ArrayLike, labels: ArrayLike, classes: tuple[str, ...]) -> PerClassCurves:
    """:class:`PerClassCurves` from per-example losses and right/wrong flags of shape ``(E, n)``."""
    y = np.asarray(labels, dtype=np.int64)
    k = len(classes)
    count = np.bincount(y, minlength=k).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return PerClassCurves(
            classes=classes,
            loss=group_sums(val_loss, y, k) / count,
            accuracy=group_sums(np.asarray(correct, dtype=np.float64), y, k) / count,
            count=count,
        )


def record_per_class_curves(record: CifarRecord) -> PerClassCurves:
    """:func:`per_class_curves` on a record's validation set, every epoch."""
    return per_class_curves(record.val_loss, record.val_correct, record.val_labels, record.classes)


def rise_shares(loss_from: ArrayLike, loss_to: ArrayLike, groups: ArrayLike, k: int) -> FloatArray:
    """Share ``S_g`` of the change of the summed (and so of the mean) loss carried by each group."""
    change = np.asarray(loss_to, dtype=np.float64) - np.asarray(loss_from, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # no change at all: NaN shares
        return group_sums(change, groups, k) / change.sum()


LOSS_DOWN = "loss down"
LOSS_UP_ACCURACY_UP = "loss up, accuracy held or up"
LOSS_UP_ACCURACY_DOWN = "loss up, accuracy down"


@dataclass(frozen=True)
class ClassRise:
    """Each class between two epochs: mean loss and accuracy at both, its share ``S_c`` of the
    change of the mean loss, and a verdict (:data:`LOSS_DOWN`, :data:`LOSS_UP_ACCURACY_UP`,
    :data:`LOSS_UP_ACCURACY_DOWN`). ``order``: the classes by share, largest first."""

    classes: tuple[str, ...]
    loss_from: FloatArray
    loss_to: FloatArray
    accuracy_from: FloatArray
    accuracy_to: FloatArray
    share: FloatArray

    @property
    def verdict(self) -> list[str]:
        return [
            LOSS_DOWN if after <= before else LOSS_UP_ACCURACY_UP if acc_after >= acc_before else LOSS_UP_ACCURACY_DOWN
            for before, after, acc_before, acc_after in zip(self.loss_from, self.loss_to, self.accuracy_from, self.accuracy_to)
        ]

    @property
    def order(self) -> IntArray:
        return np.argsort(-self.share, kind="stable").astype(np.int64)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(class, loss from -> to, accuracy from -> to, share, verdict) lines, largest share first."""
        verdict = self.verdict
        return [
            (
                self.classes[c],
                f"{self.loss_from[c]:.3f} → {self.loss_to[c]:.3f}",
                f"{self.accuracy_from[c]:.1%} → {self.accuracy_to[c]:.1%}",
                f"{self.share[c]:+.0%}",
                verdict[c],
            )
            for c in self.order.tolist()
        ]


def class_rise(
    loss_from: ArrayLike,
    loss_to: ArrayLike,
    correct_from: ArrayLike,
    correct_to: ArrayLike,
    labels: ArrayLike,
    classes: tuple[str, ...],
) -> ClassRise:
    """:class:`ClassRise` from per-example losses and right/wrong flags at two epochs."""
    curves = per_class_curves(np.stack([loss_from, loss_to]), np.stack([correct_from, correct_to]), labels, classes)
    return ClassRise(
        classes=classes,
        loss_from=curves.loss[0],
        loss_to=curves.loss[1],
        accuracy_from=curves.accuracy[0],
        accuracy_to=curves.accuracy[1],
        share=rise_shares(loss_from, loss_to, labels, len(classes)),
    )


def record_class_rise(record: CifarRecord, epoch_from: int, epoch_to: int) -> ClassRise:
    """:func:`class_rise` on a record's validation set between two epochs (counting from 1)."""
    correct = record.val_correct
    return class_rise(
        record.val_loss[epoch_from - 1],
        record.val_loss[epoch_to - 1],
        correct[epoch_from - 1],
        correct[epoch_to - 1],
        record.val_labels,
        record.classes,
    )


def confusion_matrix(labels: ArrayLike, predicted: ArrayLike, k: int) -> IntArray:
    """``M[c, d]``: examples of class ``c`` predicted as ``d`` (rows: true class)."""
    y = np.asarray(labels, dtype=np.int64)
    pred = np.asarray(predicted, dtype=np.int64)
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.int64)


def most_confused_with(confusion: ArrayLike) -> tuple[IntArray, FloatArray]:
    """For each class ``c``: the class ``d != c`` it is most often mistaken for, and the rate
    ``M[c, d] / sum_e M[c, e]`` (the share of class ``c``'s examples predicted as ``d``)."""
    m = np.asarray(confusion, dtype=np.float64)
    off_diagonal = m - np.diag(np.diag(m)) - np.diag(np.full(len(m), np.inf))
    partner = np.argmax(off_diagonal, axis=1).astype(np.int64)
    return partner, m[np.arange(len(m)), partner] / m.sum(axis=1)


def rank_correlation(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their mean rank)."""

    def ranks(values: ArrayLike) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return (first + (counts - 1) / 2)[inverse]

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])
