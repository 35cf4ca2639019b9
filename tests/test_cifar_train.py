"""Training at toy size on the CPU: resuming repeats the uninterrupted run, and the record holds what it says."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc.cifar.augment import to_network_input
from lossacc.cifar.checkpoint import CHECKPOINT_FILE, ResumeError
from lossacc.cifar.config import PRESETS, ConfigError, TrainConfig, default_logit_epochs
from lossacc.cifar.data import CifarData
from lossacc.cifar.files import atomic_write
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.record import HISTORY_FIELDS, CifarRecord, RecordError, load_record
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.splits import balanced_subset
from lossacc.cifar.synthetic import synthetic_cifar
from lossacc.cifar.train import DivergedError, train

TINY = TrainConfig(epochs=3, milestones=(1, 2), width=4, batch_size=16, train_eval_size=40, thumbnails_per_group=2)
CPU = RunOptions(device="cpu", progress=False)


class Killed(Exception):
    """Stands in for the process dying mid-epoch."""


@pytest.fixture(scope="module")
def toy() -> CifarData:
    return synthetic_cifar(train_per_class=8, test_per_class=4, seed=3)


@pytest.fixture(scope="module")
def straight_run(toy: CifarData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("straight")
    result = train(TINY, toy, run_dir, CPU)
    assert result.complete and result.epochs_done == 3
    return run_dir


def assert_same_results(a: CifarRecord, b: CifarRecord) -> None:
    for name in HISTORY_FIELDS:
        if not name.endswith("_seconds"):
            assert np.array_equal(getattr(a.history, name), getattr(b.history, name)), name
    for name in ("val_loss", "val_pred", "val_logits", "val_labels", "calibration_fit_mask", "train_source_index"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.thumbnails.val_position, b.thumbnails.val_position)
    assert a.settings == b.settings and a.logit_epochs == b.logit_epochs


@pytest.mark.slow  # trains a network
def test_stopping_between_epochs_and_resuming_repeats_the_run(
    toy: CifarData, straight_run: Path, tmp_path: Path
) -> None:
    first = train(TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, stop_after_epochs=1))
    assert (first.epochs_done, first.complete) == (1, False)
    assert load_record(tmp_path / "record").epochs_recorded == 1
    assert train(TINY, toy, tmp_path, CPU).complete
    resumed = load_record(tmp_path / "record")
    assert_same_results(resumed, load_record(straight_run / "record"))
    assert [(s["first_epoch"], s["last_epoch"]) for s in resumed.metadata["sessions"]] == [(1, 1), (2, 3)]
    straight_model = torch.load(straight_run / CHECKPOINT_FILE, weights_only=True)["model"]
    resumed_model = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["model"]
    assert all(torch.equal(straight_model[name], resumed_model[name]) for name in straight_model)


@pytest.mark.slow  # trains a network
def test_a_time_budget_ends_the_session_before_an_epoch_that_would_overrun_it(toy: CifarData, tmp_path: Path) -> None:
    result = train(TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, time_budget_seconds=1e-3))
    assert (result.epochs_done, result.complete) == (1, False)


@pytest.mark.slow  # trains a network
def test_a_run_killed_mid_epoch_resumes_to_the_same_record(toy: CifarData, straight_run: Path, tmp_path: Path) -> None:
    def kill_in_epoch_2(epoch: int, step: int) -> None:
        if (epoch, step) == (2, 2):
            raise Killed

    with pytest.raises(Killed):
        train(TINY, toy, tmp_path, CPU, step_hook=kill_in_epoch_2)
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["history"]["epoch"] == [1]
    assert train(TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, resume="require")).complete
    assert_same_results(load_record(tmp_path / "record"), load_record(straight_run / "record"))


@pytest.mark.slow  # trains a network
def test_the_record_holds_the_run(toy: CifarData, straight_run: Path) -> None:
    record = load_record(straight_run / "record")
    history = record.history
    assert list(history.epoch) == [1, 2, 3]
    assert np.allclose(history.lr, [0.1, 0.02, 0.004])
    assert record.val_loss.shape == record.val_pred.shape == (3, 40)
    assert record.logit_epochs == (1, 2, 3) and record.val_logits.shape == (3, 40, 10)
    assert record.settings == TINY.settings()
    assert (
        set(record.train_eval_source_index) <= set(record.train_source_index) and len(record.train_source_index) == 80
    )
    assert record.calibration_fit_mask.sum() == 20
    assert np.array_equal(record.val_labels, toy.test_labels[record.val_source_index])
    assert np.array_equal(
        record.thumbnails.images, toy.test_images[record.val_source_index[record.thumbnails.val_position]]
    )
    metadata = record.metadata
    assert metadata["device"]["type"] == "cpu" and metadata["torch_version"] == torch.__version__
    assert metadata["dataset"]["layout"] == "synthetic" and metadata["seed"] == 0
    assert {"commit", "commit_dirty", "python_version", "platform", "created"} <= set(metadata)
    assert metadata["wall_seconds"] == pytest.approx(history.epoch_seconds.sum())
    assert metadata["sessions"][0]["seconds"] >= metadata["wall_seconds"]  # the session's wall time includes set-up
    assert metadata["device"]["fused_sgd"] is False and "cuda_version" in metadata
    assert (history.train_seconds > 0).all() and (history.epoch_seconds >= history.train_seconds).all()
    assert history.train_loss[-1] < history.train_loss[0]


@pytest.mark.slow  # trains a network
def test_recorded_scores_match_an_independent_evaluation(toy: CifarData, straight_run: Path) -> None:
    record = load_record(straight_run / "record")
    model = ResNet18(width=TINY.width)
    model.load_state_dict(torch.load(straight_run / CHECKPOINT_FILE, weights_only=True)["model"])
    model.eval()
    with torch.no_grad():
        val_images = torch.from_numpy(toy.test_images[record.val_source_index])
        logits = model(to_network_input(val_images, channels_last=False))
        train_eval_images = torch.from_numpy(toy.train_images[record.train_eval_source_index])
        train_eval_logits = model(to_network_input(train_eval_images, channels_last=False))
    labels = torch.from_numpy(record.val_labels)
    losses = F.cross_entropy(logits.double(), labels, reduction="none").numpy()
    assert np.allclose(record.val_loss[-1], losses, rtol=2e-3, atol=1e-4)
    assert record.history.val_loss[-1] == pytest.approx(losses.mean(), rel=1e-4)
    assert record.history.val_acc[-1] == pytest.approx((logits.argmax(1) == labels).double().mean().item())
    train_eval_labels = torch.from_numpy(toy.train_labels[record.train_eval_source_index])
    assert record.history.train_eval_loss[-1] == pytest.approx(
        F.cross_entropy(train_eval_logits.double(), train_eval_labels).item(), rel=1e-4
    )
    assert np.allclose(record.logits_at(3), logits.numpy(), atol=1e-4)


@pytest.mark.slow  # trains a network
def test_a_checkpoint_with_other_settings_is_not_continued(toy: CifarData, straight_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ResumeError, match=r"other settings \(width=4 there, 8 now\)"):
        train(
            TrainConfig(**{**TINY.settings(), "milestones": (1, 2), "logit_epochs": None, "width": 8}),
            toy,
            straight_run,
            CPU,
        )
    with pytest.raises(ResumeError, match="no checkpoint to resume"):
        train(TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, resume="require"))
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"garbage")
    with pytest.raises(ResumeError, match="is damaged"):
        train(TINY, toy, tmp_path, CPU)
    assert (
        train(
            TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, resume="restart", stop_after_epochs=1)
        ).epochs_done
        == 1
    )


def test_learning_rate_follows_torch_multistep_lr() -> None:
    config = PRESETS["recipe"]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=config.lr_decay
    )
    for epoch in range(1, config.epochs + 1):
        assert config.learning_rate(epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12), epoch
        optimizer.step()
        scheduler.step()


def test_logits_are_kept_around_each_milestone() -> None:
    assert default_logit_epochs(200, (60, 120, 160)) == (1, 30, 60, 61, 90, 120, 121, 140, 160, 161, 180, 200)
    assert default_logit_epochs(3, (1, 2)) == (1, 2, 3)
    assert len(PRESETS["cpu-laptop"].kept_logit_epochs()) == 12


def test_subsets_are_class_balanced_and_reproducible() -> None:
    labels = np.repeat(np.arange(10), 50)
    subset = balanced_subset(labels, 120, np.random.default_rng(0))
    assert np.array_equal(np.bincount(labels[subset]), [12] * 10)
    assert np.array_equal(subset, np.sort(subset)) and len(set(subset)) == 120
    assert np.array_equal(subset, balanced_subset(labels, 120, np.random.default_rng(0)))
    assert np.array_equal(balanced_subset(labels, None, np.random.default_rng(0)), np.arange(500))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"milestones": (60, 250)}, r"milestones must be increasing epochs before the last \(1 to 199\)"),
        ({"milestones": (120, 60)}, "milestones must be increasing"),
        ({"momentum": 0.0}, "Nesterov momentum needs momentum > 0"),
        ({"lr": -0.1}, "lr must be positive"),
        ({"val_size": 1}, "val_size must be at least 2"),
        ({"logit_epochs": (0, 5)}, "logit_epochs must be increasing epochs between 1 and 200"),
        ({"label_smoothing": 1.0}, r"label_smoothing must lie in \[0, 1\), got 1.0"),
        ({"label_smoothing": -0.1}, r"label_smoothing must lie in \[0, 1\), got -0.1"),
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)  # type: ignore[arg-type]


def test_subsets_larger_than_the_data_are_refused(toy: CifarData, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train_size 1000 exceeds the 80 images"):
        train(TrainConfig(epochs=1, milestones=(), train_size=1000), toy, tmp_path, CPU)
    with pytest.raises(ConfigError, match=r"no CUDA GPU|unknown device"):
        train(
            TINY, toy, tmp_path, RunOptions(device="cuda" if not torch.cuda.is_available() else "tpu", progress=False)
        )


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"good")

    def fail_halfway(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail_halfway)
    assert target.read_bytes() == b"good" and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": float("inf")}, "lr must be a finite number, got inf"),
        ({"lr": float("nan")}, "lr must be a finite number, got nan"),
        ({"lr_decay": float("inf")}, "lr_decay must be a finite number"),
        ({"momentum": float("nan")}, "momentum must be a finite number"),
        ({"weight_decay": float("inf")}, "weight_decay must be a finite number"),
        ({"label_smoothing": float("nan")}, "label_smoothing must be a finite number, got nan"),
    ],
)
def test_non_finite_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.slow  # trains a network
def test_a_record_folder_holding_another_run_is_refused(toy: CifarData, straight_run: Path, tmp_path: Path) -> None:
    record_dir = tmp_path / "record"
    shutil.copytree(straight_run / "record", record_dir)
    before = {p.name: p.read_bytes() for p in record_dir.iterdir()}
    wider = replace(TINY, width=8)
    with pytest.raises(RecordError, match=r"holds the record of another run \(width=4 there, 8 now\)"):
        train(wider, toy, tmp_path / "wider", CPU, record_dir=record_dir)
    with pytest.raises(RecordError, match=r"a run started .* there, this one now"):
        train(TINY, toy, tmp_path / "again", CPU, record_dir=record_dir)
    assert {p.name: p.read_bytes() for p in record_dir.iterdir()} == before
    # The run that made the record may write it again; --overwrite-record replaces another run's.
    assert train(TINY, toy, straight_run, CPU, record_dir=record_dir).complete
    one_epoch = RunOptions(device="cpu", progress=False, stop_after_epochs=1, overwrite_record=True)
    train(wider, toy, tmp_path / "wider", one_epoch, record_dir=record_dir)
    assert load_record(record_dir).settings["width"] == 8


def test_a_run_whose_loss_becomes_non_finite_stops_and_keeps_its_good_epochs(toy: CifarData, tmp_path: Path) -> None:
    exploding = replace(TINY, milestones=(1,), lr_decay=1e12)  # epoch 2 trains with learning rate 1e11
    with pytest.raises(DivergedError, match=r"diverged in epoch 2 .*learning rate 1e\+11\); the record keeps epochs 1-1"):
        train(exploding, toy, tmp_path, RunOptions(device="cpu", progress=False, record_every=5))
    record = load_record(tmp_path / "record")
    assert record.epochs_recorded == 1 and np.isfinite(record.history.val_loss).all()
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["history"]["epoch"] == [1]


def test_temporary_files_of_a_killed_write_are_removed_on_the_next_start(toy: CifarData, tmp_path: Path) -> None:
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    stale = [tmp_path / f".{CHECKPOINT_FILE}.{dead_pid.pid}.tmp", tmp_path / "record" / f".arrays.npz.{dead_pid.pid}.tmp"]
    live = tmp_path / f".{CHECKPOINT_FILE}.{os.getppid()}.tmp"  # another process writing: left alone
    for path in (*stale, live):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half a checkpoint")
    train(TINY, toy, tmp_path, RunOptions(device="cpu", progress=False, stop_after_epochs=1))
    assert not any(path.exists() for path in stale) and live.exists()


@pytest.mark.slow  # trains a network
def test_checkpoints_every_n_epochs_still_resume_to_the_same_record(
    toy: CifarData, straight_run: Path, tmp_path: Path
) -> None:
    assert Runtime.resolve(CPU).checkpoint_every == 1

    def kill_in_epoch_3(epoch: int, step: int) -> None:
        if (epoch, step) == (3, 1):
            raise Killed

    sparse = RunOptions(device="cpu", progress=False, checkpoint_every=2, record_every=5)
    with pytest.raises(Killed):
        train(TINY, toy, tmp_path, sparse, step_hook=kill_in_epoch_3)
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["history"]["epoch"] == [1, 2]
    assert not list((tmp_path / "record").iterdir())  # no record due before the end (the held folder is empty)
    assert train(TINY, toy, tmp_path, sparse).complete
    assert_same_results(load_record(tmp_path / "record"), load_record(straight_run / "record"))
