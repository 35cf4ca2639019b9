"""Time the lossacc CIFAR pipeline against the usual PyTorch one, like with like, in one process.

stock  the way the popular CIFAR repositories train: a ``Dataset`` that pads, crops and flips
       one image at a time on the CPU and normalises it, a ``DataLoader`` with persistent
       worker processes and pinned memory (on a GPU), ``.item()`` on the loss and accuracy each
       step; evaluation through a ``DataLoader`` too, logits copied to the host and scored there
       with the NumPy float64 library functions; the checkpoint a ``torch.save``.
ours   :func:`lossacc.cifar.train.train_one_epoch`: uint8 images resident on the device, crop and
       flip for the whole batch there, one read-back an epoch; evaluation on the resident images
       and :func:`lossacc.cifar.scoring.score_epoch` on the device; the optimizer fused on a GPU.

Like with like: both sides use the same memory layout (channels-last unless
``--no-channels-last``) and precision (bf16 autocast where the device supports it, unless
``--no-bf16``), the same ResNet18, batch, SGD settings, images and initial weights, and the
same checkpoint cadence (``--checkpoint-every``, default the device's: every epoch on a CPU,
every 10 on a GPU). Epochs alternate between the two so that both see the same machine load.
Reported: per-epoch training-only time and whole-epoch time (training, evaluating the
validation and training-subset images, scoring, checkpoint), their medians over the timed
epochs after warm-up, and the ratios stock / ours.

    python benchmarks/bench_pipeline.py --device cpu --subset 1000 --eval-subset 500 --width 16 --workers 2
    python benchmarks/bench_pipeline.py --device cuda --data data/cifar10-jpeg.tar.gz
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from lossacc.calibration import expected_calibration_error, fit_temperature, scaled_loss
from lossacc.cifar.augment import CIFAR10_MEAN, CIFAR10_STD
from lossacc.cifar.config import TrainConfig
from lossacc.cifar.data import load_cifar10
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.scoring import score_epoch
from lossacc.cifar.train import epoch_generator, make_optimizer, predict_logits, train_one_epoch
from lossacc.metrics import accuracy, cross_entropy_from_logits, per_example_loss_from_logits, softmax


class PerImageCifar(Dataset[tuple[torch.Tensor, int]]):
    """One image at a time: (when augmenting) zero-pad, random 32x32 crop, random flip; to float CHW, normalise."""

    def __init__(self, images: NDArray[np.uint8], labels: NDArray[np.int64], padding: int, augment: bool) -> None:
        self.images, self.labels, self.padding, self.augment = images, labels, padding, augment
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.augment:
            p = self.padding
            padded = np.pad(image, ((p, p), (p, p), (0, 0)))
            top, left = torch.randint(0, 2 * p + 1, (2,)).tolist()
            image = padded[top : top + 32, left : left + 32]
            if torch.rand(()) < 0.5:
                image = image[:, ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255)
        return (tensor - self.mean) / self.std, int(self.labels[index])


def stock_train_epoch(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, runtime: Runtime
) -> float:
    """The common training loop; returns the mean training loss."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for inputs, targets in loader:
        inputs = inputs.to(runtime.device, non_blocking=True, memory_format=_layout(runtime))
        targets = targets.to(runtime.device, non_blocking=True)
        with runtime.autocast():
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(targets)
        correct += (logits.argmax(1) == targets).sum().item()
        seen += len(targets)
    return loss_sum / seen


@torch.no_grad()
def stock_logits(model: torch.nn.Module, loader: DataLoader, runtime: Runtime) -> NDArray[np.float32]:
    model.eval()
    chunks = []
    for inputs, _ in loader:
        with runtime.autocast():
            chunks.append(model(inputs.to(runtime.device, memory_format=_layout(runtime))).float().cpu())
    return torch.cat(chunks).numpy()


def numpy_scores(
    val_logits: NDArray[np.float32],
    val_labels: NDArray[np.int64],
    fit_mask: NDArray[np.bool_],
    train_eval_logits: NDArray[np.float32],
    train_eval_labels: NDArray[np.int64],
    bins: int,
) -> dict[str, float]:
    """The epoch's scores on the host with the NumPy float64 library (what the trainer used to do)."""
    held = ~fit_mask
    temperature = fit_temperature(val_logits[fit_mask], val_labels[fit_mask])
    per_example = per_example_loss_from_logits(val_logits, val_labels)
    return {
        "train_eval_loss": cross_entropy_from_logits(train_eval_logits, train_eval_labels),
        "train_eval_acc": accuracy(train_eval_logits, train_eval_labels),
        "val_loss": float(per_example.mean()),
        "val_acc": accuracy(val_logits, val_labels),
        "val_ece": expected_calibration_error(softmax(val_logits), val_labels, bins),
        "temperature": temperature,
        "val_heldout_loss": float(per_example[held].mean()),
        "val_heldout_ece": expected_calibration_error(softmax(val_logits[held]), val_labels[held], bins),
        "val_heldout_loss_scaled": scaled_loss(val_logits[held], val_labels[held], temperature),
        "val_heldout_ece_scaled": expected_calibration_error(
            softmax(val_logits[held].astype(np.float64) / temperature), val_labels[held], bins
        ),
    }


def save_checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Model and optimizer state to ``path`` (both sides write the same bytes' worth, flushed to disk)."""
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    with open(path, "wb") as handle:
        handle.write(buffer.getbuffer())
        handle.flush()
        os.fsync(handle.fileno())


def _layout(runtime: Runtime) -> torch.memory_format:
    return torch.channels_last if runtime.channels_last else torch.contiguous_format


@contextmanager
def stopwatch(runtime: Runtime, into: list[float]) -> Iterator[None]:
    """Append the seconds the block took (after the device finished its work) to ``into``."""
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)
    start = time.perf_counter()
    yield
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)
    into.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs of each pipeline (default: 5, at least 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs of each first (default: 1)")
    parser.add_argument("--subset", type=int, default=50_000, help="training images per epoch (default: 50,000)")
    parser.add_argument(
        "--eval-subset", type=int, default=10_000, help="validation and training-subset images scored (default: 10,000 each)"
    )
    parser.add_argument("--width", type=int, default=64, help="ResNet18 width (default: 64, the real one)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="DataLoader workers for stock")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false", help="NCHW on both sides")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast on both sides")
    parser.add_argument("--checkpoint-every", type=int, help="checkpoint cadence on both sides (default: the device's)")
    parser.add_argument(
        "--data", help="CIFAR-10 archive or folder; default: random images (timing does not depend on content)"
    )
    parser.add_argument("--data-cache", type=Path, default=Path("data"))
    parser.add_argument("--scratch", type=Path, default=Path("runs/bench"), help="where checkpoints are written")
    arguments = parser.parse_args()
    if arguments.epochs < 5:
        parser.error("--epochs must be at least 5 (the medians need them)")

    runtime = Runtime.resolve(
        RunOptions(
            device=arguments.device,
            channels_last=arguments.channels_last,
            bf16=arguments.bf16,
            checkpoint_every=arguments.checkpoint_every,
        )
    )
    device = runtime.device
    n_train, n_eval = arguments.subset, arguments.eval_subset
    if arguments.data:
        data = load_cifar10(arguments.data, arguments.data_cache, progress=False)
        images, labels = data.train_images[:n_train], data.train_labels[:n_train]
        val_images, val_labels = data.test_images[:n_eval], data.test_labels[:n_eval]
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(n_train, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_train)
        val_images, val_labels = images[:n_eval].copy(), rng.integers(0, 10, size=n_eval)
    train_eval_images, train_eval_labels = images[:n_eval], labels[:n_eval]
    fit_mask = np.random.default_rng(1).permutation(n_eval) < n_eval // 2
    config = TrainConfig(
        epochs=arguments.epochs + arguments.warmup + 1, milestones=(), width=arguments.width, batch_size=arguments.batch_size
    )
    arguments.scratch.mkdir(parents=True, exist_ok=True)

    def fresh_model() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = ResNet18(width=config.width).to(device)
        if runtime.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model, make_optimizer(model, config, runtime)

    ours_model, ours_optimizer = fresh_model()
    stock_model, stock_optimizer = fresh_model()
    on_device = {
        name: torch.from_numpy(array).to(device)
        for name, array in (
            ("images", images),
            ("labels", labels),
            ("val_images", val_images),
            ("val_labels", val_labels),
            ("train_eval_images", train_eval_images),
            ("train_eval_labels", train_eval_labels),
            ("fit_mask", fit_mask),
        )
    }

    def loader(dataset: Dataset[tuple[torch.Tensor, int]], batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=arguments.workers,
            persistent_workers=arguments.workers > 0,
            pin_memory=device.type == "cuda",
        )

    train_loader = loader(PerImageCifar(images, labels, config.crop_padding, augment=True), config.batch_size, True)
    val_loader = loader(PerImageCifar(val_images, val_labels, 0, augment=False), runtime.eval_batch_size, False)
    train_eval_loader = loader(
        PerImageCifar(train_eval_images, train_eval_labels, 0, augment=False), runtime.eval_batch_size, False
    )

    def ours_epoch(epoch: int, train_times: list[float]) -> None:
        with stopwatch(runtime, train_times):
            generator = epoch_generator(0, epoch, device)
            train_one_epoch(
                ours_model, ours_optimizer, on_device["images"], on_device["labels"], config, runtime, generator, epoch=epoch
            )
        score_epoch(
            predict_logits(ours_model, on_device["val_images"], runtime),
            on_device["val_labels"],
            on_device["fit_mask"],
            predict_logits(ours_model, on_device["train_eval_images"], runtime),
            on_device["train_eval_labels"],
            config.ece_bins,
        )
        if epoch % runtime.checkpoint_every == 0:
            save_checkpoint(ours_model, ours_optimizer, arguments.scratch / "ours.pt")

    def stock_epoch(epoch: int, train_times: list[float]) -> None:
        with stopwatch(runtime, train_times):
            stock_train_epoch(stock_model, stock_optimizer, train_loader, runtime)
        numpy_scores(
            stock_logits(stock_model, val_loader, runtime),
            val_labels,
            fit_mask,
            stock_logits(stock_model, train_eval_loader, runtime),
            train_eval_labels,
            config.ece_bins,
        )
        if epoch % runtime.checkpoint_every == 0:
            save_checkpoint(stock_model, stock_optimizer, arguments.scratch / "stock.pt")

    print(
        f"device {runtime.describe()['name']}, torch {torch.__version__}, ResNet18 width {config.width}, "
        f"{n_train} training images, batch {config.batch_size}, {n_eval} + {n_eval} images scored; "
        f"both sides: channels_last={runtime.channels_last} bf16={runtime.bf16}, checkpoint every "
        f"{runtime.checkpoint_every} epochs; stock: {arguments.workers} persistent DataLoader workers, "
        f"pinned memory {device.type == 'cuda'}; ours: fused SGD {runtime.fused_sgd}"
    )
    pipelines: dict[str, Callable[[int, list[float]], None]] = {"ours": ours_epoch, "stock": stock_epoch}
    times: dict[str, dict[str, list[float]]] = {name: {"train": [], "epoch": []} for name in pipelines}
    for epoch in range(1, arguments.warmup + arguments.epochs + 1):
        timed = epoch > arguments.warmup
        line = [f"epoch {epoch} ({'timed' if timed else 'warm-up'}):"]
        for name, run_epoch in pipelines.items():
            train_seconds: list[float] = []
            epoch_seconds: list[float] = []
            with stopwatch(runtime, epoch_seconds):
                run_epoch(epoch, train_seconds)
            line.append(f"{name} train {train_seconds[0]:6.2f} s, whole {epoch_seconds[0]:6.2f} s;")
            if timed:
                times[name]["train"].append(train_seconds[0])
                times[name]["epoch"].append(epoch_seconds[0])
        print(" ".join(line), flush=True)
    for part, what in (("train", "training only"), ("epoch", "whole epoch")):
        ours, stock = statistics.median(times["ours"][part]), statistics.median(times["stock"][part])
        print(
            f"median {what} over {arguments.epochs} epochs: ours {ours:.2f} s, stock {stock:.2f} s; "
            f"stock / ours = {stock / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
