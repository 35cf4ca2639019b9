"""The book's build configuration fails loudly: a cell error or a Sphinx warning stops the build."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, write_book_config

pytestmark = pytest.mark.slow


def build_tiny_book(tmp_path: Path, notebook_cells: list[nbformat.NotebookNode]) -> subprocess.CompletedProcess[str]:
    """Build a one-chapter book with the book's own _config.yml and extension."""
    book = tmp_path / "book"
    book.mkdir()
    (book / "assets").symlink_to(ROOT / "assets")
    (book / "intro.md").write_text("# Tiny\n\n{doc}`chapter`\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Chapter"), *notebook_cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, book / "chapter.ipynb")
    write_book_config(book / "_config.yml")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(book), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )


def test_a_cell_error_fails_the_build(tmp_path: Path) -> None:
    result = build_tiny_book(tmp_path, [nbformat.v4.new_code_cell("raise RuntimeError('broken cell')")])
    assert result.returncode != 0
    assert "broken cell" in result.stdout + result.stderr


@pytest.mark.parametrize("role", ["{eval}`never_defined`", '{eval}`prose(never_defined, ".3f")`', "{eval}`__import__('os')`"])
def test_a_missing_or_disallowed_value_fails_the_build(tmp_path: Path, role: str) -> None:
    result = build_tiny_book(tmp_path, [nbformat.v4.new_code_cell("from lossacc.notebook import prose"),
                                        nbformat.v4.new_markdown_cell(f"Value: {role}")])
    assert result.returncode != 0
    assert ("never_defined" if "never" in role else "not valid according to the configured pattern") in result.stdout + result.stderr


def test_prose_right_after_a_hidden_cell_shows_its_values(tmp_path: Path) -> None:
    hidden = nbformat.v4.new_code_cell("prose_numbers(share=0.25)\nprose_words(device='cpu')")
    hidden.metadata["tags"] = ["remove-cell"]
    result = build_tiny_book(tmp_path, [
        nbformat.v4.new_code_cell("from lossacc.notebook import prose, prose_numbers, prose_words"),
        hidden,
        nbformat.v4.new_markdown_cell('A share of {eval}`prose(share, ".1%")` on {eval}`device`.'),
    ])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "book" / "_build" / "html" / "chapter.html").read_text()
    assert re.search(r"A share of <span[^>]*>25\.0%</span> on <span[^>]*>cpu</span>\.", page), page[page.find("A share"):][:400]


def test_a_figure_cell_from_the_converter_is_a_numbered_figure(tmp_path: Path) -> None:
    """The figure cell scripts/convert_glue_to_eval.py writes for a glue:figure directive."""
    plot = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1])\n"
                                     "plt.close(fig)\nloss_curve = fig")
    plot.metadata["tags"] = ["remove-cell"]
    figure = nbformat.v4.new_code_cell("loss_curve", metadata={"tags": ["remove-input"], "mystnb": {
        "figure": {"caption": "The loss *rises*.", "name": "fig-loss"}, "image": {"alt": "A rising line."}}})
    result = build_tiny_book(tmp_path, [plot, figure, nbformat.v4.new_markdown_cell("As {numref}`fig-loss` shows.")])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "book" / "_build" / "html" / "chapter.html").read_text()
    assert re.search(r'<figure[^>]*id="fig-loss"[^>]*>\s*<img[^>]*alt="A rising line."', page), page[page.find("<figure"):][:600]
    assert "The loss <em>rises</em>." in page and re.search(r"As <a[^>]*#fig-loss[^>]*>.*Fig\. 1", page)


def test_a_clean_chapter_builds(tmp_path: Path) -> None:
    result = build_tiny_book(tmp_path, [nbformat.v4.new_code_cell("print(6 * 7)")])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
