"""The temperature explorer: a temperature slider over fixed real predictions, with the reliability diagram."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lossacc.calibration import NUM_BINS
from lossacc.explorers.base import Explorer, explorer_module


class TemperatureExplorer(Explorer):
    """Readouts follow :func:`lossacc.calibration.temperature_readouts` at the slider's ``T``.

    The page gets the logits (rounded to 4 decimals) and labels of a fixed set of predictions,
    the fitted temperature to mark, and the slider's range; the JavaScript computes
    ``softmax(z / T)``, accuracy, mean loss, mean confidence, the right-closed reliability bins
    and the ECE, and the loss curve over the slider's range.
    """

    _esm = explorer_module("temperature.js")

    @classmethod
    def from_predictions(
        cls,
        logits: ArrayLike,
        labels: ArrayLike,
        fitted_temperature: float,
        title: str,
        slider: tuple[float, float, float] = (0.25, 5.0, 0.05),
        num_bins: int = NUM_BINS,
    ) -> TemperatureExplorer:
        """Ship the predictions, the fitted ``T`` (marked), a description of where they come from,
        and the slider's (min, max, step); the slider starts at ``T = 1``, the model as trained."""
        return cls(
            data={
                "logits": np.round(np.asarray(logits, dtype=np.float64), 4).tolist(),
                "labels": np.asarray(labels).astype(int).tolist(),
                "fitted": round(float(fitted_temperature), 4),
                "title": title,
                "bins": num_bins,
                "slider": dict(zip(("min", "max", "step"), slider, strict=True)),
            }
        )
