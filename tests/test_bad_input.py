"""Bad input and unlucky moments, as a careless user meets them (issue 22): nothing silently
wrong, nothing lost. Library functions raise a ValueError that says what is wrong; the
commands print one line on stderr and exit non-zero. Every case here is quick."""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc import calibration, metrics
from lossacc.cifar import files
from lossacc.cifar.checkpoint import ResumeError, save_checkpoint, start_or_resume
from lossacc.cifar.config import ConfigError, TrainConfig
from lossacc.cifar.data import load_cifar10
from lossacc.cifar.files import DiskFullError, PathError, atomic_write, require_folder
from lossacc.cifar.options import RunOptions
from lossacc.cifar.recording import RunState
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.synthetic import synthetic_cifar, write_python_release, write_tar_gz
from lossacc.cifar.train import train
from lossacc.cli import main
from lossacc.diagnose import CLIP_PROBABILITY, diagnose, load_predictions

RNG = np.random.default_rng(22)
LOGITS = RNG.normal(0, 1, size=(2000, 10))
LABELS = RNG.integers(0, 10, size=2000)
PROBS = metrics.softmax(LOGITS)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main(["diagnose", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(capsys: pytest.CaptureFixture[str], message: str, *argv: object) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2 and not out, (status, out, err)
    assert err.count("\n") == 1 and err.startswith("lossacc diagnose: error: ") and message in err, err


def true_class_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """The mean cross-entropy of probabilities (each row divided by its sum), by torch."""
    p = torch.tensor(probs, dtype=torch.float64)
    return F.nll_loss(torch.log(p / p.sum(dim=1, keepdim=True)), torch.tensor(labels)).item()


# --- 1. rounded or low-precision probabilities are probabilities -----------------------------------


@pytest.mark.parametrize("store", ["rounded npy", "rounded csv", "float16 npy"])
def test_rounded_and_float16_probabilities_are_read_as_probabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str
) -> None:
    probs = PROBS.astype(np.float16) if store.startswith("float16") else np.round(PROBS, 3)
    sums = probs.astype(np.float64).sum(axis=1)
    assert np.abs(sums - 1).max() > calibration.PROBABILITY_SUM_TOLERANCE  # not exactly distributions
    assert (probs[np.arange(2000), LABELS] > 0).all()
    if store.endswith("csv"):
        path = tmp_path / "p.csv"
        header = ",".join([f"c{j}" for j in range(10)] + ["label"])
        np.savetxt(path, np.column_stack([probs, LABELS]), delimiter=",", header=header, comments="", fmt="%.3f")
        argv: list[Path | str] = [path]
    else:
        np.save(tmp_path / "p.npy", probs)
        np.save(tmp_path / "y.npy", LABELS)
        argv = [tmp_path / "p.npy", "--labels", tmp_path / "y.npy"]
    d = diagnose(load_predictions(argv[0], argv[2] if len(argv) > 1 else None))
    assert d.kind == "probabilities" and "within" in d.reason
    assert d.mean_loss == pytest.approx(true_class_loss(probs.astype(np.float64), LABELS), rel=1e-9)
    status, out, err = run(capsys, *argv, "--kind", "probabilities")
    assert status == 0 and not err and "read as probabilities (as --kind says; every row is non-negative and sums to 1 within" in out


# --- 2. a probability of 0 at the true class ---------------------------------------------------------


def test_a_zero_probability_at_the_true_class_is_an_infinite_loss_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probs = PROBS.copy()
    zero = [3, 100, 1999]
    probs[zero, LABELS[zero]] = 0
    probs /= probs.sum(axis=1, keepdims=True)
    np.savez(tmp_path / "p.npz", probs=probs, labels=LABELS)
    d = diagnose(load_predictions(tmp_path / "p.npz"))
    assert d.mean_loss == math.inf and d.infinite_losses == 3
    assert d.heldout_loss == math.inf  # row 3 is odd-numbered: held out
    clipped = np.maximum(probs[np.arange(2000), LABELS], CLIP_PROBABILITY)
    assert d.mean_loss_clipped == pytest.approx(-np.log(clipped).mean(), rel=1e-12)
    assert metrics.cross_entropy_from_probs(probs, LABELS) == math.inf  # the library agrees
    status, out, _ = run(capsys, tmp_path / "p.npz")
    assert status == 0 and "mean loss (cross-entropy)             inf" in out
    assert re.search(rf"mean loss, p = 0 clipped to 2.22e-16 +{d.mean_loss_clipped:.4f}\n", out)
    assert "warning: 3 of 2,000 examples give probability 0 to their true class" in out


# --- 3. library functions refuse what has no meaning -------------------------------------------------


LIBRARY_CASES: dict[str, tuple[Callable[[], object], str]] = {
    "top_k_accuracy k=1.5": (lambda: metrics.top_k_accuracy(LOGITS, LABELS, 1.5), "whole number"),  # type: ignore[arg-type]
    "top_k_accuracy of no examples": (lambda: metrics.top_k_accuracy(np.zeros((0, 3)), np.zeros(0, int)), "no examples"),
    "worst_share fraction -0.5": (lambda: metrics.worst_share([1.0, 2.0], -0.5), r"fraction must lie in \(0, 1\]"),
    "worst_share fraction 2": (lambda: metrics.worst_share([1.0, 2.0], 2), r"fraction must lie in \(0, 1\]"),
    "worst_share of nothing": (lambda: metrics.worst_share([], 0.1), "non-empty"),
    "worst_share of zeros": (lambda: metrics.worst_share([0.0, 0.0], 0.5), "every loss is 0"),
    "worst_share of NaN": (lambda: metrics.worst_share([1.0, np.nan], 0.5), "finite"),
    "edges not from 0": (
        lambda: calibration.reliability_bins_from_confidence([0.2, 0.9], [True, False], edges=[0.5, 1]),
        "from 0 to 1",
    ),
    "edges with NaN": (
        lambda: calibration.reliability_bins_from_confidence([0.2, 0.9], [True, False], edges=[0, np.nan, 1]),
        "from 0 to 1",
    ),
    "equal_mass_edges of non-confidences": (lambda: calibration.equal_mass_edges([3, 5, 9]), r"\(0, 1\]"),
    "equal_mass_edges of nothing": (lambda: calibration.equal_mass_edges([]), "non-empty"),
    "fit_temperature on probabilities": (lambda: calibration.fit_temperature(PROBS, LABELS), "look like probabilities"),
    "fit_temperature tolerance -1": (lambda: calibration.fit_temperature(LOGITS, LABELS, tolerance=-1), "tolerance"),
    "fit_temperature tolerance nan": (lambda: calibration.fit_temperature(LOGITS, LABELS, tolerance=math.nan), "tolerance"),
    "softmax of NaN": (lambda: metrics.softmax([[np.nan, 1.0]]), "NaN or infinite"),
    "log_softmax of inf": (lambda: metrics.log_softmax([[np.inf, 1.0]]), "NaN or infinite"),
    "cross_entropy_from_logits of inf": (
        lambda: metrics.cross_entropy_from_logits([[np.inf, 0.0]], [0]),
        "NaN or infinite",
    ),
    "cross_entropy_from_logits of no examples": (
        lambda: metrics.cross_entropy_from_logits(np.zeros((0, 3)), np.zeros(0, int)),
        "no examples",
    ),
    "loss_on_right_and_wrong, all right": (
        lambda: metrics.loss_on_right_and_wrong([0.1, 0.2], [True, True]),
        "every one of the 2 examples is right",
    ),
    "loss_on_right_and_wrong, lengths differ": (
        lambda: metrics.loss_on_right_and_wrong([0.1, 0.2, 0.3], [True, False]),
        "one shape",
    ),
    "scaled_loss T=1e-320": (lambda: calibration.scaled_loss(LOGITS, LABELS, 1e-320), "too small"),
    "expected_calibration_error 10**9 bins": (
        lambda: calibration.expected_calibration_error(PROBS, LABELS, num_bins=10**9),
        "at most 10,000",
    ),
}


@pytest.mark.parametrize("name", LIBRARY_CASES)
def test_library_functions_refuse_meaningless_arguments(name: str) -> None:
    call, message = LIBRARY_CASES[name]
    with pytest.raises(ValueError, match=message):
        call()


def test_the_checks_leave_meaningful_arguments_alone() -> None:
    right = PROBS.argmax(axis=1) == LABELS
    loss = metrics.per_example_loss_from_logits(LOGITS, LABELS)
    assert metrics.top_k_accuracy(LOGITS, LABELS, np.int64(2)) == metrics.top_k_accuracy(LOGITS, LABELS, 2)
    assert metrics.worst_share(loss, 1) == pytest.approx(1.0)
    l_right, l_wrong = metrics.loss_on_right_and_wrong(loss, right)
    assert right.mean() * l_right + (1 - right.mean()) * l_wrong == pytest.approx(loss.mean())
    edges = calibration.equal_mass_edges(PROBS.max(axis=1), 4)
    bins = calibration.reliability_bins_from_confidence(PROBS.max(axis=1), right, edges=edges)
    assert bins.count.sum() == 2000 and (np.abs(bins.count - 500) <= 1).all()
    sampled = (PROBS.cumsum(axis=1) < RNG.random((2000, 1))).sum(axis=1)  # labels drawn from PROBS
    assert abs(calibration.fit_temperature(np.log(PROBS), sampled) - 1) < 0.2  # calibrated: T near 1


# --- 8. diagnose: formats, limits, messages ----------------------------------------------------------


def test_bfloat16_and_sparse_tensors_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logits = torch.tensor(LOGITS[:200], dtype=torch.bfloat16)
    torch.save({"logits": logits, "labels": torch.tensor(LABELS[:200])}, tmp_path / "b.pt")
    torch.save({"logits": logits.float().to_sparse(), "labels": torch.tensor(LABELS[:200])}, tmp_path / "s.pt")
    expected = F.cross_entropy(logits.double(), torch.tensor(LABELS[:200])).item()
    for name in ("b.pt", "s.pt"):
        status, out, err = run(capsys, tmp_path / name)
        assert status == 0 and not err, err
        assert f"mean loss (cross-entropy)             {expected:.4f}" in out


def test_bad_diagnose_inputs_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "good.npz", logits=LOGITS[:50], labels=LABELS[:50])
    np.savez(tmp_path / "twelve.npz", logits=np.column_stack([LOGITS[:50], LOGITS[:50, :2]]), labels=LABELS[:50])
    huge = LOGITS[:50] * 1e300
    np.savez(tmp_path / "huge.npz", logits=huge, labels=LABELS[:50])
    (tmp_path / "header.csv").write_text("a,b,label\n")
    (tmp_path / "table.npz").write_text("a,b,label\n0.5,0.5,1\n")
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "pipe.npz")
    assert_refused(capsys, "--bins must be positive and at most 10,000", tmp_path / "good.npz", "--bins", 10**9)
    assert_refused(capsys, "scores reach -1.4e+300 (row 0, column 0)", tmp_path / "huge.npz")
    assert_refused(capsys, "no examples (the CSV has a header line and no rows", tmp_path / "header.csv")
    assert_refused(capsys, "the two checkpoints have 10 and 12 classes", tmp_path / "good.npz", tmp_path / "twelve.npz")
    assert_refused(capsys, "cannot read it as .npz (not a zip archive", tmp_path / "table.npz")
    assert_refused(capsys, "is a folder, not a file", tmp_path / "folder.npz")
    assert_refused(capsys, "is not a regular file", tmp_path / "pipe.npz")


def test_a_quoted_label_header_is_the_label_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "\n".join(f"{a:.6f},{1 - a:.6f},{y}" for a, y in zip(PROBS[:40, 0], LABELS[:40] % 2, strict=True))
    (tmp_path / "q.csv").write_text(f'"cat","dog","label"\n{rows}\n')
    status, out, err = run(capsys, tmp_path / "q.csv")
    assert status == 0 and not err and "40 examples, 2 classes" in out


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    np.savez(tmp_path / "good.npz", logits=LOGITS, labels=LABELS)
    process = subprocess.Popen(
        [sys.executable, "-m", "lossacc", "diagnose", str(tmp_path / "good.npz")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head -1` does once it has its line
    error = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and error == "", error


# --- 7. training settings and files that cannot be meant or read -------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": -1}, "seed must lie in [0, 2**64)"),
        ({"subset_seed": -1}, "subset_seed must lie in [0, 2**64)"),
        ({"seed": 1180591620717411303424}, "seed must lie in [0, 2**64)"),
        ({"crop_padding": 100}, "crop_padding must lie in [0, 16]"),
    ],
)
def test_settings_that_cannot_be_meant_are_refused(changes: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        replace(TrainConfig(), **changes)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_the_largest_seed_and_padding_are_accepted() -> None:
    config = replace(TrainConfig(), seed=2**64 - 1, subset_seed=2**64 - 1, crop_padding=16)
    torch.manual_seed(config.seed)  # what the run does with it
    np.random.SeedSequence([config.seed, 1]).generate_state(1)


def test_a_model_too_wide_for_memory_is_refused(tmp_path: Path) -> None:
    tiny = synthetic_cifar(train_per_class=2, test_per_class=2, seed=0)
    config = TrainConfig(epochs=1, milestones=(), width=100_000, train_size=20, val_size=10, train_eval_size=10)
    with pytest.raises(ConfigError, match="a ResNet18 of width 100000 does not fit in the memory"):
        train(config, tiny, tmp_path, RunOptions(device="cpu", progress=False))


def test_a_damaged_checkpoint_is_one_line_that_never_suggests_weights_only_false(tmp_path: Path) -> None:
    model = ResNet18(10, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    damaged = {"garbage": b"\x80\x02 not a torch file", "foreign object": None}
    torch.save({"format": "lossacc-cifar-checkpoint", "settings": argparse.Namespace()}, tmp_path / "foreign.pt")
    for name in damaged:
        path = tmp_path / "foreign.pt" if damaged[name] is None else tmp_path / "garbage.pt"
        if damaged[name] is not None:
            path.write_bytes(damaged[name])  # type: ignore[arg-type]
        with pytest.raises(ResumeError) as raised:
            start_or_resume(path, "auto", {}, "0", model, optimizer, torch.device("cpu"))
        message = str(raised.value)
        assert "\n" not in message and "weights_only" not in message and "is damaged" in message, (name, message)


def test_a_damaged_data_cache_is_decoded_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_tar_gz(
        write_python_release(synthetic_cifar(2, 2, seed=1), tmp_path / "release"), tmp_path / "toy.tar.gz"
    )
    first = load_cifar10(archive, tmp_path / "cache", require_official_counts=False, progress=False)
    (cache,) = (tmp_path / "cache").glob("cifar10-*.npz")
    cache.write_bytes(cache.read_bytes()[:1000])  # cut short, as a full disk or a kill would leave it
    again = load_cifar10(archive, tmp_path / "cache", require_official_counts=False, progress=False)
    assert np.array_equal(first.train_images, again.train_images) and "is damaged" in capsys.readouterr().err
    assert np.array_equal(np.load(cache)["train_images"], first.train_images)  # and cached again


# --- 4, 5, 6. folders held by one run, writable before any work, a full disk --------------------------


HOLDER = "import sys, time; from pathlib import Path; from lossacc.cifar.files import hold_folders\n" \
    "with hold_folders({Path(sys.argv[1]): 'x'}):\n    print('held', flush=True); time.sleep(600)"


def test_a_folder_held_by_a_run_is_refused_and_freed_when_that_run_is_killed(tmp_path: Path) -> None:
    tiny = synthetic_cifar(train_per_class=2, test_per_class=2, seed=0)
    config = TrainConfig(epochs=1, milestones=(), width=2, train_size=20, val_size=10, train_eval_size=10)
    for held, run_dir, record_dir in (
        ("run", tmp_path / "a", None),
        ("record", tmp_path / "b", tmp_path / "shared-record"),
    ):
        folder = run_dir if held == "run" else record_dir
        assert folder is not None
        with subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True) as other:
            assert other.stdout is not None and other.stdout.readline() == "held\n"
            with pytest.raises(PathError, match=f"the {held} folder {folder} is in use by another run"):
                train(config, tiny, run_dir, RunOptions(device="cpu", progress=False), record_dir=record_dir)
            assert not (run_dir / "checkpoint.pt").exists()
            os.kill(other.pid, signal.SIGKILL)  # a killed run leaves nothing stuck
        assert train(config, tiny, run_dir, RunOptions(device="cpu", progress=False), record_dir=record_dir).complete


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="--record-dir /proc/lossacc/record is not writable"):
        require_folder(Path("/proc/lossacc/record"), "--record-dir", writable=True)
    require_folder(tmp_path / "new" / "record", "--record-dir", writable=True)
    assert not (tmp_path / "new").exists()  # checking makes nothing


def test_a_full_disk_is_said_so_and_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_bytes(b"the previous record")
    with pytest.raises(DiskFullError, match=f"the disk is full: writing {path} failed"):
        atomic_write(path, lambda handle: Path("/dev/full").write_bytes(b"{}"))  # ENOSPC, as on a full disk
    assert path.read_bytes() == b"the previous record" and sorted(tmp_path.iterdir()) == [path]


def test_a_checkpoint_written_to_a_full_disk_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ResNet18(10, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = RunState(val_loss=[np.zeros(3, np.float16)], val_pred=[np.zeros(3, np.int8)])
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {}, "0", model, optimizer, state)
    before = path.read_bytes()
    # Every file the run writes lands on a full device (torch alone would say "unexpected pos").
    monkeypatch.setattr(files, "open", lambda name, mode: open("/dev/full", mode), raising=False)  # noqa: SIM115
    with pytest.raises(DiskFullError, match="the disk is full"):
        save_checkpoint(path, {}, "0", model, optimizer, replace(state, val_loss=[np.ones(3, np.float16)]))
    assert path.read_bytes() == before
