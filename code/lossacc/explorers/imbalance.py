"""The class-imbalance explorer: an imbalance-ratio slider and a lean-to-frequent-classes slider."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lossacc.explorers.base import Explorer, explorer_module
from lossacc.imbalance import ImbalanceBase


class ImbalanceExplorer(Explorer):
    """Readouts follow :func:`lossacc.imbalance.imbalance_readouts` at the sliders' (ratio, bias)."""

    _esm = explorer_module("imbalance.js")

    @classmethod
    def from_base(
        cls,
        base: ImbalanceBase,
        class_names: Sequence[str],
        ratio_slider: tuple[float, float, float, float] = (1, 100, 1, 20),
        bias_slider: tuple[float, float, float, float] = (0.0, 5.0, 0.05, 0.0),
    ) -> ImbalanceExplorer:
        """Ship the base logits (rounded to 5 decimals), labels and the sliders' (min, max, step, start)."""
        if len(class_names) != base.base_logits.shape[1]:
            raise ValueError(f"need {base.base_logits.shape[1]} class names, got {len(class_names)}")
        return cls(
            data={
                "classes": list(class_names),
                "base_logits": np.round(base.base_logits, 5).tolist(),
                "labels": base.labels.astype(int).tolist(),
                "ratio": dict(zip(("min", "max", "step", "start"), ratio_slider)),
                "bias": dict(zip(("min", "max", "step", "start"), bias_slider)),
            }
        )
