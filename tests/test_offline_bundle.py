"""Notebooks that run anywhere: the site's downloads find the library, and the whole-book zip runs offline."""

from __future__ import annotations

import json
import sys
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import ROOT, toc_notebooks

sys.path.insert(0, str(ROOT / "_ext"))
from offline_bundle import (
    BUNDLE_FILE,
    BUNDLE_NAME,
    FIRST_CELL_TAG,
    LIBRARY_MISSING,
    bundle_files,
    launch_buttons_need_a_repository,
    with_first_cell,
)


def execute(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def test_without_the_library_the_first_cell_says_in_one_line_what_to_do(tmp_path: Path) -> None:
    hide_library = nbformat.v4.new_code_cell('import sys\nsys.modules["lossacc"] = None  # as if it were not installed')
    notebook = nbformat.from_dict(with_first_cell(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran on')")])))
    notebook.cells.insert(0, hide_library)
    with pytest.raises(CellExecutionError) as stopped:  # as "Run all" does, execution stops at the error
        execute(notebook, tmp_path)
    assert stopped.value.ename == "LibraryMissing"
    errors = [output for cell in notebook.cells for output in cell.outputs if output.output_type == "error"]
    assert [error.traceback for error in errors] == [[LIBRARY_MISSING]], "one line, no traceback"
    assert not notebook.cells[2].outputs, "the cells after it must not run"


def test_the_first_cell_is_added_once(tmp_path: Path) -> None:
    notebook = json.loads((ROOT / "chapters" / "01_the_puzzle.ipynb").read_text())
    twice = with_first_cell(with_first_cell(notebook))
    assert [cell.get("metadata", {}).get("tags", []) for cell in twice["cells"]].count([FIRST_CELL_TAG]) == 1
    assert twice["cells"][1:] == notebook["cells"]
    nbformat.validate(nbformat.from_dict(twice))


def test_the_bundle_leaves_out_environments_caches_and_builds(tmp_path: Path) -> None:
    for name in ["README.md", "code/lossacc/__init__.py", ".venv/bin/python", "_build/html/index.html",
                 "code/lossacc/__pycache__/metrics.cpython-311.pyc", "lossacc.egg-info/PKG-INFO", ".git/HEAD", "runs/a/x.pt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [path.relative_to(tmp_path).as_posix() for path in bundle_files(tmp_path)] == ["README.md", "code/lossacc/__init__.py"]


@pytest.mark.parametrize(("url", "launch_buttons_kept"), [("", False), ("https://github.com/owner/book", True)])
def test_launch_buttons_need_the_repository_setting(url: str, launch_buttons_kept: bool) -> None:
    options = {"repository_url": url, "launch_buttons": {"binderhub_url": "https://mybinder.org"}}
    launch_buttons_need_a_repository(None, SimpleNamespace(html_theme_options=options))  # type: ignore[arg-type]
    assert ("launch_buttons" in options) == launch_buttons_kept


@pytest.mark.slow
def test_each_chapter_page_offers_its_notebook_with_the_first_cell(built_site: Path) -> None:
    for notebook in toc_notebooks():
        page = (built_site / "chapters" / f"{notebook.stem}.html").read_text()
        assert f'href="../_sources/chapters/{notebook.name}"' in page, f"{notebook.name}: no download button"
        assert f'href="../{BUNDLE_FILE}"' in page, f"{notebook.name}: the download menu lacks the whole book"
        offered = json.loads((built_site / "_sources" / "chapters" / notebook.name).read_text())
        assert offered["cells"][0]["metadata"]["tags"] == [FIRST_CELL_TAG]
        assert offered["cells"][1:] == json.loads(notebook.read_text())["cells"]
    assert f'href="{BUNDLE_FILE}" download' in (built_site / "intro.html").read_text(), "the front page links the whole book"
    assert "mybinder.org" not in (built_site / "chapters" / "01_the_puzzle.html").read_text(), "launch buttons are off by default"


@pytest.mark.slow
def test_the_whole_book_downloads_from_the_site_and_a_chapter_runs_from_it(site_url: str, tmp_path: Path) -> None:
    with urllib.request.urlopen(site_url + BUNDLE_FILE) as response:
        (tmp_path / BUNDLE_FILE).write_bytes(response.read())
    with zipfile.ZipFile(tmp_path / BUNDLE_FILE) as archive:
        archive.extractall(tmp_path / "unpacked")
    book = tmp_path / "unpacked" / BUNDLE_NAME
    for name in ["README.md", "LICENSE", "requirements.txt", "pyproject.toml", "scripts/build_book.sh", "scripts/run_tests.sh",
                 "scripts/setup.sh", "code/lossacc/__init__.py", "_config.yml", "_toc.yml"]:
        assert (book / name).is_file(), f"the download lacks {name}"
    for notebook in toc_notebooks():
        assert (book / "chapters" / notebook.name).is_file()
    assert not (book / ".venv").exists() and not (book / "_build").exists()

    chapter = nbformat.read(book / "chapters" / "01_the_puzzle.ipynb", as_version=4)
    assert chapter.cells[0].metadata.tags == [FIRST_CELL_TAG]
    chapter.cells.append(nbformat.v4.new_code_cell("import lossacc\nprint(lossacc.__file__)"))
    execute(chapter, book / "chapters")
    library = Path(chapter.cells[-1].outputs[0].text.strip())
    assert library.is_relative_to(book / "code"), f"the chapter used {library}, not the download's library"
