"""Label smoothing in training, its loss floor, and the measurement of why a running training loss
differs from the validation loss (``lossacc-measure-gap``), on tiny synthetic data and models."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from lossacc.cifar.augment import random_crop_flip, to_network_input
from lossacc.cifar.checkpoint import CHECKPOINT_FILE
from lossacc.cifar.cli import build_parser, config_from_arguments
from lossacc.cifar.config import TrainConfig
from lossacc.cifar.data import CifarData, load_cifar10
from lossacc.cifar.gap import (
    MeasurementError,
    exact_duplicates,
    main,
    measure_checkpoint,
    measure_conditions,
    squared_weight_norm,
)
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.record import load_record
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.synthetic import synthetic_cifar, write_python_release, write_tar_gz
from lossacc.cifar.train import epoch_generator, train, train_one_epoch
from lossacc.train_val_gap import (
    CONDITIONS,
    load_training_losses,
    smoothed_cross_entropy,
    smoothing_floor,
    split_running_loss,
)

TINY = TrainConfig(epochs=2, milestones=(1,), width=4, batch_size=16, train_eval_size=40, thumbnails_per_group=2)
CPU = RunOptions(device="cpu", progress=False)


@pytest.fixture(scope="module")
def toy() -> CifarData:
    return synthetic_cifar(train_per_class=8, test_per_class=4, seed=5)


# --- the floor and the smoothed loss ------------------------------------------------------------


@pytest.mark.parametrize(("epsilon", "classes"), [(0.1, 10), (0.2, 10), (0.1, 100), (0.5, 3)])
def test_the_floor_is_the_entropy_of_the_smoothed_target(epsilon: float, classes: int) -> None:
    target = np.full(classes, epsilon / classes)
    target[0] += 1 - epsilon
    assert smoothing_floor(epsilon, classes) == pytest.approx(entropy(target), rel=1e-12)
    # and a prediction equal to the target reaches it, in torch's own smoothed loss
    logits = torch.log(torch.from_numpy(target))[None]
    reached = torch.nn.CrossEntropyLoss(label_smoothing=epsilon)(logits, torch.tensor([0])).item()
    assert reached == pytest.approx(smoothing_floor(epsilon, classes), rel=1e-9)


def test_the_floor_at_the_books_setting_and_at_zero() -> None:
    assert round(smoothing_floor(0.1, 10), 3) == 0.500
    assert smoothing_floor(0.0, 10) == 0.0
    with pytest.raises(ValueError, match="epsilon must lie in"):
        smoothing_floor(1.0, 10)


def test_no_prediction_goes_below_the_floor() -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(0, 5, (2000, 10)), rng.integers(0, 10, 2000)
    assert smoothed_cross_entropy(logits, labels, 0.1).min() >= smoothing_floor(0.1, 10) - 1e-12


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3])
def test_the_smoothed_loss_matches_torch(epsilon: float) -> None:
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(0, 3, (50, 10)), rng.integers(0, 10, 50)
    expected = torch.nn.CrossEntropyLoss(label_smoothing=epsilon, reduction="none")(
        torch.from_numpy(logits), torch.from_numpy(labels)
    )
    assert np.allclose(smoothed_cross_entropy(logits, labels, epsilon), expected.numpy(), rtol=1e-12, atol=1e-12)


# --- the flag: validated (test_cifar_train, test_cifar_cli), recorded, and what training minimises ---


def test_the_flag_reaches_the_settings() -> None:
    arguments = build_parser().parse_args(["--data", "x", "--preset", "cpu-laptop", "--label-smoothing", "0.1"])
    config = config_from_arguments(arguments)
    assert config.label_smoothing == 0.1 and config.settings()["label_smoothing"] == 0.1
    plain = config_from_arguments(build_parser().parse_args(["--data", "x", "--preset", "cpu-laptop"]))
    assert plain.settings()["label_smoothing"] == 0.0


@pytest.mark.parametrize("epsilon", [0.0, 0.1])
def test_an_epochs_training_loss_is_torchs_label_smoothed_cross_entropy(toy: CifarData, epsilon: float) -> None:
    """One batch holding all 80 images, so that the epoch's mean is one loss computed independently."""
    config = replace(TINY, batch_size=80, label_smoothing=epsilon)
    runtime = Runtime.resolve(RunOptions(device="cpu", channels_last=False, progress=False))
    torch.manual_seed(0)
    model = ResNet18(width=4)
    before = copy.deepcopy(model).train()
    images, labels = torch.from_numpy(toy.train_images), torch.from_numpy(toy.train_labels)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, _ = train_one_epoch(model, optimizer, images, labels, config, runtime, epoch_generator(0, 1, runtime.device), epoch=1)
    generator = epoch_generator(0, 1, runtime.device)  # the same draws: the order, then the crops and flips
    order = torch.randperm(len(labels), generator=generator)
    batch = random_crop_flip(images[order], config.crop_padding, config.hflip, generator)
    with torch.no_grad():
        logits = before(to_network_input(batch, channels_last=False))
    expected = torch.nn.CrossEntropyLoss(label_smoothing=epsilon)(logits, labels[order]).item()
    assert loss == pytest.approx(expected, rel=1e-5)
    plain = torch.nn.CrossEntropyLoss()(logits, labels[order]).item()
    assert (abs(loss - plain) > 1e-3) if epsilon else loss == pytest.approx(plain, rel=1e-5)


@pytest.fixture(scope="module")
def archive(toy: CifarData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    return write_tar_gz(write_python_release(toy, folder / "release"), folder / "toy.tar.gz")


@pytest.fixture(scope="module")
def archived(archive: Path) -> CifarData:
    """The toy data as a run reads it from an archive (with the archive's sha256)."""
    return load_cifar10(archive, archive.parent / "cache", require_official_counts=False, progress=False)


@pytest.fixture(scope="module")
def smoothed_run(archived: CifarData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("smoothed")
    assert train(replace(TINY, label_smoothing=0.2), archived, run_dir, CPU).complete
    return run_dir


@pytest.mark.slow  # trains a network
def test_a_smoothed_run_records_its_epsilon_and_a_plain_validation_loss(smoothed_run: Path) -> None:
    record = load_record(smoothed_run / "record")
    assert record.settings["label_smoothing"] == 0.2
    logits = record.logits_at(record.epochs_recorded)
    plain = torch.nn.functional.cross_entropy(torch.from_numpy(logits).double(), torch.from_numpy(record.val_labels))
    assert record.history.val_loss[-1] == pytest.approx(plain.item(), rel=1e-4), "validation stays plain cross-entropy"
    assert (record.history.train_loss > smoothing_floor(0.2, 10)).all()


# --- the measurement ---------------------------------------------------------------------------


def test_train_mode_leaves_the_models_running_statistics_alone(toy: CifarData) -> None:
    runtime = Runtime.resolve(RunOptions(device="cpu", channels_last=False, progress=False))
    torch.manual_seed(1)
    model = ResNet18(width=4)
    with torch.no_grad():  # running statistics that differ from any batch's
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.fill_(0.05)
                module.running_var.fill_(0.5)
    state = copy.deepcopy(model.state_dict())
    images, labels = torch.from_numpy(toy.train_images[:40]), torch.from_numpy(toy.train_labels[:40])
    results = measure_conditions(
        model, images, labels, batch_size=40, crop_padding=4, hflip=True, label_smoothing=0.1, seed=3, runtime=runtime
    )
    assert all(torch.equal(state[name], value) for name, value in model.state_dict().items())
    assert set(results) == set(CONDITIONS)
    with torch.no_grad():  # clean, eval mode: the model as it is
        clean = torch.nn.functional.cross_entropy(model.eval()(to_network_input(images, False)).double(), labels, reduction="none")
        batch_stats = torch.nn.functional.cross_entropy(
            copy.deepcopy(model).train()(to_network_input(images, False)).double(), labels, reduction="none"
        )
    assert np.allclose(results["clean_eval"].loss, clean.numpy(), rtol=1e-5)
    assert np.allclose(results["clean_train_mode"].loss, batch_stats.numpy(), rtol=1e-5), "one batch: its own statistics"
    assert not np.allclose(results["clean_train_mode"].loss, results["clean_eval"].loss)
    assert not np.allclose(results["augmented_eval"].loss, results["clean_eval"].loss)
    assert not np.allclose(results["augmented_eval"].smoothed_loss, results["augmented_eval"].loss)


def test_the_weight_norm_and_the_duplicate_count() -> None:
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(-2.0)
    assert squared_weight_norm(model) == 6 * 1.0 + 2 * 4.0
    train_images = np.arange(5 * 12, dtype=np.uint8).reshape(5, 2, 2, 3)
    test_images = np.concatenate([train_images[[1, 3]], train_images[[0]] + 1, train_images[[4]]])
    assert exact_duplicates(test_images, train_images) == 3


@pytest.mark.slow  # trains a network
def test_the_measurement_repeats_the_record_and_splits_the_running_loss(
    toy: CifarData, archived: CifarData, smoothed_run: Path
) -> None:
    with pytest.raises(MeasurementError, match="the checkpoint was trained on data with sha256"):
        measure_checkpoint(smoothed_run / CHECKPOINT_FILE, toy, options=CPU)
    measurement = measure_checkpoint(smoothed_run / CHECKPOINT_FILE, archived, options=CPU)
    record = load_record(smoothed_run / "record")
    conditions = measurement["conditions"]
    assert conditions["clean_eval"]["loss"] == pytest.approx(record.history.train_eval_loss[-1], rel=1e-4)
    assert measurement["images"]["count"] == len(record.train_eval_source_index) == 40
    assert measurement["checkpoint"]["epoch"] == 2 and measurement["label_smoothing"] == 0.2
    path = smoothed_run / "gap.json"
    (path).write_text(json.dumps(measurement))
    losses = load_training_losses(path)
    split = split_running_loss(losses)
    assert split.running == record.history.train_loss[-1] and split.validation == record.history.val_loss[-1]
    parts = split.smoothing + split.augmentation + split.train_mode + split.lag
    assert split.clean + parts == pytest.approx(split.running, rel=1e-12)
    assert split.smoothing > 0 and split.running_minus_validation == pytest.approx(split.handicap - split.generalisation)
    assert losses.l2_term == pytest.approx(TINY.weight_decay / 2 * measurement["squared_weight_norm"])
    subsample = measure_checkpoint(smoothed_run / CHECKPOINT_FILE, archived, images=10, seed=4, options=CPU)
    again = measure_checkpoint(smoothed_run / CHECKPOINT_FILE, archived, images=10, seed=4, options=CPU)
    other = measure_checkpoint(smoothed_run / CHECKPOINT_FILE, archived, images=10, seed=5, options=CPU)
    assert subsample["images"]["count"] == 10 and subsample["conditions"] == again["conditions"]
    assert subsample["images"]["train_source_index_sha256"] != other["images"]["train_source_index_sha256"]


@pytest.mark.slow  # trains a network
def test_the_command_writes_once_and_refuses_bad_input_in_one_line(
    archive: Path, smoothed_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(archive), "--data-cache", str(tmp_path / "cache"), "--allow-partial-data"]
    out = tmp_path / "gap.json"
    assert main(["--checkpoint", str(smoothed_run / CHECKPOINT_FILE), *common, "--out", str(out)]) == 0
    assert load_training_losses(out).epoch == 2 and "written to" in capsys.readouterr().out
    for arguments, message in [
        (["--checkpoint", str(smoothed_run / CHECKPOINT_FILE), "--out", str(out)], "exists; pass --overwrite"),
        (["--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "a.json")], "no checkpoint at"),
        (["--checkpoint", str(smoothed_run / CHECKPOINT_FILE), "--out", str(tmp_path / "b.json"), "--images", "0"],
         "images must lie in [1, 40]"),
        (["--checkpoint", str(archive), "--out", str(tmp_path / "c.json")], "is damaged"),
    ]:
        assert main([*arguments, *common]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("lossacc-measure-gap: error:") and message in error[0], error
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()
