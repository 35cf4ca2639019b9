"""The live trainer: a small network trained in the page, steered by the reader.

The JavaScript (``live_trainer.js``) trains the network of :mod:`lossacc.live_training`
with the same seeded numbers and the same order of operations, so that the page and the
library's :func:`lossacc.live_training.train` give the same epochs.
"""

from __future__ import annotations

from dataclasses import asdict

from lossacc.explorers.base import ASSETS, Explorer, explorer_module
from lossacc.live_training import TrainerSettings

PRESETS = {"steps": "drops at 30, 60, 80%", "none": "no drop"}
WEIGHT_DECAYS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.5)
LABEL_SMOOTHINGS = (0.0, 0.05, 0.1, 0.2, 0.3)
WIDTHS = (16, 32, 64, 128)
MAX_LABEL_NOISE = 0.4
MAX_SEED = 20


class LiveTrainerExplorer(Explorer):
    """Play, pause, step, reset, drop the learning rate; the settings sliders start new runs.

    The page gets the settings of :class:`~lossacc.live_training.TrainerSettings` (the drops
    come from the schedule preset), the choices of each control and the half-width ``extent``
    of the square the decision regions are drawn on. The page trains in a Web Worker, so that
    drawing never waits for training.
    """

    _esm = explorer_module("live_trainer.js")
    _css = Explorer._css + "\n" + (ASSETS / "live_trainer.css").read_text()

    @classmethod
    def from_settings(cls, settings: TrainerSettings | None = None, preset: str = "steps") -> LiveTrainerExplorer:
        """An explorer that starts from ``settings`` (default: the chapter's) and schedule ``preset``."""
        settings = settings or TrainerSettings()
        if preset not in PRESETS:
            raise ValueError(f"unknown schedule preset {preset!r}: use one of {', '.join(PRESETS)}")
        choices = {"weight_decay": WEIGHT_DECAYS, "dropout": DROPOUTS, "label_smoothing": LABEL_SMOOTHINGS, "width": WIDTHS}
        for name, values in choices.items():
            if getattr(settings, name) not in values:
                raise ValueError(f"{name} must be one of {values}")
        if not (0 <= settings.label_noise <= MAX_LABEL_NOISE and 1 <= settings.seed <= MAX_SEED):
            raise ValueError(f"label noise must be in [0, {MAX_LABEL_NOISE}] and the seed in 1..{MAX_SEED}")
        fields = asdict(settings)
        del fields["drops"]
        return cls(
            data={
                "settings": fields,
                "preset": preset,
                "presets": [{"value": value, "label": label} for value, label in PRESETS.items()],
                "weight_decays": list(WEIGHT_DECAYS),
                "dropouts": list(DROPOUTS),
                "label_smoothings": list(LABEL_SMOOTHINGS),
                "widths": list(WIDTHS),
                "max_noise": MAX_LABEL_NOISE,
                "max_seed": MAX_SEED,
                "extent": round(settings.radius + 2 * settings.jitter, 3),
            }
        )
