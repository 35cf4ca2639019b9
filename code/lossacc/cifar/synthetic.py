"""Small made-up CIFAR-10 look-alikes, written in the layouts :mod:`lossacc.cifar.data` reads.

For tests and for trying the pipeline without the real data. Class ``k`` images are a colour
ramp that depends on ``k`` plus noise, so a small network can learn them in a few steps.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from lossacc.cifar.data import CIFAR10_CLASSES, CifarData, DatasetSource


def synthetic_cifar(train_per_class: int, test_per_class: int, seed: int = 0) -> CifarData:
    """Arrays shaped like CIFAR-10's, ``train_per_class`` and ``test_per_class`` images a class."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 32)

    def images_of(class_index: int, count: int) -> NDArray[np.uint8]:
        colour = np.array([(class_index * 37 % 256), (class_index * 91 % 256), (class_index * 53 % 256)]) / 255
        direction = ramp[:, None] if class_index % 2 else ramp[None, :]
        clean = 255 * (0.3 * colour + 0.7 * direction[..., None] * colour[::-1])
        noise = rng.normal(0, 20, size=(count, 32, 32, 3))
        return np.clip(clean + noise, 0, 255).astype(np.uint8)

    def split(per_class: int) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        labels = np.repeat(np.arange(len(CIFAR10_CLASSES)), per_class)
        order = rng.permutation(len(labels))
        images = np.concatenate([images_of(k, per_class) for k in range(len(CIFAR10_CLASSES))])
        return images[order], labels[order]

    train_images, train_labels = split(train_per_class)
    test_images, test_labels = split(test_per_class)
    return CifarData(
        train_images,
        train_labels,
        test_images,
        test_labels,
        CIFAR10_CLASSES,
        DatasetSource("synthetic", "synthetic", "", None),
    )


def write_python_release(data: CifarData, folder: Path) -> Path:
    """Write ``data`` as the official python release: ``folder/cifar-10-batches-py/{data_batch_1..5,
    test_batch, batches.meta}``, pickled dicts with ``b'data'`` (n, 3072) uint8 rows in CHW order."""
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)

    def dump(name: str, content: dict[bytes, object]) -> None:
        (batches / name).write_bytes(pickle.dumps(content, protocol=2))

    def rows(images: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return images.transpose(0, 3, 1, 2).reshape(len(images), -1)

    dump("batches.meta", {b"label_names": [name.encode() for name in data.classes], b"num_vis": 3072})
    for number, part in enumerate(np.array_split(np.arange(len(data.train_labels)), 5), start=1):
        dump(
            f"data_batch_{number}",
            {b"data": rows(data.train_images[part]), b"labels": data.train_labels[part].tolist()},
        )
    dump("test_batch", {b"data": rows(data.test_images), b"labels": data.test_labels.tolist()})
    return batches


def write_image_folder(data: CifarData, folder: Path, suffix: str = ".png") -> Path:
    """Write ``data`` as ``folder/{train,test}/<class>/NNNN<suffix>`` (PNG is lossless, JPEG is not)."""
    from PIL import Image

    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            target = folder / split / data.classes[label] / f"{index:04d}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target)
    return folder


def write_tar_gz(folder: Path, archive: Path) -> Path:
    """Pack ``folder`` into ``archive`` (``.tar.gz``) under its own name."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive
