"""The first explorer: move the true-class probability of a few predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lossacc.explorers.base import Explorer, explorer_module


class PredictionExplorer(Explorer):
    """Sliders set each example's true-class probability; readouts follow :func:`lossacc.predictions.moved_readouts`."""

    _esm = explorer_module("prediction.js")

    @classmethod
    def from_examples(
        cls, classes: Sequence[str], names: Sequence[str], probs: np.ndarray, labels: Sequence[int]
    ) -> PredictionExplorer:
        """Build from class names, example names, base probabilities ``(n, k)`` and true labels."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(names), len(classes)) or len(labels) != len(names):
            raise ValueError("need one name, one label and one row of len(classes) probabilities per example")
        examples = [
            {"name": name, "label": int(label), "probs": [float(q) for q in row]}
            for name, label, row in zip(names, labels, probs)
        ]
        return cls(data={"classes": list(classes), "examples": examples})
