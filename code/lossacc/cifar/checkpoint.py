"""The checkpoint: model, optimizer and :class:`RunState`, written atomically, continued only with the same settings and data."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lossacc.cifar.files import atomic_write
from lossacc.cifar.recording import RunState, setting_differences

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = "lossacc-cifar-checkpoint"


class ResumeError(ValueError):
    """A checkpoint exists but cannot be continued with the requested settings (or is missing)."""


def start_or_resume(
    path: Path,
    mode: str,
    settings: dict[str, Any],
    data_sha256: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> RunState:
    """Load the checkpoint at ``path`` into ``model`` and ``optimizer`` if there is one to continue
    (``mode``: ``"auto"``, ``"require"`` or ``"restart"``, see :class:`~lossacc.cifar.options.RunOptions`)."""
    if mode == "restart" or not path.exists():
        if mode == "require":
            raise ResumeError(f"no checkpoint to resume at {path}")
        return RunState()
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch.load raises many types for a damaged file
        # torch's own text runs to several lines and suggests weights_only=False, which would run
        # whatever code a tampered file holds: name the error only.
        raise ResumeError(
            f"checkpoint {path} is damaged ({type(error).__name__} while reading it); "
            "pass --restart to discard it and train from the start"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ResumeError(f"{path} is not a lossacc CIFAR checkpoint")
    differences = setting_differences(checkpoint["settings"], settings)
    if checkpoint["data_sha256"] != data_sha256:
        differences.append(f"dataset sha256 {checkpoint['data_sha256'][:12]}... there, {data_sha256[:12]}... now")
    if differences:
        raise ResumeError(
            f"the checkpoint in {path.parent} was made with other settings ({'; '.join(differences)}); "
            "use the same settings, another run folder, or --restart to discard it"
        )
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return RunState(
        history=checkpoint["history"],
        val_loss=[row.numpy() for row in checkpoint["val_loss"].cpu()],
        val_pred=[row.numpy() for row in checkpoint["val_pred"].cpu()],
        logit_epochs=list(checkpoint["logit_epochs"]),
        val_logits=[row.numpy() for row in checkpoint["val_logits"].cpu()],
        sessions=checkpoint["sessions"],
    )


def save_checkpoint(
    path: Path,
    settings: dict[str, Any],
    data_sha256: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: RunState,
) -> None:
    """Write the checkpoint to a temporary file and rename it over the old one (atomic)."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "settings": settings,
        "data_sha256": data_sha256,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": state.history,
        "val_loss": torch.from_numpy(np.stack(state.val_loss)),
        "val_pred": torch.from_numpy(np.stack(state.val_pred)),
        "logit_epochs": state.logit_epochs,
        "val_logits": torch.from_numpy(np.stack(state.val_logits)) if state.val_logits else torch.zeros(0),
        "sessions": state.sessions,
    }
    # Serialised in memory first, so that a full disk surfaces as Python's OSError (ENOSPC)
    # rather than as one of torch's stream errors, which do not say why a write failed.
    serialised = io.BytesIO()
    torch.save(checkpoint, serialised)
    atomic_write(path, lambda handle: handle.write(serialised.getbuffer()))
