"""The sentence the chapters use to say what the book's run is."""

from __future__ import annotations

from conftest import ROOT
from lossacc.cifar.record import load_record
from lossacc.run_analysis import book_record, scale_sentence


def test_the_committed_run_is_called_a_stand_in_with_its_size() -> None:
    record = load_record(book_record(ROOT / "records"))
    sentence = scale_sentence(record)
    assert sentence.startswith("a laptop-sized stand-in")
    assert "0.70 M parameters" in sentence and "11.2 M" in sentence
    assert f"{record.settings['train_size']:,} of the 50,000" in sentence
    assert f"{max(record.history.val_acc):.0%} validation accuracy" in sentence
