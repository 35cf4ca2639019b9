"""The first explorer's model and the double-softmax bug."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossacc.double_softmax import (
    double_softmax_loss_range,
    double_softmax_per_example_loss,
    outputs_look_like_probabilities,
)
from lossacc.predictions import moved_readouts, prediction_readouts, with_true_class_probability


def test_moving_the_true_class_keeps_the_others_proportions() -> None:
    moved = with_true_class_probability([0.25, 0.35, 0.40], label=2, p=0.7)
    assert moved.sum() == pytest.approx(1.0)
    assert moved[2] == 0.7
    assert moved[0] / moved[1] == pytest.approx(0.25 / 0.35)


def test_moving_a_certain_prediction_splits_the_rest_equally() -> None:
    np.testing.assert_allclose(with_true_class_probability([0.0, 1.0, 0.0], label=1, p=0.4), [0.3, 0.4, 0.3])


def test_probability_outside_unit_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        with_true_class_probability([0.5, 0.5], label=0, p=1.2)


def test_readouts_of_the_chapter_examples() -> None:
    probs = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.25, 0.35, 0.40]])
    labels = np.array([0, 0, 2])
    readouts = prediction_readouts(probs, labels)
    np.testing.assert_allclose(readouts.per_example_loss, [-math.log(0.9), -math.log(0.6), -math.log(0.4)])
    assert readouts.accuracy == 1.0
    assert readouts.mean_loss == pytest.approx(np.mean([-math.log(0.9), -math.log(0.6), -math.log(0.4)]))


def test_moved_readouts_flip_a_prediction_below_its_rival() -> None:
    probs = np.array([[0.25, 0.35, 0.40]])
    assert moved_readouts(probs, [2], [0.40]).accuracy == 1.0
    after = moved_readouts(probs, [2], [0.30])  # rest 0.70 split 0.25:0.35 -> dog 0.408 > horse 0.30
    assert after.accuracy == 0.0
    assert after.predicted[0] == 1
    assert after.mean_loss == pytest.approx(-math.log(0.30))


def test_double_softmax_reproduces_the_quoted_numbers_and_torch() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    labels = np.array([0, 0])
    buggy = double_softmax_per_example_loss(probs, labels)
    expected = F.cross_entropy(torch.tensor(probs), torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(buggy, expected, rtol=1e-12)
    assert buggy.round(2).tolist() == [0.37, 0.6]


@pytest.mark.parametrize("k", [2, 3, 10])
def test_double_softmax_range_bounds_every_prediction(k: int) -> None:
    low, high = double_softmax_loss_range(k)
    one_hot_right = np.eye(k)[[0]]
    one_hot_wrong = np.eye(k)[[1]]
    assert double_softmax_per_example_loss(one_hot_right, [0])[0] == pytest.approx(low)
    assert double_softmax_per_example_loss(one_hot_wrong, [0])[0] == pytest.approx(high)
    random_probs = np.random.default_rng(k).dirichlet(np.ones(k) * 0.3, size=500)
    losses = double_softmax_per_example_loss(random_probs, np.zeros(500, dtype=int))
    assert (losses >= low - 1e-12).all() and (losses <= high + 1e-12).all()


def test_detector_tells_probabilities_from_logits() -> None:
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(0))
    assert not outputs_look_like_probabilities(logits.numpy())
    assert outputs_look_like_probabilities(logits.softmax(dim=1).numpy())


def test_training_with_the_double_softmax_bug_learns_from_flattened_gradients() -> None:
    """Chapter 2's claim: the bug's gradients are far smaller, so the model learns slower."""
    import torch

    from lossacc.double_softmax import train_softmax_regression

    threads = torch.get_num_threads()
    right = train_softmax_regression(double_softmax=False, steps=30)
    bug = train_softmax_regression(double_softmax=True, steps=30)
    assert torch.get_num_threads() == threads  # it trains on one thread and gives the others back
    assert right.gradient_norm[0] > 5 * bug.gradient_norm[0]
    assert (bug.true_loss > right.true_loss).all()
    assert bug.true_loss[-1] < bug.true_loss[0]  # it does learn, only slower
    # the first step starts from all-zero weights: uniform probabilities, loss ln 10 before it
    assert right.true_loss[0] < np.log(10) and bug.true_loss[0] < np.log(10)
