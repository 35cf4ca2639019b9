"""CIFAR-10 ResNet18 runs: data, model, training with a per-epoch record, and the record's loader.

The book reads runs through :func:`load_record`; :func:`lossacc.cifar.train.train` (or the
``lossacc-train`` command) makes them. Names are imported from their submodules on first use, so reading a
record (``lossacc.cifar.record``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULE_OF = {
    "CIFAR10_CLASSES": "data",
    "CifarData": "data",
    "DataError": "data",
    "load_cifar10": "data",
    "CifarRecord": "record",
    "History": "record",
    "RecordError": "record",
    "Thumbnails": "record",
    "load_record": "record",
    "ResNet18": "resnet",
    "PRESETS": "config",
    "ConfigError": "config",
    "TrainConfig": "config",
    "ResumeError": "checkpoint",
    "RunOptions": "options",
    "DivergedError": "train",
}

__all__ = sorted(_SUBMODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SUBMODULE_OF[name]}"), name)
    globals()[name] = value
    return value
