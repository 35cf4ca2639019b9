"""The log-loss asymmetry explorer: shift three groups of a validation set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lossacc.asymmetry import GROUP_NAMES, Population
from lossacc.explorers.base import Explorer, explorer_module


class PopulationExplorer(Explorer):
    """Sliders shift each group's true-class logit; readouts follow :func:`lossacc.asymmetry.population_readouts`.

    The population must have two classes: the histogram's decision threshold is p = 0.5.
    """

    _esm = explorer_module("population.js")

    @classmethod
    def from_population(
        cls, population: Population, group_names: Sequence[str] = GROUP_NAMES, shift_range: tuple[float, float, float] = (-4.0, 4.0, 0.1)
    ) -> PopulationExplorer:
        """Ship the population's log-odds and margins (rounded to 6 decimals) and the slider range."""
        if population.logits.shape[1] != 2:
            raise ValueError("the population explorer shows two-class populations")
        low, high, step = shift_range
        return cls(
            data={
                "group_names": list(group_names),
                "true_log_odds": np.round(population.true_log_odds, 6).tolist(),
                "argmax_margin": np.round(population.argmax_margin, 6).tolist(),
                "group": population.group.astype(int).tolist(),
                "shift": {"min": low, "max": high, "step": step},
            }
        )
