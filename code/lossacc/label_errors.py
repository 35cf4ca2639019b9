"""The CIFAR-10 test set's known label errors (Northcutt, Athalye and Mueller, 2021), matched to a record.

The files (``assets/label-errors/``, from github.com/cleanlab/label-errors) index images by
their position in the official test set. A record's ``val_source_index`` holds positions in the
test split as the data loader ordered it; for the JPEG copy (an image folder) that is sorted by
class, then file name, and the k-th file of class ``c`` is the k-th image of class ``c`` in the
official order. So the official position of loaded position ``p`` is ``order[p]``, ``order``
the official positions sorted by label, stably (:func:`official_index`).

Of the images confident learning flagged, five raters each said whether it shows the given
label, the label the method guessed, both or neither; a label error is *confirmed* when fewer
than :data:`CONFIRMED_BELOW` of them chose the given label (the paper's 54 for CIFAR-10).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossacc.cifar.data import CifarData
from lossacc.cifar.record import RecordError
from lossacc.metrics import BoolArray, FloatArray, IntArray

LABEL_ERRORS_DIR = Path(__file__).resolve().parents[2] / "assets" / "label-errors"
FLAGGED_FILE = "cifar10_mturk.json"
OFFICIAL_LABELS_FILE = "cifar10_test_set_original_labels.npy"
CL_PREDICTED_FILE = "cifar10_test_set_pyx_argmax_predicted_labels.npy"
IMAGES_FILE = "cifar10_jpeg_confirmed_errors.npz"
VOTES = ("given", "guessed", "neither", "both")
CONFIRMED_BELOW = 3


@dataclass(frozen=True)
class FlaggedImages:
    """The ``m`` flagged test images: ``official_index`` (m,), ``given`` and ``guessed`` labels
    (m,), and ``votes`` (m, 4), how many raters chose each of :data:`VOTES`."""

    official_index: IntArray
    given: IntArray
    guessed: IntArray
    votes: IntArray

    @property
    def confirmed(self) -> BoolArray:
        """Fewer than :data:`CONFIRMED_BELOW` raters confirmed the given label."""
        return self.votes[:, 0] < CONFIRMED_BELOW


def load_flagged(folder: str | Path = LABEL_ERRORS_DIR) -> FlaggedImages:
    """Read ``cifar10_mturk.json`` (one entry per flagged image)."""
    entries = json.loads((Path(folder) / FLAGGED_FILE).read_text())
    return FlaggedImages(
        official_index=np.array([e["id"] for e in entries], dtype=np.int64),
        given=np.array([e["given_original_label"] for e in entries], dtype=np.int64),
        guessed=np.array([e["our_guessed_label"] for e in entries], dtype=np.int64),
        votes=np.array([[e["mturk"][v] for v in VOTES] for e in entries], dtype=np.int64),
    )


def load_official_labels(folder: str | Path = LABEL_ERRORS_DIR) -> IntArray:
    """The official test labels, in the official order (10,000,)."""
    return np.load(Path(folder) / OFFICIAL_LABELS_FILE).astype(np.int64)


def load_cl_predictions(folder: str | Path = LABEL_ERRORS_DIR) -> IntArray:
    """Confident learning's cross-validated predicted class of each test image, official order."""
    return np.load(Path(folder) / CL_PREDICTED_FILE).astype(np.int64)


def official_index(source_index: ArrayLike, official_labels: ArrayLike, shift: int = 0) -> IntArray:
    """Official test position of each loaded (class, file name ordered) position.

    ``shift`` takes, within each class, the file ``shift`` places further on (cyclically): a
    deliberately wrong mapping, to show what a check sees when the match is off.
    """
    labels = np.asarray(official_labels, dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    p = np.asarray(source_index, dtype=np.int64)
    c = labels[order[p]]
    return order[starts[c] + (p - starts[c] + shift) % counts[c]].astype(np.int64)


def record_positions(val_source_index: ArrayLike, official_labels: ArrayLike, official: ArrayLike, shift: int = 0) -> IntArray:
    """Column of the record's per-example arrays holding each official test position in ``official``."""
    mapped = official_index(val_source_index, official_labels, shift)
    column = np.full(len(np.asarray(official_labels)), -1, dtype=np.int64)
    column[mapped] = np.arange(len(mapped))
    positions = column[np.asarray(official, dtype=np.int64)]
    if np.any(positions < 0):
        raise RecordError(f"{int(np.sum(positions < 0))} of the images asked for are not in the record's validation set")
    return positions


@dataclass(frozen=True)
class MappingCheck:
    """Whether the match between a record and the files holds.

    ``labels_agree`` of ``n`` record labels equal the official label at the mapped position.
    For the confirmed errors, ``guessed_rate`` is the share the model predicts as the raters'
    guessed label; ``same_class_rate`` the share of the other images of the same given class
    (flagged ones left out) it predicts as that label, averaged over the errors; ``shifted_rate``
    the ``guessed_rate`` with each class's files taken one place further on (a wrong match).
    Over all images: ``cl_wrong`` images where confident learning's cross-validated model
    predicts another class than the label, and ``shared_mistakes`` of them where the record's
    model makes that same mistake (``shared_mistakes_shifted`` with the shifted match).
    """

    n: int
    labels_agree: int
    confirmed: int
    guessed_hits: int
    same_class_rate: float
    shifted_rate: float
    cl_wrong: int
    shared_mistakes: int
    shared_mistakes_shifted: int

    @property
    def guessed_rate(self) -> float:
        return self.guessed_hits / self.confirmed

    @property
    def chance_of_as_many(self) -> float:
        """``P(X >= guessed_hits)`` for ``X ~ Binomial(confirmed, same_class_rate)``: how likely
        as many hits would be if the errors' images were other images of their class."""
        n, p = self.confirmed, self.same_class_rate
        return float(sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(self.guessed_hits, n + 1)))


def mapping_check(
    val_labels: ArrayLike,
    val_source_index: ArrayLike,
    predicted: ArrayLike,
    official_labels: ArrayLike,
    flagged: FlaggedImages,
    cl_predicted: ArrayLike,
) -> MappingCheck:
    """:class:`MappingCheck` of a record's labels and its predictions at one epoch."""
    y = np.asarray(val_labels, dtype=np.int64)
    pred = np.asarray(predicted, dtype=np.int64)
    labels = np.asarray(official_labels, dtype=np.int64)
    confirmed = flagged.confirmed
    guessed = flagged.guessed[confirmed]

    def guessed_rate(shift: int) -> tuple[int, IntArray]:
        positions = record_positions(val_source_index, labels, flagged.official_index[confirmed], shift)
        return int(np.sum(pred[positions] == guessed)), positions

    hits, positions = guessed_rate(0)
    others = np.ones(len(y), dtype=bool)
    others[record_positions(val_source_index, labels, flagged.official_index)] = False
    cl = np.asarray(cl_predicted, dtype=np.int64)

    def shared_mistakes(shift: int) -> int:
        theirs = cl[official_index(val_source_index, labels, shift)]
        return int(np.sum((theirs != y) & (pred == theirs)))

    same_class = [np.mean(pred[others & (y == y[p])] == g) for p, g in zip(positions.tolist(), guessed.tolist())]
    return MappingCheck(
        n=len(y),
        labels_agree=int(np.sum(labels[official_index(val_source_index, labels)] == y)),
        confirmed=int(confirmed.sum()),
        guessed_hits=hits,
        same_class_rate=float(np.mean(same_class)),
        shifted_rate=guessed_rate(1)[0] / int(confirmed.sum()),
        cl_wrong=int(np.sum(cl[official_index(val_source_index, labels)] != y)),
        shared_mistakes=shared_mistakes(0),
        shared_mistakes_shifted=shared_mistakes(1),
    )


def test_images_at(data: CifarData, official: ArrayLike, official_labels: ArrayLike) -> NDArray[np.uint8]:
    """Pixels of the test images at official positions ``official`` in a loaded image-folder copy."""
    loaded = np.arange(len(data.test_labels))
    column = np.empty(len(loaded), dtype=np.int64)
    column[official_index(loaded, official_labels)] = loaded
    return data.test_images[column[np.asarray(official, dtype=np.int64)]]


def load_error_images(folder: str | Path = LABEL_ERRORS_DIR) -> tuple[IntArray, NDArray[np.uint8]]:
    """(official_index (m,), images (m, 32, 32, 3)) of the confirmed errors, as
    ``scripts/extract_label_error_images.py`` saved them from the JPEG copy."""
    with np.load(Path(folder) / IMAGES_FILE) as arrays:
        return arrays["official_index"].astype(np.int64), arrays["images"]


# --- what the label errors do to a run ------------------------------------------------------


def mean_loss_without(val_loss: ArrayLike, left_out: ArrayLike) -> FloatArray:
    """Mean validation loss of each epoch over the images not in ``left_out`` (n,): shape (E,)."""
    loss = np.asarray(val_loss, dtype=np.float64)
    return loss[:, ~np.asarray(left_out, dtype=bool)].mean(axis=1)


def count_among_largest(values: ArrayLike, members: ArrayLike, fraction: float) -> int:
    """How many ``members`` are among the ``ceil(fraction * n)`` largest ``values`` (ties: first)."""
    v = np.asarray(values, dtype=np.float64)
    largest = np.argsort(-v, kind="stable")[: int(np.ceil(fraction * len(v)))]
    return int(np.asarray(members, dtype=bool)[largest].sum())


WRONG_GROUPS = ("wrong at both", "wrong only at the first", "wrong only at the second")


@dataclass(frozen=True)
class WrongAtTwoEpochs:
    """The wrong predictions at two epochs: ``count`` of images in each of :data:`WRONG_GROUPS`,
    ``members`` of them among a chosen set (say, the label errors)."""

    count: IntArray
    members: IntArray


def wrong_at_two_epochs(correct_first: ArrayLike, correct_second: ArrayLike, members: ArrayLike) -> WrongAtTwoEpochs:
    """:class:`WrongAtTwoEpochs` from the right/wrong flags (n,) at two epochs."""
    first = ~np.asarray(correct_first, dtype=bool)
    second = ~np.asarray(correct_second, dtype=bool)
    chosen = np.asarray(members, dtype=bool)
    groups = [first & second, first & ~second, ~first & second]
    return WrongAtTwoEpochs(
        count=np.array([g.sum() for g in groups], dtype=np.int64),
        members=np.array([(g & chosen).sum() for g in groups], dtype=np.int64),
    )
