"""The sentence the chapters use to say what the book's run is."""

from __future__ import annotations

import copy

from conftest import ROOT
from lossacc.cifar.record import load_record
from lossacc.run_analysis import describe_run, run_title, scale_sentence


def test_the_laptop_run_is_described_with_its_size_beside_the_recipe() -> None:
    record = load_record(ROOT / "records" / "cpu-laptop")
    sentence = scale_sentence(record)
    assert sentence.startswith("a smaller version of the recipe, sized for a CPU")
    assert "width 16 (0.70 M parameters" in sentence and "11.2 M" in sentence
    assert f"{record.settings['train_size']:,} of the 50,000" in sentence
    assert f"{max(record.history.val_acc):.1%} validation accuracy at best" in sentence
    assert f"for {record.epochs_recorded} epochs" in sentence and "after epochs 20, 35" in sentence
    assert run_title(record) == "the CPU run (a width-16 ResNet18 trained on 2,000 CIFAR-10 training images for 50 epochs)"


def test_a_run_on_all_images_and_the_full_gpu_run_are_named_so() -> None:
    record = load_record(ROOT / "records" / "cpu-laptop")
    everything = copy.copy(record)
    object.__setattr__(everything, "settings", {**record.settings, "train_size": None})
    assert "trained on all 50,000 training images" in scale_sentence(everything)
    assert "trained on all 50,000 CIFAR-10 training images" in run_title(everything)


def test_label_smoothing_is_named_where_a_run_has_it_and_only_there() -> None:
    record = load_record(ROOT / "records" / "cpu-laptop")
    assert "label smoothing" not in scale_sentence(record)
    assert "label smoothing" not in dict(describe_run(record).rows())
    smoothed = copy.copy(record)
    object.__setattr__(smoothed, "settings", {**record.settings, "label_smoothing": 0.1})
    assert "Everything else is the recipe's, but for label smoothing (ε = 0.1) of the training loss." in scale_sentence(
        smoothed
    )
    assert dict(describe_run(smoothed).rows())["label smoothing"] == "ε = 0.1 on the training loss"
