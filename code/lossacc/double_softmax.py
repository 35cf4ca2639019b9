"""The double-softmax bug: feeding probabilities to a loss that applies softmax itself.

``torch.nn.CrossEntropyLoss`` expects logits. Given probabilities ``p`` it computes
``-ln softmax(p)[y]`` instead of ``-ln p[y]``: a loss squeezed into a narrow band, so
every loss curve comes out flattened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lossacc.metrics import FloatArray, per_example_loss_from_logits


def double_softmax_per_example_loss(probs: ArrayLike, labels: ArrayLike) -> FloatArray:
    """What a logits loss reports when handed probabilities: ``l_i = -ln softmax(p_i)[y_i]``."""
    return per_example_loss_from_logits(probs, labels)


def double_softmax_loss_range(num_classes: int) -> tuple[float, float]:
    """Smallest and largest loss the bug can report with ``k`` classes.

    Best case, all mass on the true class: ``-ln(e / (e + k - 1)) = ln(1 + (k - 1)/e)``.
    Worst case, all mass on one wrong class: ``ln(e + k - 1)``.
    """
    if num_classes < 2:
        raise ValueError(f"need at least 2 classes, got {num_classes}")
    return math.log1p((num_classes - 1) / math.e), math.log(math.e + num_classes - 1)


def outputs_look_like_probabilities(outputs: ArrayLike, atol: float = 1e-4) -> bool:
    """True when every row is non-negative and sums to 1: a sign that softmax was already applied.

    Logits almost never pass this test; pass it to a logits loss and you have the bug.
    """
    values = np.asarray(outputs, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"outputs must have shape (n, k), got {values.shape}")
    return bool((values >= 0).all() and np.allclose(values.sum(axis=1), 1.0, atol=atol))


@dataclass(frozen=True)
class TrainingTrace:
    """One value per gradient step of :func:`train_softmax_regression`."""

    true_loss: FloatArray  # -ln p_y of the model's own softmax, after the step
    accuracy: FloatArray  # after the step
    gradient_norm: FloatArray  # of the weights' gradient of the loss trained on, before the step


def train_softmax_regression(double_softmax: bool, steps: int = 100, lr: float = 1.0, seed: int = 0) -> TrainingTrace:
    """Full-batch gradient descent on a linear ten-class classifier, with or without the bug.

    The data: 1000 points in 20 dimensions around ten random class centres (Gaussian noise of
    standard deviation 1.5). The right loss is ``F.cross_entropy(logits, y)``; the bug feeds
    ``softmax(logits)`` to it. Both are judged by the right loss of the same model.
    """
    import torch

    # A 1000 x 20 problem: one thread computes the same numbers faster than a pool whose threads
    # wait for one another at every small operation (on a busy machine, many times faster).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(double_softmax, steps, lr, seed)
    finally:
        torch.set_num_threads(threads)


def _train(double_softmax: bool, steps: int, lr: float, seed: int) -> TrainingTrace:
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, 20, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (1000,), generator=generator)
    x = centres[y] + 1.5 * torch.randn(1000, 20, generator=generator, dtype=torch.float64)
    weights = torch.zeros(20, 10, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    trace = np.empty((steps, 3))
    for step in range(steps):
        logits = x @ weights + bias
        loss = F.cross_entropy(logits.softmax(dim=1) if double_softmax else logits, y)
        weight_grad, bias_grad = torch.autograd.grad(loss, (weights, bias))
        with torch.no_grad():
            weights -= lr * weight_grad
            bias -= lr * bias_grad
            logits = x @ weights + bias
            trace[step] = (
                F.cross_entropy(logits, y).item(),
                (logits.argmax(dim=1) == y).double().mean().item(),
                weight_grad.norm().item(),
            )
    return TrainingTrace(trace[:, 0], trace[:, 1], trace[:, 2])
