"""The epoch scores computed on the device in torch agree with the NumPy library functions to 1e-6."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from lossacc.calibration import TEMPERATURE_BOUNDS, expected_calibration_error, fit_temperature, scaled_loss
from lossacc.cifar import scoring
from lossacc.cifar.record import load_record
from lossacc.metrics import accuracy, per_example_loss_from_logits, softmax

RECORD = Path(__file__).resolve().parents[1] / "records" / "cpu-laptop"


def logit_cases() -> list[tuple[str, NDArray[np.float32], NDArray[np.int64]]]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=2_000)
    noise = rng.normal(size=(2_000, 10))
    signal = np.eye(10)[labels]
    record = load_record(RECORD)
    cases = [
        (f"{name} x{scale}", (scale * (noise + shift * signal)).astype(np.float32), labels)
        for name, shift in (("random", 0.0), ("informative", 2.0))
        for scale in (0.01, 1.0, 30.0)
    ]
    cases += [(f"recorded epoch {e}", record.logits_at(e), record.val_labels) for e in record.logit_epochs[::4]]
    return cases


@pytest.mark.parametrize(("name", "logits", "labels"), logit_cases(), ids=lambda case: case if isinstance(case, str) else "")
def test_device_scores_match_the_numpy_library(name: str, logits: NDArray[np.float32], labels: NDArray[np.int64]) -> None:
    z, y = torch.from_numpy(logits), torch.from_numpy(labels)
    fit = np.random.default_rng(1).permutation(len(y)) < len(y) // 2
    scores = scoring.score_epoch(z, y, torch.from_numpy(fit), z[:500], y[:500], bins=15)
    temperature = fit_temperature(logits[fit], labels[fit])
    held = ~fit
    expected = {
        "train_eval_loss": per_example_loss_from_logits(logits[:500], labels[:500]).mean(),
        "train_eval_acc": accuracy(logits[:500], labels[:500]),
        "val_loss": per_example_loss_from_logits(logits, labels).mean(),
        "val_acc": accuracy(logits, labels),
        "val_ece": expected_calibration_error(softmax(logits), labels, 15),
        "temperature": temperature,
        "val_heldout_loss": per_example_loss_from_logits(logits[held], labels[held]).mean(),
        "val_heldout_ece": expected_calibration_error(softmax(logits[held]), labels[held], 15),
        "val_heldout_loss_scaled": scaled_loss(logits[held], labels[held], temperature),
        "val_heldout_ece_scaled": expected_calibration_error(
            softmax(logits[held].astype(np.float64) / temperature), labels[held], 15
        ),
    }
    assert scores.scalars.keys() == expected.keys()
    for key, value in expected.items():
        assert scores.scalars[key] == pytest.approx(value, rel=1e-6, abs=1e-6), (name, key)
    assert np.allclose(scores.val_loss, per_example_loss_from_logits(logits, labels), rtol=1e-9, atol=1e-9)
    assert np.array_equal(scores.val_pred, logits.argmax(axis=1))


def test_the_temperature_stops_at_the_bounds_as_the_library_does() -> None:
    labels = torch.arange(10).repeat(20)
    confident_and_wrong = 50 * torch.eye(10)[(labels + 1) % 10]  # any T > 0 helps: the fit wants T -> infinity
    never_wrong = 50 * torch.eye(10)[labels]  # sharper is always better: T -> 0
    assert scoring.fit_temperature(confident_and_wrong, labels).item() == TEMPERATURE_BOUNDS[1]
    assert scoring.fit_temperature(never_wrong, labels).item() == TEMPERATURE_BOUNDS[0]
    assert fit_temperature(confident_and_wrong.numpy(), labels.numpy()) == TEMPERATURE_BOUNDS[1]
