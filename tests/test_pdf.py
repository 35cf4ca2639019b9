"""The book as one PDF: it opens, it has every chapter under its title, and the figures are in it."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader
from pypdf.generic import Destination

from conftest import ROOT, toc_notebooks

pytestmark = pytest.mark.slow


def load_build_pdf():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_pdf", ROOT / "scripts" / "build_pdf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chapter_title(notebook: Path) -> str:
    first = nbformat.read(notebook, as_version=4).cells[0].source
    return re.match(r"# (.+)", first).group(1).strip()  # type: ignore[union-attr]


def words(text: str) -> str:
    """Text with its whitespace collapsed and its ligatures (the printed "ﬀ") spelled out."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def page_of(reader: PdfReader, bookmark: Destination) -> int:
    """The page number a bookmark points to."""
    number = reader.get_destination_page_number(bookmark)
    assert number is not None, f"the bookmark {bookmark.title!r} points to no page"
    return number


def test_the_pdf_has_every_chapter_with_its_figures(built_site: Path, tmp_path: Path) -> None:
    output = tmp_path / "book.pdf"
    # build_pdf starts its own Playwright (and prints as scripts/build_pdf.sh does); the session's
    # browser (conftest) keeps this thread's Playwright, so it runs in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as thread:
        titles = thread.submit(load_build_pdf().build_pdf, built_site, output).result()
    reader = PdfReader(output)
    assert reader.metadata is not None and reader.metadata.title == titles[0]

    chapters = [chapter_title(notebook) for notebook in toc_notebooks()]
    bookmarks = [entry for entry in reader.outline if isinstance(entry, Destination)]  # one per page, no nesting
    # The chapters are numbered in the table of contents, so their headings and bookmarks read "7. Title".
    numbered = [re.fullmatch(r"(\d+)\. (.+)", entry.title or "") for entry in bookmarks]
    assert [int(m.group(1)) for m in numbered if m] == list(range(1, len(chapters) + 1))
    outline = {m.group(2) if m else entry.title: page_of(reader, entry) for m, entry in zip(numbered, bookmarks)}
    assert set(chapters) <= set(outline), f"bookmarks {list(outline)} lack a chapter"
    starts = sorted(outline.values()) + [len(reader.pages)]
    for notebook, title in zip(toc_notebooks(), chapters):
        first = outline[title]
        last = starts[starts.index(first) + 1]
        text = words(" ".join(reader.pages[i].extract_text() for i in range(first, last)))
        assert words(title) in text, f"{title!r} is not printed on its pages"
        figures = (built_site / "chapters" / f"{notebook.stem}.html").read_text().count('<img src="../_images/')
        printed = sum(len(reader.pages[i].images) for i in range(first, last))
        assert printed >= figures, f"{title}: {figures} figures on the site, {printed} images in the PDF"
