"""The double-softmax bug: feeding probabilities to a loss that applies softmax itself.

``torch.nn.CrossEntropyLoss`` expects logits. Given probabilities ``p`` it computes
``-ln softmax(p)[y]`` instead of ``-ln p[y]``: a loss squeezed into a narrow band, so
every loss curve comes out flattened.
"""

from __future__ import annotations

import math

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
