"""Time training epochs of the lossacc CIFAR pipeline against the usual PyTorch one, in one process.

stock  the way the popular CIFAR repositories train: a ``Dataset`` that pads, crops and flips
       one image at a time on the CPU and normalises it, a ``DataLoader`` with worker processes
       (pinned memory on a GPU), float32 NCHW, and ``.item()`` on the loss and accuracy each step.
ours   :func:`lossacc.cifar.train.train_one_epoch`: uint8 images resident on the device, crop and
       flip for the whole batch there, channels-last, bf16 autocast on GPUs, one read-back an epoch.

Both train the same ResNet18 (width, batch size, SGD settings, images) from the same initial
weights; epochs alternate between the two so that both see the same machine load. Prints each
epoch's time, the medians and their ratio.

    python benchmarks/bench_pipeline.py --device cpu --epochs 2 --subset 2000 --width 16
    python benchmarks/bench_pipeline.py --device cuda --epochs 5 --data data/cifar10-jpeg.tar.gz
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from lossacc.cifar.augment import CIFAR10_MEAN, CIFAR10_STD
from lossacc.cifar.data import load_cifar10
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.train import RunOptions, Runtime, TrainConfig, epoch_generator, train_one_epoch


class PerImageCifar(Dataset[tuple[torch.Tensor, int]]):
    """One image at a time: zero-pad, random 32x32 crop, random flip, to float CHW, normalise."""

    def __init__(self, images: NDArray[np.uint8], labels: NDArray[np.int64], padding: int) -> None:
        self.images, self.labels, self.padding = images, labels, padding
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        p = self.padding
        padded = np.pad(self.images[index], ((p, p), (p, p), (0, 0)))
        top, left = torch.randint(0, 2 * p + 1, (2,)).tolist()
        crop = padded[top : top + 32, left : left + 32]
        if torch.rand(()) < 0.5:
            crop = crop[:, ::-1]
        image = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().div_(255)
        return (image - self.mean) / self.std, int(self.labels[index])


def stock_epoch(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, device: torch.device
) -> float:
    """The common training loop; returns the mean training loss."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(targets)
        correct += (logits.argmax(1) == targets).sum().item()
        seen += len(targets)
    return loss_sum / seen


def timed(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs of each pipeline (default: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs of each first (default: 1)")
    parser.add_argument("--subset", type=int, default=50_000, help="training images per epoch (default: 50,000)")
    parser.add_argument("--width", type=int, default=64, help="ResNet18 width (default: 64, the real one)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="DataLoader workers for stock")
    parser.add_argument(
        "--data", help="CIFAR-10 archive or folder; default: random images (timing does not depend on content)"
    )
    parser.add_argument("--data-cache", type=Path, default=Path("data"))
    arguments = parser.parse_args()

    runtime = Runtime.resolve(RunOptions(device=arguments.device))
    device = runtime.device
    if arguments.data:
        data = load_cifar10(arguments.data, arguments.data_cache, progress=False)
        images, labels = data.train_images[: arguments.subset], data.train_labels[: arguments.subset]
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(arguments.subset, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=arguments.subset)
    config = TrainConfig(
        epochs=max(2, arguments.epochs + arguments.warmup),
        milestones=(),
        width=arguments.width,
        batch_size=arguments.batch_size,
    )

    def fresh_model(channels_last: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = ResNet18(width=config.width).to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay
        )
        return model, optimizer

    ours_model, ours_optimizer = fresh_model(runtime.channels_last)
    stock_model, stock_optimizer = fresh_model(channels_last=False)
    device_images, device_labels = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    loader = DataLoader(
        PerImageCifar(images, labels, config.crop_padding),
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=arguments.workers,
        pin_memory=device.type == "cuda",
    )
    print(
        f"device {runtime.describe()['name']}, torch {torch.__version__}, ResNet18 width {config.width}, "
        f"{len(labels)} images, batch {config.batch_size}; "
        f"ours: channels_last={runtime.channels_last} bf16={runtime.bf16}; "
        f"stock: {arguments.workers} DataLoader workers, float32"
    )
    times: dict[str, list[float]] = {"ours": [], "stock": []}
    for epoch in range(1, arguments.warmup + arguments.epochs + 1):
        generator = epoch_generator(0, epoch, device)

        def ours_epoch(generator: torch.Generator = generator, epoch: int = epoch) -> object:
            return train_one_epoch(
                ours_model, ours_optimizer, device_images, device_labels, config, runtime, generator, epoch=epoch
            )

        ours = timed(ours_epoch, device)
        stock = timed(lambda: stock_epoch(stock_model, stock_optimizer, loader, device), device)
        label = "warm-up" if epoch <= arguments.warmup else "timed"
        print(f"epoch {epoch} ({label}): ours {ours:7.2f} s   stock {stock:7.2f} s")
        if epoch > arguments.warmup:
            times["ours"].append(ours)
            times["stock"].append(stock)
    ours_median, stock_median = statistics.median(times["ours"]), statistics.median(times["stock"])
    print(
        f"median epoch: ours {ours_median:.2f} s ({len(labels) / ours_median:.0f} images/s), "
        f"stock {stock_median:.2f} s ({len(labels) / stock_median:.0f} images/s)"
    )
    print(f"stock / ours = {stock_median / ours_median:.2f}x")


if __name__ == "__main__":
    main()
