"""Reading CIFAR-10 in its three layouts, verifying it, caching it, and downloading it (no network)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lossacc.cifar import data as cifar_data
from lossacc.cifar.data import CifarData, DataError, download_official, load_cifar10, sha256_of_file
from lossacc.cifar.synthetic import synthetic_cifar, write_image_folder, write_python_release, write_tar_gz


@pytest.fixture(scope="module")
def tiny() -> CifarData:
    return synthetic_cifar(train_per_class=3, test_per_class=2, seed=1)


def load(source: Path, cache: Path) -> CifarData:
    return load_cifar10(source, cache, require_official_counts=False, progress=False)


def assert_same_images(loaded: CifarData, expected: CifarData) -> None:
    assert np.array_equal(loaded.train_images, expected.train_images)
    assert np.array_equal(loaded.train_labels, expected.train_labels)
    assert np.array_equal(loaded.test_images, expected.test_images)
    assert np.array_equal(loaded.test_labels, expected.test_labels)


def in_folder_order(data: CifarData) -> CifarData:
    """An image folder is read in (class, file name) order; the writer numbers files in array order."""
    train, test = np.argsort(data.train_labels, kind="stable"), np.argsort(data.test_labels, kind="stable")
    return CifarData(
        data.train_images[train],
        data.train_labels[train],
        data.test_images[test],
        data.test_labels[test],
        data.classes,
        data.source,
    )


def test_python_release_archive_and_folder_load_exactly(tmp_path: Path, tiny: CifarData) -> None:
    batches = write_python_release(tiny, tmp_path / "release")
    archive = write_tar_gz(batches, tmp_path / "cifar-10-python.tar.gz")
    from_archive = load(archive, tmp_path / "cache")
    assert_same_images(from_archive, tiny)
    assert from_archive.source.layout == "python-release"
    assert from_archive.source.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert from_archive.train_images.dtype == np.uint8 and from_archive.train_images.shape == (30, 32, 32, 3)
    assert_same_images(load(batches, tmp_path / "cache"), tiny)


def test_png_tree_and_its_tar_gz_load_exactly(tmp_path: Path, tiny: CifarData) -> None:
    tree = write_image_folder(tiny, tmp_path / "cifar10")
    archive = write_tar_gz(tree, tmp_path / "cifar10.tar.gz")
    expected = in_folder_order(tiny)
    for source in (tree, archive):
        loaded = load(source, tmp_path / "cache")
        assert loaded.source.layout == "image-folder"
        assert_same_images(loaded, expected)


def test_jpeg_tree_loads_close_to_the_originals(tmp_path: Path, tiny: CifarData) -> None:
    loaded = load(write_image_folder(tiny, tmp_path / "jpeg", suffix=".jpg"), tmp_path / "cache")
    expected = in_folder_order(tiny)
    assert np.array_equal(loaded.train_labels, expected.train_labels)
    difference = np.abs(loaded.train_images.astype(int) - expected.train_images.astype(int))
    assert 0 < difference.mean() < 20  # lossy, but the same pictures


def test_decoded_arrays_are_cached_by_checksum(
    tmp_path: Path, tiny: CifarData, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_tar_gz(write_python_release(tiny, tmp_path / "release"), tmp_path / "release.tar.gz")
    load(archive, tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"cifar10-{sha256_of_file(archive)[:16]}.npz"]

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(cifar_data, "_decode", no_decoding)
    assert_same_images(load(archive, tmp_path / "cache"), tiny)


def test_official_counts_are_required_by_default(tmp_path: Path, tiny: CifarData) -> None:
    archive = write_tar_gz(write_python_release(tiny, tmp_path / "release"), tmp_path / "release.tar.gz")
    with pytest.raises(DataError, match=r"has \[3, 3, 3, 3, 3, 3, 3, 3, 3, 3\] images per class, CIFAR-10 has 5000"):
        load_cifar10(archive, tmp_path / "cache", progress=False)


def test_missing_truncated_and_foreign_files_are_refused(tmp_path: Path, tiny: CifarData) -> None:
    with pytest.raises(DataError, match="no dataset at"):
        load(tmp_path / "nothing.tar.gz", tmp_path / "cache")
    archive = write_tar_gz(write_image_folder(tiny, tmp_path / "tree"), tmp_path / "tree.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable tar archive"):
        load(truncated, tmp_path / "cache")
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not an archive" * 100)
    with pytest.raises(DataError, match="not a readable tar archive"):
        load(garbage, tmp_path / "cache")
    unrelated = tmp_path / "unrelated"
    (unrelated / "docs").mkdir(parents=True)
    (unrelated / "docs" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="found neither the python release"):
        load(unrelated, tmp_path / "cache")


def test_wrong_classes_and_wrong_image_sizes_are_refused(tmp_path: Path, tiny: CifarData) -> None:
    tree = write_image_folder(tiny, tmp_path / "tree")
    (tree / "train" / "truck").rename(tree / "train" / "lorry")
    with pytest.raises(DataError, match=r"train/ has class folders .*'lorry'"):
        load(tree, tmp_path / "cache")
    (tree / "train" / "lorry").rename(tree / "train" / "truck")
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tree / "test" / "cat" / "9999.png")
    with pytest.raises(DataError, match=r"test/cat/9999\.png: image is 28x28"):
        load(tree, tmp_path / "cache")
    (tree / "test" / "cat" / "9999.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot decode image"):
        load(tree, tmp_path / "cache")


class _RunsCommand:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("touch pwned",)


def test_python_release_problems_are_refused(tmp_path: Path, tiny: CifarData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    batches = write_python_release(tiny, tmp_path / "release")
    (batches / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        load(batches, tmp_path / "cache")
    # A pickle that would run code when loaded is refused, not executed.
    (batches / "data_batch_3").write_bytes(pickle.dumps(_RunsCommand(), protocol=2))
    with pytest.raises(DataError, match=r"data_batch_3: .*refusing to load \w+\.system"):
        load(batches, tmp_path / "cache")
    assert not (tmp_path / "pwned").exists()


def test_download_checks_the_sha256(tmp_path: Path, tiny: CifarData, monkeypatch: pytest.MonkeyPatch) -> None:
    served = write_tar_gz(write_python_release(tiny, tmp_path / "release"), tmp_path / "served.tar.gz")
    url, digest = served.as_uri(), sha256_of_file(served)
    target = tmp_path / "downloads" / "cifar-10-python.tar.gz"

    with pytest.raises(DataError, match="checksum mismatch"):
        download_official(target, url, "0" * 64)
    assert not target.exists() and not list(target.parent.iterdir())

    assert download_official(target, url, digest) == target
    assert target.read_bytes() == served.read_bytes()

    def offline(*args: object, **kwargs: object) -> io.BytesIO:
        raise AssertionError("downloaded although a verified copy was there")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert download_official(target, url, digest) == target


def test_load_download_uses_the_official_address_and_checksum(
    tmp_path: Path, tiny: CifarData, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = write_tar_gz(write_python_release(tiny, tmp_path / "release"), tmp_path / "served.tar.gz")
    monkeypatch.setattr(cifar_data, "OFFICIAL_URL", served.as_uri())
    monkeypatch.setattr(cifar_data, "OFFICIAL_SHA256", sha256_of_file(served))
    loaded = load_cifar10("download", tmp_path / "cache", require_official_counts=False, progress=False)
    assert_same_images(loaded, tiny)
    assert (tmp_path / "cache" / "cifar-10-python.tar.gz").is_file()
    monkeypatch.setattr(cifar_data, "OFFICIAL_URL", (tmp_path / "absent.tar.gz").as_uri())
    (tmp_path / "cache" / "cifar-10-python.tar.gz").unlink()
    with pytest.raises(DataError, match="could not download"):
        load_cifar10("download", tmp_path / "cache", progress=False)


def test_tar_members_may_sit_under_a_top_folder_or_not(tmp_path: Path, tiny: CifarData) -> None:
    tree = write_image_folder(tiny, tmp_path / "tree")
    flat = tmp_path / "flat.tar"
    with tarfile.open(flat, "w") as tar:
        for split in ("train", "test"):
            tar.add(tree / split, arcname=split)
    assert_same_images(load(flat, tmp_path / "cache"), in_folder_order(tiny))
