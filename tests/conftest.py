"""Shared fixtures, each made once per test run (session scope) and reused by every module.

What a new test should use:

- ``book_build``: the whole book built once, from scratch, in a folder of its own; its
  ``executed(notebook)`` is the notebook as the build executed it (fails with the cell's
  traceback if it did not run through). Reading it costs nothing: never execute a chapter
  again to look at its outputs.
- ``built_site``: the html folder of that build, asserted to have succeeded. For checks on
  the pages' HTML (read the files: no browser needed).
- ``site_url``: that site served on 127.0.0.1, for a browser or ``urllib``.
- ``browser``: one headless Chromium for the whole run. Open a context per test
  (``browser.new_context(viewport=..., color_scheme=...)``) and close it; do not launch another.
- ``toc_notebooks()``: the chapters in reading order, for ``parametrize``.

A test that needs one of them is slow-tier (``@pytest.mark.slow``): the fast tier
(``-m "not slow"``) builds nothing and starts no browser.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))  # the Sphinx extensions, which some tests import


def toc_notebooks() -> list[Path]:
    """Every notebook the table of contents lists, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [*toc.get("chapters", []), *(c for part in toc.get("parts", []) for c in part["chapters"])]
    files = [entry["file"] for entry in entries]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def write_book_config(path: Path, sphinx_config: dict[str, Any] | None = None) -> Path:
    """Write a copy of the book's _config.yml at ``path``, its relative paths made absolute and
    ``sphinx_config`` merged into its Sphinx settings."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["local_extensions"] = {name: str(ROOT / where) for name, where in config["sphinx"]["local_extensions"].items()}
    config["bibtex_bibfiles"] = [str(ROOT / bib) for bib in config.get("bibtex_bibfiles", [])]
    config["sphinx"]["config"].update(sphinx_config or {})
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass(frozen=True)
class BookBuild:
    """One build of the whole book: its site, the notebooks it executed and how it ended."""

    html: Path
    jupyter_execute: Path  # MyST-NB writes each notebook there as its page executed it
    returncode: int
    log: str
    root: Path = ROOT  # the book that was built

    def executed(self, notebook: Path) -> nbformat.NotebookNode:
        """``notebook`` as this build executed it; fails the test, with the cell's traceback,
        if it did not run through."""
        page = notebook.relative_to(self.root).with_suffix("")
        report = self.html / "reports" / f"{page}.err.log"  # MyST-NB's traceback of a failed execution
        if report.is_file():
            pytest.fail(f"{notebook.name} did not execute to the end:\n{report.read_text()}")
        executed = self.jupyter_execute / f"{page}.ipynb"
        if not executed.is_file():
            pytest.fail(f"{notebook.name}: the build never executed it:\n{self.log[-3000:]}")
        return nbformat.read(executed, as_version=4)


@pytest.fixture(scope="session")
def book_build(tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """Build the whole book once per test run, from scratch, in a folder of its own.

    This build's execution of the notebooks is the notebook test's too (tests/test_notebooks.py):
    they run once. A failing notebook does not stop the build here, so that each is executed
    and reported on its own; the build still fails (warnings are errors).
    """
    out = tmp_path_factory.mktemp("book")
    config_path = write_book_config(out / "_config.yml", sphinx_config={"nb_execution_raise_on_error": False})
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--config", str(config_path), "--path-output", str(out),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=1800,
    )
    return BookBuild(out / "_build" / "html", out / "_build" / "jupyter_execute", result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="session")
def built_site(book_build: BookBuild) -> Path:
    """The html folder of a build that succeeded."""
    assert book_build.returncode == 0, f"book build failed:\n{book_build.log[-8000:]}"
    return book_build.html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """Serve the built site on 127.0.0.1 for the browser tests."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


# The browser tests drive Debian's chromium (never a downloaded browser build).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, started once per test run and shared by every browser test.

    Scrollbars are shown (Playwright hides them by default), so that a table's scrollbar takes
    the room the layout checks can see. Each test opens its own ``browser.new_context(...)``
    (viewport, colour scheme, routes) and closes it: no page state crosses tests.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             ignore_default_args=["--hide-scrollbars"])
        yield browser
        browser.close()
