"""Every chapter has the course shape, and every exercise a check cell with one placeholder and a
solution with code. That the solutions pass their check cells is checked in the chapter's own
kernel by the JupyterLab test, which runs every chapter anyway (``solved_check_cells``)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import toc_notebooks

PLACEHOLDER_ANSWER = re.compile(r"^answer = .*$", re.MULTILINE)
PLACEHOLDER_FUNCTION = re.compile(r"^def \w+\(.*\):\n    \.\.\.  # your code$", re.MULTILINE)
SOLUTION_CODE = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


def markdown(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda path: path.stem)
def test_the_chapter_has_objectives_summary_and_exercises_with_solutions(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    opening = notebook.cells[0].source
    assert re.match(r"# .+\n\n:::\{admonition\} Learning objectives\n", opening), "objectives right after the title"
    assert re.search(r"^Time: about \d+ minutes", opening, re.MULTILINE), "a time estimate in the objectives"
    text = "\n".join(markdown(notebook))
    assert "\n## Summary\n" in "\n" + text and "\n## Exercises\n" in "\n" + text
    numbers = [int(number) for number in re.findall(r"^\*\*(\d+)\. ", text, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3, f"exercises numbered {numbers}"
    assert re.search(rf"^\*\*{numbers[-1]}\. Open question\.\*\*", text, re.MULTILINE), "the last exercise is open"
    assert text.count(":::{dropdown} Solution\n") == len(numbers), "one folded solution per exercise"


# How-to pages have the chapter shape, but their exercises are run at a terminal (chapter 9
# runs `lossacc diagnose`): no answer to check in the page.
HOW_TO_PAGES = {"09_diagnose_your_own_run"}


def solved_check_cells(path: Path) -> list[str]:
    """The chapter's check cells, in order, each with the code of its solution in place of the
    student's ``...``: what a student who followed the solutions would run.

    The check cells come after all the chapter's other code, so running these in the kernel of
    the chapter, once it has run to the end, is running them in their place. The JupyterLab test
    (tests/test_jupyterlab.py) does that and requires every verdict to be "Correct": the chapter
    runs once for both checks.
    """
    notebook = nbformat.read(path, as_version=4)
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    checks = [i for i in code if "\ncheck(" in "\n" + notebook.cells[i].source]
    assert checks, f"{path.name}: no check cell"
    assert code[-len(checks):] == checks, f"{path.name}: code cells other than check cells come after the first exercise"
    solved = []
    for i in checks:
        solution = next(cell.source for cell in notebook.cells[i + 1:] if ":::{dropdown} Solution" in cell.source)
        match = SOLUTION_CODE.search(solution)
        assert match is not None, f"{path.name}, cell {i}: the solution shows no code"
        placeholder = PLACEHOLDER_FUNCTION if PLACEHOLDER_FUNCTION.search(notebook.cells[i].source) else PLACEHOLDER_ANSWER
        def solution(_: re.Match[str], text: str = match.group(1)) -> str:  # the code as it is, backslashes too
            return text

        source, count = placeholder.subn(solution, notebook.cells[i].source)
        assert count == 1, f"{path.name}, cell {i}: no single placeholder to replace"
        solved.append(source)
    return solved


@pytest.mark.parametrize("path", [path for path in toc_notebooks() if path.stem not in HOW_TO_PAGES], ids=lambda path: path.stem)
def test_each_check_cell_has_one_placeholder_and_a_solution_with_code(path: Path) -> None:
    """The solutions run, in the chapter's kernel, in tests/test_jupyterlab.py."""
    assert solved_check_cells(path)
