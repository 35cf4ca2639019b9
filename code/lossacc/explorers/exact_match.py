"""The exact-match explorer: per-token probability ``p`` and answer length ``L`` on sliders."""

from __future__ import annotations

import math

from lossacc.explorers.base import Explorer, explorer_module


class ExactMatchExplorer(Explorer):
    """Sliders for ``p`` and ``L``; readouts follow :func:`lossacc.sequences.exact_match_readouts`.

    The chart draws exact match ``exp(-L x)`` and one token's probability ``exp(-x)`` against
    the per-token loss ``x`` from 0 to ``-ln p_min``, with the current point on both curves.
    """

    _esm = explorer_module("exact_match.js")

    @classmethod
    def from_ranges(
        cls, p: tuple[float, float, float, float] = (0.5, 0.995, 0.005, 0.9), length: tuple[int, int, int, int] = (1, 20, 1, 5)
    ) -> ExactMatchExplorer:
        """Slider ranges as ``(min, max, step, start)``; ``p`` must stay inside (0, 1)."""
        if not 0 < p[0] <= p[3] <= p[1] < 1 or not 1 <= length[0] <= length[3] <= length[1]:
            raise ValueError(f"need 0 < p_min <= start <= p_max < 1 and 1 <= L_min <= start <= L_max, got p={p}, L={length}")
        return cls(
            data={
                "p": dict(zip(("min", "max", "step", "start"), p)),
                "length": dict(zip(("min", "max", "step", "start"), length)),
                "loss_max": round(-math.log(p[0]), 6),
            }
        )
