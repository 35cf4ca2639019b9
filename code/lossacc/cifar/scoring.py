"""An epoch's scores computed where the logits are (on the GPU during a GPU run), in float64 torch.

The same quantities as the NumPy library functions (:mod:`lossacc.metrics`,
:mod:`lossacc.calibration`), which the tests check they match to 1e-6; computing them on the
device avoids copying logits to the host and one host round trip per bisection step. Every
scalar comes back in one transfer at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from lossacc.calibration import TEMPERATURE_BOUNDS

TEMPERATURE_ITERATIONS = 60


@dataclass(frozen=True)
class EpochScores:
    """Validation and training-subset scores of one epoch; ``scalars`` holds the history fields."""

    scalars: dict[str, float]
    val_loss: NDArray[np.float64]
    val_pred: NDArray[np.int64]


def per_example_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``-log softmax(z_i)[y_i] = logsumexp_j z_ij - z_iy`` in float64, shape (n,)."""
    z = logits.double()
    return torch.logsumexp(z, dim=1) - z.gather(1, labels[:, None]).squeeze(1)


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, bins: int) -> torch.Tensor:
    """``ECE = sum_b (n_b / n) |acc_b - conf_b| = (1/n) sum_b |sum_{i in b} (correct_i - conf_i)|``
    over the right-closed bins ``(m/M, (m+1)/M]`` of the top-1 softmax confidence."""
    probs = torch.softmax(logits.double(), dim=1)
    predicted = probs.argmax(dim=1)
    confidence = probs.gather(1, predicted[:, None]).squeeze(1)
    edges = torch.arange(bins + 1, dtype=torch.float64, device=logits.device) / bins
    which = (torch.searchsorted(edges, confidence, side="left") - 1).clamp(0, bins - 1)
    gap = (predicted == labels).double() - confidence
    return torch.bincount(which, weights=gap, minlength=bins).abs().sum() / len(labels)


def fit_temperature(
    logits: torch.Tensor, labels: torch.Tensor, iterations: int = TEMPERATURE_ITERATIONS
) -> torch.Tensor:
    """``T* = argmin_T (1/n) sum_i -log softmax(z_i / T)[y_i]`` within ``TEMPERATURE_BOUNDS``, by
    bisection on the sign of ``f'(b) = mean_i [E_{p_b}(z_i) - z_iy]`` over ``log b``, ``b = 1/T``
    (as :func:`lossacc.calibration.fit_temperature`), with the bracket kept on the device."""
    z = logits.double()
    true_logit = z.gather(1, labels[:, None]).squeeze(1)

    def slope(log_inverse_temperature: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(torch.exp(log_inverse_temperature) * z, dim=1)
        return ((probs * z).sum(dim=1) - true_logit).mean()

    lowest, highest = TEMPERATURE_BOUNDS
    start_low = torch.tensor(-math.log(highest), dtype=torch.float64, device=z.device)
    start_high = torch.tensor(-math.log(lowest), dtype=torch.float64, device=z.device)
    low, high = start_low, start_high
    for _ in range(iterations):
        middle = (low + high) / 2
        below = slope(middle) < 0
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    temperature = torch.exp(-(low + high) / 2)
    temperature = torch.where(slope(start_high) <= 0, lowest, temperature)
    return torch.where(slope(start_low) >= 0, highest, temperature)


def score_epoch(
    val_logits: torch.Tensor,
    val_labels: torch.Tensor,
    calibration_fit_mask: torch.Tensor,
    train_eval_logits: torch.Tensor,
    train_eval_labels: torch.Tensor,
    bins: int,
) -> EpochScores:
    """Validation loss, accuracy and ECE; the temperature fitted on the calibration half and the
    other half's loss and ECE before and after scaling; loss and accuracy on the training subset."""
    val_loss = per_example_loss(val_logits, val_labels)
    val_pred = val_logits.argmax(dim=1)
    held_out = ~calibration_fit_mask
    held_logits, held_labels = val_logits[held_out].double(), val_labels[held_out]
    temperature = fit_temperature(val_logits[calibration_fit_mask], val_labels[calibration_fit_mask])
    scalars = {
        "train_eval_loss": per_example_loss(train_eval_logits, train_eval_labels).mean(),
        "train_eval_acc": (train_eval_logits.argmax(dim=1) == train_eval_labels).double().mean(),
        "val_loss": val_loss.mean(),
        "val_acc": (val_pred == val_labels).double().mean(),
        "val_ece": expected_calibration_error(val_logits, val_labels, bins),
        "temperature": temperature,
        "val_heldout_loss": val_loss[held_out].mean(),
        "val_heldout_ece": expected_calibration_error(held_logits, held_labels, bins),
        "val_heldout_loss_scaled": per_example_loss(held_logits / temperature, held_labels).mean(),
        "val_heldout_ece_scaled": expected_calibration_error(held_logits / temperature, held_labels, bins),
    }
    values = torch.stack([value.double() for value in scalars.values()]).cpu().tolist()
    return EpochScores(
        scalars=dict(zip(scalars, values, strict=True)),
        val_loss=val_loss.cpu().numpy(),
        val_pred=val_pred.cpu().numpy().astype(np.int64),
    )
