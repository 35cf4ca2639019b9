"""Batched augmentation and normalisation on whatever device holds the images.

The standard CIFAR augmentation, random crop with zero padding 4 plus a horizontal flip with
probability 1/2, done for a whole batch with one gather instead of image by image on the CPU:
the crop offsets ``(dy, dx)`` are uniform on ``{0, ..., 2p}`` and output pixel ``(i, j)`` of an
image is padded pixel ``(dy + i, dx + j)``, or ``(dy + i, dx + W - 1 - j)`` when flipped.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.nn import functional as F

# Per-channel mean and standard deviation of the CIFAR-10 training images (pixel values in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def random_crop_flip(images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Randomly crop (after zero padding) and maybe flip each image of a ``(B, H, W, C)`` batch.

    Draws ``2B`` crop offsets and ``B`` flip bits from ``generator``, which must live on the
    images' device; the result has the input's shape and dtype.
    """
    batch, height, width, _ = images.shape
    device = images.device
    padded = F.pad(images, (0, 0, padding, padding, padding, padding)) if padding else images
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), device=device, generator=generator)
    rows = offsets[0, :, None] + torch.arange(height, device=device)
    columns = torch.arange(width, device=device).expand(batch, width)
    if flip:
        flipped = torch.rand(batch, device=device, generator=generator) < 0.5
        columns = torch.where(flipped[:, None], columns.flip(1), columns)
    columns = offsets[1, :, None] + columns
    image_index = torch.arange(batch, device=device)[:, None, None]
    return padded[image_index, rows[:, :, None], columns[:, None, :]]


def to_network_input(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``uint8 (B, H, W, C)`` -> normalised ``float32 (B, C, H, W)``: ``x = (pixel / 255 - mean) / std``.

    Permuting an HWC batch gives NCHW with channels-last strides for free; with
    ``channels_last=False`` the result is made contiguous in the usual NCHW layout.
    """
    mean, std = _channel_statistics(images.device)
    x = images.permute(0, 3, 1, 2).float().div_(255).sub_(mean).div_(std)
    return x if channels_last else x.contiguous()


@lru_cache(maxsize=4)
def _channel_statistics(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as ``(1, 3, 1, 1)`` tensors, made once per device (no copy per batch)."""
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)
    return mean, std
