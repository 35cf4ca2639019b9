"""How a run executes rather than what it computes: :class:`RunOptions`, resolved per machine into a :class:`Runtime`.

None of this is part of the resume check: a run may continue on another machine or with
other options and still compute the same recipe.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch

from lossacc.cifar.config import ConfigError
from lossacc.cifar.provenance import cpu_name


@dataclass(frozen=True)
class RunOptions:
    """How a run executes.

    ``resume``: ``"auto"`` continues a checkpoint with the same settings and starts afresh
    when there is none; ``"require"`` insists on a checkpoint; ``"restart"`` discards one.
    ``progress``: progress bars (when stderr is a terminal) and one line per epoch on stdout.
    ``eval_batch_size=None`` picks 1000 on a GPU and 125 on a CPU (where big batches are slower).
    ``checkpoint_every=None`` checkpoints every epoch on a CPU and every 10 on a GPU (where a
    96 MiB write is a large share of a 3 s epoch); a checkpoint is also written with every
    record and when the session ends. ``record_every``: also write the record every N epochs.
    ``overwrite_record``: replace a record folder that holds another run (refused otherwise).
    ``stop_after_epochs`` and ``time_budget_seconds`` end a session early and cleanly (before
    an epoch that would overrun the budget, judged by the last epoch's time); run again to go on.
    """

    device: str = "auto"
    channels_last: bool = True
    bf16: bool | None = None
    eval_batch_size: int | None = None
    progress: bool = True
    record_every: int = 10
    checkpoint_every: int | None = None
    overwrite_record: bool = False
    stop_after_epochs: int | None = None
    time_budget_seconds: float | None = None
    resume: str = "auto"

    def __post_init__(self) -> None:
        if self.resume not in ("auto", "require", "restart"):
            raise ConfigError(f"resume must be auto, require or restart, got {self.resume!r}")
        for name in ("eval_batch_size", "record_every", "checkpoint_every", "stop_after_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        budget = self.time_budget_seconds
        if budget is not None and not (math.isfinite(budget) and budget > 0):
            raise ConfigError(f"time budget must be a positive number of seconds, got {budget}")


@dataclass(frozen=True)
class Runtime:
    """The device and the speed settings resolved for this machine."""

    device: torch.device
    channels_last: bool
    bf16: bool
    eval_batch_size: int
    checkpoint_every: int
    fused_sgd: bool

    @classmethod
    def resolve(cls, options: RunOptions) -> Runtime:
        name = ("cuda" if torch.cuda.is_available() else "cpu") if options.device == "auto" else options.device
        try:
            device = torch.device(name)
        except RuntimeError as error:
            raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but torch {torch.__version__} sees no CUDA GPU")
        if device.type not in ("cpu", "cuda"):
            raise ConfigError(f"device {name!r} is not supported (use cpu or cuda)")
        gpu = device.type == "cuda"
        return cls(
            device=device,
            channels_last=options.channels_last,
            bf16=options.bf16 if options.bf16 is not None else gpu and torch.cuda.is_bf16_supported(),
            eval_batch_size=options.eval_batch_size or (1000 if gpu else 125),
            checkpoint_every=options.checkpoint_every or (10 if gpu else 1),
            fused_sgd=gpu and "fused" in inspect.signature(torch.optim.SGD).parameters,
        )

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def describe(self) -> dict[str, Any]:
        """The device and speed settings as the record states them."""
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
        else:
            threads = torch.get_num_threads()
            name = f"{cpu_name()} ({threads} thread{'' if threads == 1 else 's'})"
        return {
            "type": self.device.type,
            "name": name,
            "channels_last": self.channels_last,
            "bf16": self.bf16,
            "fused_sgd": self.fused_sgd,
        }
