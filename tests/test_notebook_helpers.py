"""The helpers chapters use to glue computed values into their prose."""

import myst_nb
import numpy as np
import pytest

from lossacc.notebook import glue_numbers, glue_sentences, glue_words, markdown_table


@pytest.fixture
def glued(monkeypatch: pytest.MonkeyPatch) -> dict:
    calls: dict = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: calls.update({key: (value, display)}))
    return calls


def test_numpy_scalars_are_glued_as_formattable_floats(glued: dict) -> None:
    glue_numbers(loss=np.float64(0.125), count=np.int64(3))
    assert glued == {"loss": (0.125, False), "count": (3.0, False)}
    assert all(type(value) is float for value, _ in glued.values())
    assert f"{glued['loss'][0]:.2f}" == "0.12"


def test_words_are_glued_as_strings(glued: dict) -> None:
    glue_words(device="cpu", epochs=np.int64(50))
    assert glued == {"device": ("cpu", False), "epochs": ("50", False)}


def test_sentences_are_glued_as_markdown(glued: dict) -> None:
    glue_sentences(verdict="It *rises*.")
    (value, display), = glued.values()
    assert value.data == "It *rises*." and value._repr_markdown_() == "It *rises*." and display is False


def test_markdown_table() -> None:
    table = markdown_table(["metric", "value"], [("loss", 1.5), ("accuracy", 0.5)])
    assert table.data == "| metric | value |\n| --- | --- |\n| loss | 1.5 |\n| accuracy | 0.5 |"
