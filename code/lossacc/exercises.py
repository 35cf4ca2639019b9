"""Check cells for the chapters' exercises: compare a student's answer with the expected one.

``check`` takes a number (or an array) and compares it with the expected value within an
absolute tolerance, ``|answer - expected| <= tolerance`` elementwise. It also takes a function:
then ``expected`` is the reference function, and both are called on each of ``inputs``.
It prints one helpful line and returns nothing, so a check cell shows only that line. A student's answer left
as ``...`` (the placeholder in the notebooks, also inside a list) asks for an answer instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PLACEHOLDER_MESSAGE = "Replace the ... with your answer, then run this cell again."


def _as_numbers(value: object) -> np.ndarray | None:
    """``value`` as a float array, or None when it is not numeric (a string, None, a dict...)."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _show(value: object) -> str:
    array = _as_numbers(value)
    if array is None:
        return repr(value)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    # One line of prose, not aligned columns: commas, and the middle of a long array left out.
    return np.array2string(array, precision=6, separator=", ", threshold=6, edgeitems=3, max_line_width=10**6)


def _compare(answer: object, expected: object, tolerance: float) -> str | None:
    """None when ``answer`` matches ``expected`` within ``tolerance``; otherwise what is wrong."""
    wanted = _as_numbers(expected)
    if wanted is None:
        raise TypeError(f"expected must be a number, an array or a function, got {type(expected).__name__}")
    given = _as_numbers(answer)
    if given is None:
        return f"expected a number, got {_show(answer)}"
    if given.shape != wanted.shape:
        return f"expected shape {wanted.shape}, got shape {given.shape}"
    if not np.all(np.isfinite(given)):
        return f"{_show(answer)} is not a finite number"
    gap = given - wanted
    if np.all(np.abs(gap) <= tolerance):
        return None
    if wanted.ndim == 0:
        return f"{_show(answer)} is too {'high' if gap > 0 else 'low'}"
    wrong = int(np.sum(np.abs(gap) > tolerance))
    return f"{wrong} of {gap.size} values are off by more than {tolerance:g}"


def _check_function(answer: Callable[..., Any], expected: Callable[..., Any], inputs: Sequence[Any], tolerance: float) -> str | None:
    if not inputs:
        raise ValueError("a function is checked on inputs: pass at least one in inputs=[...]")
    name = getattr(answer, "__name__", "your function")
    for arguments in inputs:
        arguments = arguments if isinstance(arguments, tuple) else (arguments,)
        call = f"{name}({', '.join(_show(argument) for argument in arguments)})"
        try:
            given = answer(*arguments)
        except Exception as error:  # noqa: BLE001 (the student's code: report any failure in one line)
            return f"{call} raised {type(error).__name__}: {error}"
        if given is None or given is Ellipsis:
            return f"{call} returned {given!r}: finish the function and return the result"
        wanted = expected(*arguments)
        problem = _compare(given, wanted, tolerance)
        if problem is not None:
            return f"{call} returned {_show(given)}, expected {_show(wanted)}"
    return None


def _is_placeholder(answer: object) -> bool:
    """True for ``...`` and for a list or tuple still holding a ``...``."""
    return answer is Ellipsis or (isinstance(answer, (list, tuple)) and any(item is Ellipsis for item in answer))


def check(answer: object, expected: object, tolerance: float = 1e-3, hint: str = "", inputs: Sequence[Any] = ()) -> None:
    """Print whether ``answer`` matches ``expected``: "Correct: ..." or "Not yet: ...".

    Numbers and arrays pass when ``|answer - expected| <= tolerance`` everywhere. When
    ``expected`` is a function, ``answer`` must be a function too, and both are called on each
    element of ``inputs`` (a tuple is unpacked into several arguments). ``hint`` is printed
    after a wrong answer.
    """
    if _is_placeholder(answer):
        print(PLACEHOLDER_MESSAGE)
        return
    if callable(expected):
        if not callable(answer):
            problem: str | None = f"expected a function, got {_show(answer)}"
        else:
            problem = _check_function(answer, expected, inputs, tolerance)
    else:
        problem = _compare(answer, expected, tolerance)
    if problem is None:
        print(f"Correct: {_show(answer) if not callable(answer) else 'your function agrees on every input'}.")
    else:
        print(f"Not yet: {problem}." + (f" Hint: {hint}" if hint else ""))
