"""Sphinx extension: notebooks that run anywhere, and the whole book as one download.

When the HTML build finishes:

- every notebook the site offers for download (``_sources/**/*.ipynb``, behind each page's
  download button) gets a first cell that finds the book's library, ``lossacc``: in the
  unpacked download (``../code`` next to ``chapters/``) or installed, and otherwise says in
  one line what to do;
- ``lossacc-book.zip`` is written at the site root, and every page's download menu offers it: the book's source (notebooks with that
  same first cell, the library, requirements, scripts, tests, records), so that the README's
  two commands work in the unpacked folder without a network connection to this site.

Launch buttons (Binder, Colab) appear only when ``repository.url`` in ``_config.yml`` names
the public repository; without it the theme would fail on the empty URL, so they are removed.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

BUNDLE_NAME = "lossacc-book"
BUNDLE_FILE = f"{BUNDLE_NAME}.zip"
# Never shipped: version control, environments, caches, build outputs, local data and runs.
SKIPPED_NAMES = {".git", ".venv", "_build", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache",
                 ".mypy_cache", ".jupyter_cache", "node_modules", "data", "runs", ".ci"}
SKIPPED_SUFFIXES = (".egg-info", ".pyc")
# Zip entries get a fixed time, so the same source gives the same archive.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)

LIBRARY_MISSING = (
    "This notebook needs the book's library, lossacc: download the whole book (lossacc-book.zip, "
    "linked on the book's front page), unzip it, and open this notebook from its chapters/ folder."
)
FIRST_CELL_SOURCE = f'''\
# Find the book's library, lossacc: in the unpacked book download (../code) or installed.
import sys
from pathlib import Path

if (Path("..") / "code" / "lossacc").is_dir():
    sys.path.insert(0, str((Path("..") / "code").resolve()))
try:
    import lossacc  # noqa: F401
except ImportError:
    class LibraryMissing(Exception):
        def _render_traceback_(self):  # Jupyter shows this one line instead of a traceback
            return [str(self)]
    raise LibraryMissing({LIBRARY_MISSING!r}) from None
'''
FIRST_CELL_TAG = "find-the-library"


def with_first_cell(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with the library-finding cell first (replacing an earlier copy of it)."""
    cells = [cell for cell in notebook["cells"] if FIRST_CELL_TAG not in cell.get("metadata", {}).get("tags", [])]
    first: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {"tags": [FIRST_CELL_TAG]}, "outputs": [],
             "source": FIRST_CELL_SOURCE.rstrip("\n")}
    if (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5):
        first["id"] = FIRST_CELL_TAG  # cell ids exist from nbformat 4.5 on
    return {**notebook, "cells": [first, *cells]}


def notebook_text(path: Path) -> str:
    return json.dumps(with_first_cell(json.loads(path.read_text(encoding="utf-8"))), indent=1, ensure_ascii=False) + "\n"


def bundle_files(root: Path) -> Iterator[Path]:
    """Every file of the book's source under ``root``, skipping SKIPPED_NAMES and build leftovers."""
    for path in sorted(root.iterdir()):
        if path.name in SKIPPED_NAMES or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        if path.is_dir():
            yield from bundle_files(path)
        elif path.is_file():
            yield path


def write_bundle(source: Path, target: Path) -> None:
    """Zip the book's source into ``target``, under one folder, notebooks with the first cell."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in bundle_files(source):
            relative = path.relative_to(source)
            entry = zipfile.ZipInfo(f"{BUNDLE_NAME}/{relative.as_posix()}", date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (0o755 if path.suffix == ".sh" else 0o644) << 16
            data = notebook_text(path).encode() if path.suffix == ".ipynb" else path.read_bytes()
            archive.writestr(entry, data)


def add_downloads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir, srcdir = Path(app.outdir), Path(app.srcdir)
    for copied in (outdir / "_sources").rglob("*.ipynb"):
        copied.write_text(notebook_text(copied), encoding="utf-8")
    write_bundle(srcdir, outdir / BUNDLE_FILE)


def offer_the_whole_book(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Add the whole-book zip to the theme's download menu, beside the page's own source."""
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].append({"type": "link", "url": context["pathto"](BUNDLE_FILE, 1), "text": ".zip (whole book)",
                                      "tooltip": "Download the whole book to run offline", "icon": "fas fa-file-zipper",
                                      "label": "download-book-button"})


def launch_buttons_need_a_repository(app: Sphinx, config: Config) -> None:
    theme_options = config.html_theme_options
    if not theme_options.get("repository_url"):
        theme_options.pop("launch_buttons", None)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", launch_buttons_need_a_repository)
    app.connect("html-page-context", offer_the_whole_book, priority=502)  # after the theme builds its menu (501)
    app.connect("build-finished", add_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
