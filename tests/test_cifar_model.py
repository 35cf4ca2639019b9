"""The CIFAR ResNet18 and the batched augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lossacc.cifar.augment import CIFAR10_MEAN, CIFAR10_STD, random_crop_flip, to_network_input
from lossacc.cifar.resnet import ResNet18, count_parameters


def test_full_width_resnet18_has_the_published_parameter_count() -> None:
    assert count_parameters(ResNet18(num_classes=10, width=64)) == 11_173_962


def test_cifar_stem_keeps_32x32_and_stages_halve_it() -> None:
    model = ResNet18(width=8).eval()
    stem_conv = model.stem[0]
    assert isinstance(stem_conv, nn.Conv2d) and stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    shapes: list[tuple[int, ...]] = []
    for stage in model.stages:
        stage.register_forward_hook(lambda module, inputs, output: shapes.append(tuple(output.shape)))
    logits = model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert shapes == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4)]


def test_channels_last_computes_the_same_function() -> None:
    torch.manual_seed(0)
    model = ResNet18(width=4).eval()
    x = torch.randn(3, 3, 32, 32)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    assert torch.allclose(model(x.contiguous(memory_format=torch.channels_last)), expected, atol=1e-5)


def test_crop_and_flip_match_a_per_image_reference() -> None:
    images = torch.randint(0, 256, (64, 32, 32, 3), dtype=torch.uint8)
    out = random_crop_flip(images, 4, True, torch.Generator().manual_seed(5))
    # Redraw the same random numbers in the same order and crop image by image in NumPy.
    generator = torch.Generator().manual_seed(5)
    offsets = torch.randint(0, 9, (2, 64), generator=generator).numpy()
    flips = (torch.rand(64, generator=generator) < 0.5).numpy()
    padded = np.pad(images.numpy(), ((0, 0), (4, 4), (4, 4), (0, 0)))
    for i in range(64):
        crop = padded[i, offsets[0, i] : offsets[0, i] + 32, offsets[1, i] : offsets[1, i] + 32]
        assert np.array_equal(out[i].numpy(), crop[:, ::-1] if flips[i] else crop)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert 0.3 < flips.mean() < 0.7 and set(offsets.ravel()) == set(range(9))


def test_no_padding_and_no_flip_is_the_identity() -> None:
    images = torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8)
    assert torch.equal(random_crop_flip(images, 0, False, torch.Generator().manual_seed(0)), images)


@pytest.mark.parametrize("channels_last", [True, False])
def test_network_input_is_normalised_nchw(channels_last: bool) -> None:
    images = torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8)
    x = to_network_input(images, channels_last)
    expected = (images.numpy().transpose(0, 3, 1, 2) / 255 - np.array(CIFAR10_MEAN)[:, None, None]) / np.array(
        CIFAR10_STD
    )[:, None, None]
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert np.allclose(x.numpy(), expected, atol=1e-5)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    assert x.is_contiguous(memory_format=memory_format)
