"""Which images a run uses: class-balanced subsets of the training and test splits, fixed by ``subset_seed``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lossacc.cifar.config import ConfigError, TrainConfig
from lossacc.cifar.data import CifarData


def balanced_subset(labels: NDArray[np.integer], size: int | None, rng: np.random.Generator) -> NDArray[np.int64]:
    """Sorted positions of ``size`` examples (all when ``None``), as class-balanced as possible:
    examples are shuffled within each class and taken round-robin across the classes."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    shuffled = rng.permutation(len(labels))
    by_class = shuffled[np.argsort(labels[shuffled], kind="stable")]
    rank_in_class = np.arange(len(labels)) - np.searchsorted(labels[by_class], labels[by_class])
    return np.sort(by_class[np.argsort(rank_in_class, kind="stable")][:size])


@dataclass(frozen=True)
class Splits:
    """Positions in the dataset's training and test splits, and the validation half that fits the temperature."""

    train: NDArray[np.int64]
    train_eval: NDArray[np.int64]
    val: NDArray[np.int64]
    calibration_fit_mask: NDArray[np.bool_]

    @classmethod
    def select(cls, data: CifarData, config: TrainConfig) -> Splits:
        for name, size, available in (
            ("train_size", config.train_size, len(data.train_labels)),
            ("val_size", config.val_size, len(data.test_labels)),
        ):
            if size is not None and size > available:
                raise ConfigError(f"{name} {size} exceeds the {available} images in the dataset")
        seeds = np.random.SeedSequence(config.subset_seed).spawn(4)
        train = balanced_subset(data.train_labels, config.train_size, np.random.default_rng(seeds[0]))
        train_eval = train[
            balanced_subset(data.train_labels[train], config.train_eval_size, np.random.default_rng(seeds[1]))
        ]
        val = balanced_subset(data.test_labels, config.val_size, np.random.default_rng(seeds[2]))
        fit_mask = np.zeros(len(val), dtype=bool)
        fit_mask[np.random.default_rng(seeds[3]).permutation(len(val))[: len(val) // 2]] = True
        return cls(train, train_eval, val, fit_mask)
