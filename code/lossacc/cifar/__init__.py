"""CIFAR-10 ResNet18 runs: data, model, training with a per-epoch record, and the record's loader.

The book reads runs through :func:`load_record`; :func:`train` (or the ``lossacc-train``
command) makes them.
"""

from lossacc.cifar.data import CIFAR10_CLASSES, CifarData, DataError, load_cifar10
from lossacc.cifar.record import CifarRecord, History, RecordError, Thumbnails, load_record
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.train import PRESETS, ConfigError, ResumeError, RunOptions, TrainConfig, train

__all__ = [
    "CIFAR10_CLASSES",
    "PRESETS",
    "CifarData",
    "CifarRecord",
    "ConfigError",
    "DataError",
    "History",
    "RecordError",
    "ResNet18",
    "ResumeError",
    "RunOptions",
    "Thumbnails",
    "TrainConfig",
    "load_cifar10",
    "load_record",
    "train",
]
