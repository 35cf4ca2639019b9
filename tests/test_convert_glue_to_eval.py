"""scripts/convert_glue_to_eval.py rewrites glue into {eval} roles, once, and refuses what it cannot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "convert_glue_to_eval.py"
PROSE_IMPORT = "from lossacc.notebook import prose  # noqa: F401 (the prose's {eval} roles call it)\n"


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        for kind, source in cells
    ])
    nbformat.write(notebook, path)
    return path


def convert(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)], check=False, capture_output=True, text=True, timeout=60)


def sources(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells]


def test_roles_and_helper_calls_are_rewritten(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "chapter.ipynb", [
        ("code", "import numpy as np\nfrom lossacc.notebook import glue_numbers, glue_words, markdown_table"),
        ("code", "glue_numbers(loss=0.5, **{f'acc_{k}': k / 4 for k in (1, 2)})\nglue_words(device='cpu')"),
        ("markdown", ("Loss {glue:text}`loss:.3f`, accuracy {glue:text}`acc_1:.1%` and {glue}`acc_2`\n"
                      "on {glue:text}`device`; {glue:}`loss` ({glue:text}`loss:+.4f`, {glue:text}`loss:,.0f`).")),
    ])
    result = convert(notebook)
    assert result.returncode == 0, result.stderr
    assert sources(notebook) == [
        PROSE_IMPORT + "import numpy as np\nfrom lossacc.notebook import prose_numbers, prose_words, markdown_table",
        "prose_numbers(loss=0.5, **{f'acc_{k}': k / 4 for k in (1, 2)})\nprose_words(device='cpu')",
        ('Loss {eval}`prose(loss, ".3f")`, accuracy {eval}`prose(acc_1, ".1%")` and {eval}`acc_2`\n'
         'on {eval}`device`; {eval}`loss` ({eval}`prose(loss, "+.4f")`, {eval}`prose(loss, ",.0f")`).'),
    ]


def test_glue_calls_become_names_and_figures_become_figure_cells(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "chapter.ipynb", [
        ("code", ("from myst_nb import glue\nimport matplotlib.pyplot as plt\n\nfig, ax = plt.subplots()\n"
                  "glue('loss_curve', fig,\n     display=False)\nglue(\"share\", 0.25, display=False)")),
        ("markdown", ("A share of {glue:text}`share:.0%`.\n\n```{glue:figure} loss_curve\n:name: fig-loss\n"
                      ":alt: A falling line.\n\nThe loss *falls* by {glue:text}`share:.0%`.\n```\n\nAs {numref}`fig-loss` shows.")),
    ])
    assert convert(notebook).returncode == 0
    cells = nbformat.read(notebook, as_version=4).cells
    assert [cell.source for cell in cells] == [
        (PROSE_IMPORT + "import matplotlib.pyplot as plt\n\nfig, ax = plt.subplots()\n"
         "loss_curve = fig\nshare = 0.25"),
        'A share of {eval}`prose(share, ".0%")`.',
        "loss_curve",
        "As {numref}`fig-loss` shows.",
    ]
    assert cells[2].metadata == {"tags": ["remove-input"], "mystnb": {
        "figure": {"caption": 'The loss *falls* by {eval}`prose(share, ".0%")`.', "name": "fig-loss"}, "image": {"alt": "A falling line."}}}
    assert len({cell.id for cell in cells}) == 4


def test_markdown_sentences_and_pasted_tables_are_rewritten(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "chapter.ipynb", [
        ("code", ("from myst_nb import glue\nfrom lossacc.notebook import glue_sentences, markdown_table\n"
                  "glue('run_table', markdown_table(['a'], [[1]]), display=False)\nglue_sentences(verdict='It *rises*.')")),
        ("markdown", "The run: {glue:md}`verdict`\n\n```{glue:md} run_table\n:format: myst\n```\n\nAfter."),
        ("markdown", ":::{glue} verdict\n:::"),
    ])
    result = convert(notebook)
    assert result.returncode == 0, result.stderr
    cells = nbformat.read(notebook, as_version=4).cells
    assert [cell.source for cell in cells] == [
        ("from lossacc.notebook import prose_markdown, markdown_table\n"
         "run_table = markdown_table(['a'], [[1]])\nprose_markdown(verdict='It *rises*.')"),
        "The run: {eval}`verdict`", "run_table", "After.", "verdict",
    ]
    assert cells[2].metadata == {"tags": ["remove-input"], "mystnb": {"render_markdown_format": "myst"}}
    assert cells[4].metadata == {"tags": ["remove-input"]}


def test_a_converted_notebook_is_left_as_it_is(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "chapter.ipynb", [
        ("code", "from lossacc.notebook import glue_numbers\nglue_numbers(loss=0.5)"),
        ("markdown", "Loss {glue:text}`loss:.3f`."),
    ])
    assert convert(notebook).returncode == 0
    once = notebook.read_bytes()
    again = convert(notebook)
    assert again.returncode == 0 and again.stdout.startswith("unchanged")
    assert notebook.read_bytes() == once


@pytest.mark.parametrize(("cells", "message"), [
    ([("markdown", "Loss {glue:text}`loss:.3f`."), ("code", "from lossacc.notebook import glue_numbers\nglue_numbers(loss=0.5)")],
     "cell 0: the prose shows `loss` before the cell that defines it"),
    ([("code", "from myst_nb import glue\nglue('loss', 0.5)"), ("markdown", "{glue:text}`loss:.3f`")],
     "cell 0, line 2: convert this glue(...) call by hand"),
    ([("code", "x = 1"), ("markdown", "{glue:math}`x`")], "cell 1: convert {glue:math} by hand"),
    ([("code", "x = 1"), ("markdown", ":::{dropdown} Plot\n```{glue:figure} x\nCaption.\n```\n:::")],
     "cell 1: a {glue:figure} directive inside another block; convert it by hand"),
    ([("code", "x = 1"), ("markdown", ":::{note}\n```{glue:md} x\n```\n:::")],
     "cell 1: a {glue:md} directive inside another block; convert it by hand"),
    ([("code", "x = 1"), ("markdown", "```{glue:md} x\n:class: wide\n```")],
     "cell 1: the glue option :class: has no cell-metadata form; convert it by hand"),
    ([("code", "x = 1"), ("markdown", "```{glue:figure} x\n:scale: 50\n\nCaption.\n```")],
     "cell 1: the figure option :scale: has no cell-metadata form; convert it by hand"),
])
def test_what_cannot_be_converted_is_named_and_nothing_is_written(tmp_path: Path, cells: list, message: str) -> None:
    fine = write_notebook(tmp_path / "a_fine.ipynb", [("code", "x = 1"), ("markdown", "{glue}`x`")])
    broken = write_notebook(tmp_path / "b_broken.ipynb", cells)
    before = fine.read_bytes(), broken.read_bytes()
    result = convert(fine, broken)
    assert result.returncode == 1
    assert f"error: b_broken.ipynb, {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert (fine.read_bytes(), broken.read_bytes()) == before


def test_a_missing_notebook_is_one_line(tmp_path: Path) -> None:
    result = convert(tmp_path / "nowhere.ipynb")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: no such notebook: {tmp_path / 'nowhere.ipynb'}"


def test_the_chapters_are_converted() -> None:
    """After merging chapters written with glue, run: python scripts/convert_glue_to_eval.py"""
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        text = notebook.read_text()
        assert not re.search(r"\{glue|\bglue(_numbers|_words|_sentences)?\(|myst_nb import glue", text), (
            f"{notebook.name} still uses glue: run python scripts/convert_glue_to_eval.py")
