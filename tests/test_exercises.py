"""The check cells' helper: right answers pass, wrong ones get one helpful line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lossacc.exercises import PLACEHOLDER_MESSAGE, check


def test_a_number_within_the_tolerance_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(0.6932, math.log(2), tolerance=1e-3)
    assert capsys.readouterr().out == "Correct: 0.6932.\n"


@pytest.mark.parametrize(("answer", "direction"), [(0.70, "high"), (0.68, "low")])
def test_a_wrong_number_says_which_way_and_gives_the_hint(answer: float, direction: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not check(answer, math.log(2), tolerance=1e-3, hint="the loss of p = 1/2 is ln 2.")
    out = capsys.readouterr().out
    assert out == f"Not yet: {answer:.6g} is too {direction}. Hint: the loss of p = 1/2 is ln 2.\n"
    assert "0.693" not in out, "a wrong answer must not be told the expected value"


@pytest.mark.parametrize("placeholder", [..., [..., ...], (0.5, ...)])
def test_the_placeholder_asks_for_an_answer(placeholder: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert not check(placeholder, [1.0, 2.0])
    assert capsys.readouterr().out == PLACEHOLDER_MESSAGE + "\n"


@pytest.mark.parametrize(("answer", "problem"), [("0.7", "expected a number, got '0.7'"), (None, "expected a number, got None"),
                                                  (float("nan"), "nan is not a finite number"),
                                                  ([1.0, 2.0], "expected shape (), got shape (2,)")])
def test_answers_that_are_not_a_number_are_named(answer: object, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert not check(answer, 1.0)
    assert capsys.readouterr().out == f"Not yet: {problem}.\n"


def test_arrays_are_compared_elementwise(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(np.array([0.1, 0.2]), [0.1, 0.2004])
    assert not check([0.1, 0.3, 0.5], [0.1, 0.2, 0.4])
    assert capsys.readouterr().out.splitlines()[-1] == "Not yet: 2 of 3 values are off by more than 0.001."


def test_an_exact_integer_answer() -> None:
    assert check(41, 41, tolerance=0)
    assert not check(42, 41, tolerance=0)


def reference_loss(probs: list[float], label: int) -> float:
    """The reference: cross-entropy of one prediction, by torch."""
    return float(F.nll_loss(torch.log(torch.tensor([probs])), torch.tensor([label])))


LOSS_INPUTS = [([0.9, 0.1], 0), ([0.25, 0.35, 0.40], 2), ([0.5, 0.45, 0.05], 1)]


def test_a_right_function_passes_on_every_input(capsys: pytest.CaptureFixture[str]) -> None:
    def loss(probs: list[float], label: int) -> float:
        return -math.log(probs[label])

    assert check(loss, reference_loss, inputs=LOSS_INPUTS)
    assert capsys.readouterr().out == "Correct: your function agrees on every input.\n"


def test_a_wrong_function_shows_the_first_input_it_gets_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    def loss(probs: list[float], label: int) -> float:
        return -math.log10(probs[label])  # the wrong logarithm

    assert not check(loss, reference_loss, inputs=LOSS_INPUTS, hint="natural log.")
    out = capsys.readouterr().out
    assert out.startswith("Not yet: loss([0.9 0.1], 0) returned 0.0457575, expected 0.105361.")
    assert out.rstrip().endswith("Hint: natural log.")


def test_an_unfinished_or_crashing_function_is_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def unfinished(probs: list[float], label: int) -> None:
        ...

    def crashing(probs: list[float], label: int) -> float:
        return probs[label + 5]

    assert not check(unfinished, reference_loss, inputs=LOSS_INPUTS)
    assert not check(crashing, reference_loss, inputs=LOSS_INPUTS)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Not yet: unfinished([0.9 0.1], 0) returned None: finish the function and return the result.",
                     "Not yet: crashing([0.9 0.1], 0) raised IndexError: list index out of range."]


def test_a_number_where_a_function_is_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert not check(0.1, reference_loss, inputs=LOSS_INPUTS)
    assert capsys.readouterr().out == "Not yet: expected a function, got 0.1.\n"


def test_the_book_author_is_told_about_a_misused_check() -> None:
    with pytest.raises(ValueError, match="inputs"):
        check(reference_loss, reference_loss)
    with pytest.raises(TypeError, match="expected must be"):
        check(1.0, "one")
