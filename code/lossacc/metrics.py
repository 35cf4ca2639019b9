"""Cross-entropy, accuracy and general per-example measures, written out in NumPy so every
formula is visible.

Conventions: ``logits`` and ``probs`` have shape ``(n, k)`` (n examples, k classes);
``labels`` has shape ``(n,)`` and holds integer class indices in ``[0, k)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def _as_2d(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, k) with k >= 2 classes, got {array.shape}")
    return array


def _as_labels(labels: ArrayLike, n: int, k: int) -> IntArray:
    array = np.atleast_1d(np.asarray(labels))
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got range [{array.min()}, {array.max()}]")
    return array.astype(np.int64)


def _as_logits(logits: ArrayLike) -> FloatArray:
    """``logits`` as float64 ``(n, k)``, refused if NaN or infinite (softmax would give NaN)."""
    z = _as_2d(logits, "logits")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values")
    return z


def _require_examples(n: int, name: str) -> None:
    """A mean over no examples is not a number: refuse it."""
    if n == 0:
        raise ValueError(f"{name} hold no examples: a mean over none is undefined")


def softmax(logits: ArrayLike) -> FloatArray:
    """Row-wise softmax: ``p_ij = exp(z_ij - max_j z_ij) / sum_l exp(z_il - max_j z_ij)``.

    NaN or infinite logits are refused with a ``ValueError``.
    """
    z = _as_logits(logits)
    shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def log_softmax(logits: ArrayLike) -> FloatArray:
    """Row-wise log-softmax: ``log p_ij = z_ij - logsumexp_l z_il`` (stable for large logits)."""
    z = _as_logits(logits)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def per_example_loss_from_logits(logits: ArrayLike, labels: ArrayLike) -> FloatArray:
    """Cross-entropy of each example from logits: ``l_i = -log softmax(z_i)[y_i]``."""
    log_probs = log_softmax(logits)
    y = _as_labels(labels, *log_probs.shape)
    return -log_probs[np.arange(len(y)), y]


def per_example_loss_from_probs(probs: ArrayLike, labels: ArrayLike) -> FloatArray:
    """Cross-entropy of each example from probabilities: ``l_i = -ln p_i[y_i]``.

    Each row must be a probability distribution (non-negative, summing to 1).
    A true-class probability of 0 gives an infinite loss, as the formula says.
    """
    p = _as_2d(probs, "probs")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of probs must be non-negative and sum to 1")
    y = _as_labels(labels, *p.shape)
    with np.errstate(divide="ignore"):
        return -np.log(p[np.arange(len(y)), y])


def cross_entropy_from_logits(logits: ArrayLike, labels: ArrayLike) -> float:
    """Mean cross-entropy from logits: ``L = (1/n) sum_i -log softmax(z_i)[y_i]``."""
    losses = per_example_loss_from_logits(logits, labels)
    _require_examples(len(losses), "logits")
    return float(losses.mean())


def cross_entropy_from_probs(probs: ArrayLike, labels: ArrayLike) -> float:
    """Mean cross-entropy from probabilities: ``L = (1/n) sum_i -ln p_i[y_i]``."""
    losses = per_example_loss_from_probs(probs, labels)
    _require_examples(len(losses), "probs")
    return float(losses.mean())


def top_k_accuracy(scores: ArrayLike, labels: ArrayLike, k: int = 1) -> float:
    """Share of examples whose true class is among the ``k`` highest scores.

    ``acc@k = (1/n) sum_i [r_i < k]`` with the rank of the true class
    ``r_i = #{j : s_ij > s_iy} + #{j < y_i : s_ij = s_iy}``: ties are broken towards the
    lower class index, as ``argmax`` does. Scores may be logits or probabilities (softmax
    keeps the order); ``+-inf`` are ordinary scores, and NaN scores are refused with a
    ``ValueError`` (a NaN has no rank).
    """
    s = _as_2d(scores, "scores")
    y = _as_labels(labels, *s.shape)
    _require_examples(len(y), "scores")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= s.shape[1]:
        raise ValueError(f"k must lie in [1, {s.shape[1]}] and be a whole number, got {k!r}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN, which has no rank: fix the model's outputs first")
    if k == 1:  # rank 0: no higher score and no equal one at a lower index, i.e. argmax is y
        return float((s.argmax(axis=1) == y).mean())
    true_score = s[np.arange(len(y)), y][:, None]
    lower_index = np.arange(s.shape[1])[None, :] < y[:, None]
    rank = (s > true_score).sum(axis=1) + ((s == true_score) & lower_index).sum(axis=1)
    return float((rank < k).mean())


def accuracy(scores: ArrayLike, labels: ArrayLike) -> float:
    """Top-1 accuracy: ``acc = (1/n) sum_i [argmax_j s_ij = y_i]``."""
    return top_k_accuracy(scores, labels, k=1)


def worst_share(per_example_loss: ArrayLike, fraction: float = 0.01) -> float:
    """Share of the summed loss carried by the worst ``ceil(fraction * n)`` examples.

    ``fraction`` lies in ``(0, 1]``; the losses are finite, non-negative and not all zero
    (otherwise there is no share to take), else ``ValueError``.
    """
    if not (isinstance(fraction, (int, float, np.floating, np.integer)) and 0 < fraction <= 1):
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    losses = np.sort(np.asarray(per_example_loss, dtype=np.float64))[::-1]
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"per_example_loss must be a non-empty (n,) array, got shape {losses.shape}")
    if not np.isfinite(losses).all() or (losses < 0).any():
        raise ValueError("per-example losses must be finite and non-negative")
    total = losses.sum()
    if total == 0:
        raise ValueError("every loss is 0: there is no loss for the worst examples to carry a share of")
    count = int(np.ceil(fraction * len(losses)))
    return float(losses[:count].sum() / total)


def loss_on_right_and_wrong(per_example_loss: ArrayLike, correct: ArrayLike) -> tuple[float, float]:
    """Mean loss over the right and over the wrong examples, ``L_right`` and ``L_wrong``.

    They recombine into the mean loss as ``L = acc * L_right + (1 - acc) * L_wrong``. Both
    groups must hold examples (a mean over none is undefined), else ``ValueError``.
    """
    losses = np.asarray(per_example_loss, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if losses.ndim != 1 or right.shape != losses.shape:
        raise ValueError(
            f"per_example_loss and correct must have one shape (n,), got {losses.shape} and {right.shape}"
        )
    if losses.size == 0:
        raise ValueError("no examples: a mean over none is undefined")
    if right.all() or not right.any():
        which = "right" if right.all() else "wrong"
        raise ValueError(f"every one of the {len(right)} examples is {which}: the other group's mean loss is undefined")
    return float(losses[right].mean()), float(losses[~right].mean())
