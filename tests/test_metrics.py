"""The library's loss and accuracy, cross-checked against torch.nn.functional."""

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossacc import metrics

RNG = np.random.default_rng(20261123)


def random_batch(n: int = 64, k: int = 7, scale: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    return RNG.normal(scale=scale, size=(n, k)), RNG.integers(0, k, size=n)


def test_per_example_loss_from_logits_matches_torch() -> None:
    logits, labels = random_batch()
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(metrics.per_example_loss_from_logits(logits, labels), expected, rtol=1e-12)


def test_mean_loss_from_logits_matches_torch() -> None:
    logits, labels = random_batch()
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert metrics.cross_entropy_from_logits(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_loss_from_logits_is_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0]])
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor([1])).item()
    assert metrics.cross_entropy_from_logits(logits, [1]) == pytest.approx(expected)
    assert math.isfinite(metrics.cross_entropy_from_logits(logits, [1]))


def test_loss_from_probs_matches_torch_nll_of_log() -> None:
    logits, labels = random_batch()
    probs = torch.softmax(torch.tensor(logits), dim=1)
    expected = F.nll_loss(torch.log(probs), torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(metrics.per_example_loss_from_probs(probs.numpy(), labels), expected, rtol=1e-10)
    assert metrics.cross_entropy_from_probs(probs.numpy(), labels) == pytest.approx(expected.mean(), rel=1e-10)


def test_softmax_matches_torch_and_rows_sum_to_one() -> None:
    logits, _ = random_batch()
    probs = metrics.softmax(logits)
    np.testing.assert_allclose(probs, torch.softmax(torch.tensor(logits), dim=1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_loss_from_probs_of_zero_true_probability_is_infinite() -> None:
    assert metrics.per_example_loss_from_probs([[1.0, 0.0]], [1])[0] == math.inf


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_matches_torch_topk(k: int) -> None:
    logits, labels = random_batch(n=200, k=6)
    top = torch.topk(torch.tensor(logits), k, dim=1).indices
    expected = (top == torch.tensor(labels)[:, None]).any(dim=1).double().mean().item()
    assert metrics.top_k_accuracy(logits, labels, k) == pytest.approx(expected)


def test_accuracy_counts_argmax_hits() -> None:
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    labels = np.array([1, 1, 1, 0])
    # rows 0 and 2 are right; row 3 is a tie, which argmax gives to class 0 (right)
    assert metrics.accuracy(scores, labels) == 0.75


def test_top_k_accuracy_of_all_classes_is_one() -> None:
    logits, labels = random_batch(k=4)
    assert metrics.top_k_accuracy(logits, labels, k=4) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.cross_entropy_from_logits([[1.0, 2.0]], [2]), "labels must lie in"),
        (lambda: metrics.cross_entropy_from_logits([[1.0, 2.0]], [0.5]), "labels must be integers"),
        (lambda: metrics.cross_entropy_from_logits([[1.0]], [0]), "k >= 2 classes"),
        (lambda: metrics.cross_entropy_from_logits([[1.0, 2.0]], [0, 1]), "labels must have shape"),
        (lambda: metrics.cross_entropy_from_probs([[0.7, 0.7]], [0]), "sum to 1"),
        (lambda: metrics.top_k_accuracy([[1.0, 2.0]], [0], k=3), "k must lie in"),
    ],
)
def test_bad_input_gives_a_clear_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_top_k_refuses_nan_scores_and_ranks_infinities() -> None:
    scores = np.array([[0.1, np.nan, 0.3], [0.5, 0.2, 0.3]])
    for k in (1, 2):
        with pytest.raises(ValueError, match="NaN"):
            metrics.top_k_accuracy(scores, np.array([0, 0]), k=k)
    infinite = np.array([[-np.inf, 0.0, np.inf], [np.inf, np.inf, 0.0]])
    assert metrics.top_k_accuracy(infinite, np.array([2, 1]), k=1) == 0.5  # a tie of +inf goes to the lower index
    assert metrics.top_k_accuracy(infinite, np.array([2, 1]), k=2) == 1.0


def test_top_k_agrees_with_a_stable_sort_with_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(500, 6)).astype(float)  # many ties
    labels = rng.integers(0, 6, size=500)
    for k in range(1, 7):
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        assert metrics.top_k_accuracy(scores, labels, k=k) == (top == labels[:, None]).any(axis=1).mean()
    assert metrics.top_k_accuracy(scores, labels, k=1) == (scores.argmax(axis=1) == labels).mean()
