"""The "is the difference real?" explorer: validation-set size and B's true advantage on sliders."""

from __future__ import annotations

from lossacc.explorers.base import Explorer, explorer_module
from lossacc.significance import Z_ONE_SIDED, Z_TWO_SIDED, TwoModels


class SignificanceExplorer(Explorer):
    """Readouts follow :func:`lossacc.significance.significance_readouts` at the sliders' (shift, n)."""

    _esm = explorer_module("significance.js")

    @classmethod
    def from_models(
        cls,
        models: TwoModels,
        shift_slider: tuple[float, float, float, float] = (0.0, 0.5, 0.01, 0.1),
        log_n_slider: tuple[float, float, float, float] = (2.0, 5.0, 0.05, 3.0),
    ) -> SignificanceExplorer:
        """Ship the population (3 decimals, as :func:`lossacc.significance.two_models` rounds it), the
        normal quantiles and the sliders' (min, max, step, start); the size slider moves ``log10 n``."""
        return cls(
            data={
                "base": models.base.tolist(),
                "noise_a": models.noise_a.tolist(),
                "noise_b": models.noise_b.tolist(),
                "z_two_sided": Z_TWO_SIDED,
                "z_one_sided": Z_ONE_SIDED,
                "shift": dict(zip(("min", "max", "step", "start"), shift_slider)),
                "log_n": dict(zip(("min", "max", "step", "start"), log_n_slider)),
            }
        )
