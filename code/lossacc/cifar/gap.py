"""Why the running training loss is not the validation loss, measured on one checkpoint's weights.

The training loss a log prints is the mean over an epoch's batches, in train mode, on
augmented images, while the weights change. With the weights of one checkpoint this module
measures the cross-entropy of the same training images four ways, ``{clean, augmented} x
{eval mode, train mode}``:

- ``clean_eval``: no augmentation, eval mode (batch norm's running statistics): the clean
  training loss the record already holds for that epoch (the same images, when they are the
  run's eval-mode training subset);
- ``augmented_eval``: one random crop and flip per image (the run's padding and flip);
- ``clean_train_mode`` and ``augmented_train_mode``: the same images in train mode, batch norm
  normalising each batch of ``batch_size`` (the run's) by its own statistics, on a copy of the
  model so that its running statistics stay as they were.

The augmented images and the batches are drawn once, from ``seed``, and shared by the
conditions, so the differences are paired. What is left of the running loss, ``running -
augmented_train_mode``, is the lag of the average (plus the noise of one augmentation draw).
``python -m lossacc.cifar.gap`` (``lossacc-measure-gap``) writes the measurement as a small
JSON file (:data:`MEASUREMENT_FORMAT`), with where it came from; :func:`lossacc.train_val_gap.load_training_losses`
reads it without torch.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F

from lossacc.cifar.augment import random_crop_flip, to_network_input
from lossacc.cifar.checkpoint import CHECKPOINT_FORMAT
from lossacc.cifar.config import ConfigError, TrainConfig
from lossacc.cifar.data import CifarData, DataError, load_cifar10, sha256_of_file
from lossacc.cifar.files import PathError, atomic_write
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.provenance import code_version, now, software_versions
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.splits import Splits
from lossacc.command_line import Parser
from lossacc.train_val_gap import CONDITIONS, MEASUREMENT_FORMAT, MEASUREMENT_VERSION

PROGRAM = "lossacc-measure-gap"


class MeasurementError(ValueError):
    """The checkpoint or the data cannot give the measurement asked for."""


@dataclass(frozen=True)
class ConditionLosses:
    """Per-example cross-entropy (plain and with the run's label smoothing) and correctness, float64 / bool (n,)."""

    loss: NDArray[np.float64]
    smoothed_loss: NDArray[np.float64]
    correct: NDArray[np.bool_]


@torch.no_grad()
def measure_conditions(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    crop_padding: int,
    hflip: bool,
    label_smoothing: float,
    seed: int,
    runtime: Runtime,
) -> dict[str, ConditionLosses]:
    """The losses of ``images`` (uint8 (n, 32, 32, 3)) under each of :data:`CONDITIONS`.

    One generator seeded with ``seed`` draws the batch order, then each batch's crop and flip;
    train mode runs on a deep copy of ``model``, whose batch-norm running statistics change,
    never on ``model`` itself. ``model`` is left in eval mode.
    """
    generator = torch.Generator(device=runtime.device)
    generator.manual_seed(seed)
    order = torch.randperm(len(labels), device=runtime.device, generator=generator)
    batches = [order[start : start + batch_size] for start in range(0, len(labels), batch_size)]
    augmented = torch.empty_like(images)
    for index in batches:
        augmented[index] = random_crop_flip(images[index], crop_padding, hflip, generator)
    in_train_mode = copy.deepcopy(model).train()
    model.eval()
    results = {}
    for condition in CONDITIONS:
        source = augmented if condition.startswith("augmented") else images
        network = in_train_mode if condition.endswith("train_mode") else model
        parts = []
        for index in batches:
            with runtime.autocast():
                parts.append(network(to_network_input(source[index], runtime.channels_last)).double())
        stacked = torch.cat(parts)  # in the batches' order
        logits = torch.empty_like(stacked)
        logits[order] = stacked
        loss = F.cross_entropy(logits, labels, reduction="none")
        smoothed = F.cross_entropy(logits, labels, reduction="none", label_smoothing=label_smoothing)
        results[condition] = ConditionLosses(
            loss=loss.cpu().numpy(),
            smoothed_loss=smoothed.cpu().numpy(),
            correct=(logits.argmax(dim=1) == labels).cpu().numpy(),
        )
    return results


def squared_weight_norm(model: torch.nn.Module) -> float:
    """``||w||^2`` over every parameter, the vector SGD's ``weight_decay`` shrinks (an L2 term
    ``weight_decay / 2 * ||w||^2`` added to the loss has the same gradient)."""
    return float(sum(parameter.detach().double().pow(2).sum() for parameter in model.parameters()))


def exact_duplicates(test_images: NDArray[np.uint8], train_images: NDArray[np.uint8]) -> int:
    """How many test images equal some training image pixel for pixel (compared by sha256 of their bytes)."""

    def digests(images: NDArray[np.uint8]) -> list[bytes]:
        return [hashlib.sha256(np.ascontiguousarray(image).tobytes()).digest() for image in images]

    train = set(digests(train_images))
    return sum(digest in train for digest in digests(test_images))


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """A ``lossacc-train`` checkpoint, read without running any code the file might hold."""
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError as error:
        raise MeasurementError(f"no checkpoint at {path}") from error
    except Exception as error:  # torch.load raises many types for a damaged file
        raise MeasurementError(f"checkpoint {path} is damaged ({type(error).__name__} while reading it)") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise MeasurementError(f"{path} is not a lossacc CIFAR checkpoint")
    return checkpoint


def run_config(settings: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a checkpoint's settings describe (settings added later take their defaults)."""
    return TrainConfig(
        **{**settings, "milestones": tuple(settings["milestones"]), "logit_epochs": tuple(settings["logit_epochs"])}
    )


def measure_checkpoint(
    checkpoint_path: Path,
    data: CifarData,
    *,
    images: int | None = None,
    seed: int = 0,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """The measurement of a checkpoint, as the JSON-ready dictionary :func:`write_measurement` saves.

    The images are the run's eval-mode training subset (the images its clean training loss is
    measured on), or ``images`` of them drawn with ``seed``. ``options.bf16=None`` uses bf16
    autocast where the run's last session did, so that ``clean_eval`` repeats the record.
    """
    started = time.perf_counter()
    options = options or RunOptions(device="cpu", progress=False)
    device = Runtime.resolve(options).device
    checkpoint = load_checkpoint(checkpoint_path, device)
    if checkpoint["data_sha256"] != data.source.sha256:
        raise MeasurementError(
            f"the checkpoint was trained on data with sha256 {checkpoint['data_sha256'][:12]}..., "
            f"not {data.source.sha256[:12]}...: give the run's dataset"
        )
    settings = checkpoint["settings"]
    config = run_config(settings)
    run_device = checkpoint["sessions"][-1]["device"]
    bf16 = options.bf16 if options.bf16 is not None else bool(run_device["bf16"]) and device.type == run_device["type"]
    runtime = Runtime.resolve(RunOptions(device=options.device, channels_last=options.channels_last, bf16=bf16))
    subset = Splits.select(data, config).train_eval
    if images is not None:
        if not 1 <= images <= len(subset):
            raise MeasurementError(f"images must lie in [1, {len(subset)}] (the run's eval-mode training subset), got {images}")
        subset = np.sort(np.random.default_rng(seed).choice(subset, size=images, replace=False))
    model = ResNet18(len(data.classes), config.width).to(runtime.device)
    model.load_state_dict(checkpoint["model"])
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    labels = torch.from_numpy(data.train_labels[subset]).to(runtime.device)
    results = measure_conditions(
        model,
        torch.from_numpy(data.train_images[subset]).to(runtime.device),
        labels,
        batch_size=config.batch_size,
        crop_padding=config.crop_padding,
        hflip=config.hflip,
        label_smoothing=config.label_smoothing,
        seed=seed,
        runtime=runtime,
    )
    history = checkpoint["history"]
    epoch = len(history["epoch"])
    clean = results["clean_eval"].loss
    return {
        "format": MEASUREMENT_FORMAT,
        "version": MEASUREMENT_VERSION,
        "checkpoint": {"epoch": epoch, "sha256": sha256_of_file(checkpoint_path), "settings": settings},
        "recorded": {name: float(history[name][-1]) for name in ("train_loss", "train_eval_loss", "val_loss")},
        "images": {
            "count": len(subset),
            "of": "the run's eval-mode training subset" + ("" if images is None else f", {images} drawn with the seed"),
            "train_source_index_sha256": hashlib.sha256(subset.astype(np.int64).tobytes()).hexdigest(),
        },
        "seed": seed,
        "batch_size": config.batch_size,
        "label_smoothing": config.label_smoothing,
        "conditions": {
            name: {
                "loss": float(result.loss.mean()),
                "smoothed_loss": float(result.smoothed_loss.mean()),
                "accuracy": float(result.correct.mean()),
                "difference_from_clean_eval_se": float(np.std(result.loss - clean, ddof=1) / np.sqrt(len(clean))),
            }
            for name, result in results.items()
        },
        "squared_weight_norm": squared_weight_norm(model),
        "weight_decay": config.weight_decay,
        "test_images_equal_to_a_training_image": exact_duplicates(data.test_images, data.train_images),
        "metadata": {
            "created": now(),
            "dataset": {"source": data.source.name, "sha256": data.source.sha256},
            "device": runtime.describe(),
            "wall_seconds": time.perf_counter() - started,
            **software_versions(),
            **code_version(),
        },
    }


def write_measurement(path: Path, measurement: dict[str, Any], *, overwrite: bool = False) -> None:
    """Save ``measurement`` as JSON at ``path``, atomically; an existing file is kept unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise PathError(f"{path} exists; pass --overwrite to replace it")
    text = json.dumps(measurement, indent=1) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROGRAM,
        description="Measure one checkpoint's training loss clean and augmented, in eval and train mode, "
        "and write the numbers with their provenance to a JSON file.",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="a lossacc-train checkpoint.pt")
    parser.add_argument("--data", required=True, metavar="PATH", help="the run's CIFAR-10 archive or folder")
    parser.add_argument(
        "--data-cache", type=Path, default=Path("data"), metavar="DIR", help="decoded-data cache (default: data)"
    )
    parser.add_argument("--allow-partial-data", action="store_true", help="accept a dataset smaller than CIFAR-10")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the JSON file to write")
    parser.add_argument("--images", type=int, help="measure this many of the run's eval-mode training images [all]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the augmentation, batches and subsample [0]")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast (default: as the run)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.seed < 0:
            raise MeasurementError(f"seed must be non-negative, got {arguments.seed}")
        if arguments.out.exists() and not arguments.overwrite:
            raise PathError(f"{arguments.out} exists; pass --overwrite to replace it")
        options = RunOptions(device=arguments.device, bf16=arguments.bf16, progress=False)
        Runtime.resolve(options)
        data = load_cifar10(
            arguments.data,
            arguments.data_cache,
            require_official_counts=not arguments.allow_partial_data,
            progress=False,
        )
        measurement = measure_checkpoint(
            arguments.checkpoint, data, images=arguments.images, seed=arguments.seed, options=options
        )
        write_measurement(arguments.out, measurement, overwrite=arguments.overwrite)
    except (MeasurementError, ConfigError, DataError, PathError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    losses = ", ".join(f"{name} {values['loss']:.4f}" for name, values in measurement["conditions"].items())
    print(f"epoch {measurement['checkpoint']['epoch']}: {losses}; written to {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
