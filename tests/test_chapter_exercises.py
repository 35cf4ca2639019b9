"""Every chapter has the course shape, and every solution the book shows passes its check cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

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


@pytest.mark.slow  # executes every chapter
@pytest.mark.parametrize("path", [path for path in toc_notebooks() if path.stem not in HOW_TO_PAGES], ids=lambda path: path.stem)
def test_the_shown_solutions_pass_the_check_cells(path: Path) -> None:
    """Put each solution's code in place of the student's ``...`` and run the chapter."""
    notebook = nbformat.read(path, as_version=4)
    checks = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "\ncheck(" in "\n" + cell.source]
    for i in checks:
        solution = next(cell.source for cell in notebook.cells[i + 1:] if ":::{dropdown} Solution" in cell.source)
        code = SOLUTION_CODE.search(solution)
        assert code is not None, f"{path.name}, cell {i}: the solution shows no code"
        placeholder = PLACEHOLDER_FUNCTION if PLACEHOLDER_FUNCTION.search(notebook.cells[i].source) else PLACEHOLDER_ANSWER
        def solution(_: re.Match[str], text: str = code.group(1)) -> str:  # the code as it is, backslashes too
            return text

        notebook.cells[i].source, count = placeholder.subn(solution, notebook.cells[i].source)
        assert count == 1, f"{path.name}, cell {i}: no single placeholder to replace"
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    verdicts = ["".join(output.get("text", "") for output in notebook.cells[i].outputs).strip() for i in checks]
    assert verdicts and all(verdict.startswith("Correct") for verdict in verdicts), verdicts
