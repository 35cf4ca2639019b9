"""The match between the label-error files (official test order) and the book's records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from lossacc.cifar.data import CIFAR10_CLASSES, load_cifar10
from lossacc.cifar.record import CifarRecord, load_record
from lossacc.label_errors import (
    WRONG_GROUPS,
    MappingCheck,
    count_among_largest,
    load_cl_predictions,
    load_error_images,
    load_flagged,
    load_official_labels,
    mapping_check,
    mean_loss_without,
    official_index,
    record_positions,
    wrong_at_two_epochs,
)
from lossacc.run_analysis import book_record

RECORDS = sorted(path.parent for path in (ROOT / "records").glob("*/summary.json"))


def test_the_files_are_the_papers() -> None:
    flagged, labels = load_flagged(), load_official_labels()
    assert len(flagged.official_index) == 275 and int(flagged.confirmed.sum()) == 54
    assert np.bincount(labels).tolist() == [1000] * 10
    assert np.array_equal(labels[flagged.official_index], flagged.given)
    assert np.all(flagged.votes.sum(axis=1) == 5)
    official, images = load_error_images()
    assert np.array_equal(official, flagged.official_index[flagged.confirmed]) and images.shape == (54, 32, 32, 3)


def test_official_index_undoes_the_image_folder_order(tmp_path: Path) -> None:
    """Write a tiny image folder the way the JPEG copy is numbered (k-th file of class c = the
    k-th image of class c in official order), with each image's official position in its
    pixels, load it with the book's loader and map the loaded positions back."""
    from PIL import Image

    rng = np.random.default_rng(1)
    labels = rng.permutation(np.repeat(np.arange(10), 3))
    for split in ("train", "test"):
        for c, name in enumerate(CIFAR10_CLASSES):
            (tmp_path / "tree" / split / name).mkdir(parents=True)
            for k, position in enumerate(np.flatnonzero(labels == c)):
                pixels = np.full((32, 32, 3), position, dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "tree" / split / name / f"{k:04d}.png")
    data = load_cifar10(tmp_path / "tree", tmp_path / "cache", require_official_counts=False, progress=False)
    loaded = np.arange(len(labels))
    assert np.array_equal(data.test_images[:, 0, 0, 0], official_index(loaded, labels))
    assert not np.array_equal(data.test_images[:, 0, 0, 0], official_index(loaded, labels, shift=1))
    assert np.array_equal(labels[official_index(loaded, labels)], data.test_labels)


@pytest.mark.parametrize("folder", RECORDS, ids=lambda path: path.name)
def test_the_match_holds_on_every_record(folder: Path) -> None:
    """The labels agree everywhere, and the model predicts the raters' label for the confirmed
    errors far more often than for other images of their class, and than under a match
    shifted by one file; it shares confident learning's mistakes far more often too."""
    record = load_record(folder)
    check = mapping_check(
        record.val_labels,
        record.val_source_index,
        record.val_pred[-1],
        load_official_labels(),
        load_flagged(),
        load_cl_predictions(),
    )
    assert check.n == check.labels_agree == 10_000 and check.confirmed == 54
    assert check.guessed_rate > 2 * check.same_class_rate and check.chance_of_as_many < 1e-3
    assert check.guessed_rate > check.shifted_rate
    assert check.shared_mistakes > 2 * check.shared_mistakes_shifted


def test_chance_of_as_many_is_the_binomial_tail() -> None:
    import torch

    check = MappingCheck(10_000, 10_000, 54, 16, 0.115, 0.1, 700, 200, 70)
    tail = torch.distributions.Binomial(54, torch.tensor(0.115, dtype=torch.float64)).log_prob(torch.arange(16, 55, dtype=torch.float64))
    assert check.chance_of_as_many == pytest.approx(tail.exp().sum().item(), rel=1e-9)


def test_positions_are_columns_of_the_record() -> None:
    record: CifarRecord = load_record(book_record(ROOT / "records"))
    flagged, labels = load_flagged(), load_official_labels()
    positions = record_positions(record.val_source_index, labels, flagged.official_index)
    assert len(set(positions.tolist())) == 275
    assert np.array_equal(record.val_labels[positions], flagged.given)


def test_the_analyses_of_a_chosen_set_by_hand() -> None:
    loss = np.array([[1.0, 2.0, 3.0, 6.0], [2.0, 2.0, 2.0, 10.0]])
    chosen = np.array([False, False, False, True])
    assert np.allclose(mean_loss_without(loss, chosen), [2.0, 2.0])
    change = loss[1] - loss[0]  # 1, 0, -1, 4
    assert count_among_largest(change, chosen, 0.25) == 1 and count_among_largest(change, ~chosen, 0.5) == 1
    first = np.array([True, False, False, True])
    second = np.array([False, False, True, True])
    split = wrong_at_two_epochs(first, second, np.array([True, True, False, False]))
    assert len(WRONG_GROUPS) == 3 and split.count.tolist() == [1, 1, 1] and split.members.tolist() == [1, 0, 1]
