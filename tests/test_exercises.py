"""The check cells' helper: right answers pass, wrong ones get one helpful line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossacc.exercises import PLACEHOLDER_MESSAGE, check


def verdict(capsys: pytest.CaptureFixture[str], answer: object, expected: object, **options: object) -> str:
    """The one line ``check`` prints."""
    check(answer, expected, **options)  # type: ignore[arg-type]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    return lines[0]


def test_a_number_within_the_tolerance_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, 0.6932, math.log(2), tolerance=1e-3) == "Correct: 0.6932."


@pytest.mark.parametrize(("answer", "direction"), [(0.70, "high"), (0.68, "low")])
def test_a_wrong_number_says_which_way_and_gives_the_hint(answer: float, direction: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = verdict(capsys, answer, math.log(2), tolerance=1e-3, hint="the loss of p = 1/2 is ln 2.")
    assert out == f"Not yet: {answer:.6g} is too {direction}. Hint: the loss of p = 1/2 is ln 2."
    assert "0.693" not in out, "a wrong answer must not be told the expected value"


@pytest.mark.parametrize("placeholder", [..., [..., ...], (0.5, ...)])
def test_the_placeholder_asks_for_an_answer(placeholder: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, placeholder, [1.0, 2.0]) == PLACEHOLDER_MESSAGE


@pytest.mark.parametrize(("answer", "problem"), [("0.7", "expected a number, got '0.7'"), (None, "expected a number, got None"),
                                                  (float("nan"), "nan is not a finite number"),
                                                  ([1.0, 2.0], "expected shape (), got shape (2,)")])
def test_answers_that_are_not_a_number_are_named(answer: object, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, answer, 1.0) == f"Not yet: {problem}."


def test_arrays_are_compared_elementwise(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, np.array([0.1, 0.2]), [0.1, 0.2004]).startswith("Correct")
    assert verdict(capsys, [0.1, 0.3, 0.5], [0.1, 0.2, 0.4]) == "Not yet: 2 of 3 values are off by more than 0.001."


def test_an_exact_integer_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, 41, 41, tolerance=0) == "Correct: 41."
    assert verdict(capsys, 42, 41, tolerance=0) == "Not yet: 42 is too high."


def reference_loss(probs: list[float], label: int) -> float:
    """The reference: cross-entropy of one prediction, by torch."""
    return float(F.nll_loss(torch.log(torch.tensor([probs])), torch.tensor([label])))


LOSS_INPUTS = [([0.9, 0.1], 0), ([0.25, 0.35, 0.40], 2), ([0.5, 0.45, 0.05], 1)]


def test_a_right_function_passes_on_every_input(capsys: pytest.CaptureFixture[str]) -> None:
    def loss(probs: list[float], label: int) -> float:
        return -math.log(probs[label])

    assert verdict(capsys, loss, reference_loss, inputs=LOSS_INPUTS) == "Correct: your function agrees on every input."


def test_a_wrong_function_shows_the_first_input_it_gets_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    def loss(probs: list[float], label: int) -> float:
        return -math.log10(probs[label])  # the wrong logarithm

    assert verdict(capsys, loss, reference_loss, inputs=LOSS_INPUTS, hint="natural log.") == (
        "Not yet: loss([0.9, 0.1], 0) returned 0.0457575, expected 0.105361. Hint: natural log.")


def test_an_unfinished_or_crashing_function_is_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def unfinished(probs: list[float], label: int) -> None:
        ...

    def crashing(probs: list[float], label: int) -> float:
        return probs[label + 5]

    assert verdict(capsys, unfinished, reference_loss, inputs=LOSS_INPUTS) == (
        "Not yet: unfinished([0.9, 0.1], 0) returned None: finish the function and return the result.")
    assert verdict(capsys, crashing, reference_loss, inputs=LOSS_INPUTS) == (
        "Not yet: crashing([0.9, 0.1], 0) raised IndexError: list index out of range.")


def test_a_number_where_a_function_is_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(capsys, 0.1, reference_loss, inputs=LOSS_INPUTS) == "Not yet: expected a function, got 0.1."


def test_the_book_author_is_told_about_a_misused_check() -> None:
    with pytest.raises(ValueError, match="inputs"):
        check(reference_loss, reference_loss)
    with pytest.raises(TypeError, match="expected must be"):
        check(1.0, "one")


def test_a_long_input_is_shown_on_one_line_with_its_middle_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    """An input array reads as prose (commas, one line), never as aligned columns (the page check)."""
    logits = np.arange(10.0)

    def wrong(values: np.ndarray) -> float:
        return float(values.sum())

    message = verdict(capsys, wrong, lambda values: float(values.max()), inputs=[(logits,)])
    assert message.startswith("Not yet: wrong([0., 1., 2., ..., 7., 8., 9.]) returned 45, expected 9.")
    assert "\n" not in message
