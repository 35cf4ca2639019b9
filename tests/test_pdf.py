"""The book as one PDF: it opens, it has every chapter under its title, and the figures are in it."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
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


class SiteFigures(HTMLParser):
    """The figures of a built page as print shows them: the alt text of each figure's light
    rendering (the dark one, ``only-dark``, is not printed), and the figures' numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []
        self.numbers: list[str] = []
        self.depth = 0  # inside how many <figure> elements
        self.in_number = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "figure":
            self.depth += 1
        elif tag == "img" and self.depth and "only-dark" not in classes:
            self.alts.append(attributes.get("alt") or "")
        elif tag == "span" and "caption-number" in classes:
            self.in_number = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.depth -= 1
        elif tag == "span":
            self.in_number = False

    def handle_data(self, data: str) -> None:
        if self.in_number and data.strip():
            self.numbers.append(words(data))


def test_the_pdf_has_every_chapter_with_its_figures(built_site: Path, tmp_path: Path) -> None:
    output = tmp_path / "book.pdf"
    # build_pdf starts its own Playwright (and prints as scripts/build_pdf.sh does); the session's
    # browser (conftest) keeps this thread's Playwright, so it runs in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as thread:
        printed = thread.submit(load_build_pdf().build_pdf, built_site, output).result()
    reader = PdfReader(output)
    assert reader.metadata is not None and reader.metadata.title == printed[0].title
    chapters = [chapter_title(notebook) for notebook in toc_notebooks()]
    bookmarks = [entry for entry in reader.outline if isinstance(entry, Destination)]  # one per page, no nesting
    # The chapters are numbered in the table of contents, so their headings and bookmarks read "7. Title".
    numbered = [re.fullmatch(r"(\d+)\. (.+)", entry.title or "") for entry in bookmarks]
    assert [int(m.group(1)) for m in numbered if m] == list(range(1, len(chapters) + 1))
    outline = {m.group(2) if m else entry.title: page_of(reader, entry) for m, entry in zip(numbered, bookmarks)}
    figures_printed = {m.group(2) if m else page.title: Counter(page.figures) for m, page in zip(numbered, printed, strict=True)}
    assert set(chapters) <= set(outline), f"bookmarks {list(outline)} lack a chapter"
    starts = sorted(outline.values()) + [len(reader.pages)]
    figures_in_book = 0
    for notebook, title in zip(toc_notebooks(), chapters):
        first = outline[title]
        last = starts[starts.index(first) + 1]
        text = words(" ".join(reader.pages[i].extract_text() for i in range(first, last)))
        assert words(title) in text, f"{title!r} is not printed on its pages"
        site = SiteFigures()
        site.feed((built_site / "chapters" / f"{notebook.stem}.html").read_text())
        # Each figure of the site is drawn in the PDF: Chromium tags each image it prints with
        # its alt text (an SVG is drawn as paths, so counting the PDF's images would miss it).
        missing = Counter(site.alts) - figures_printed[title]
        assert not missing, f"{title}: {sum(missing.values())} of its {len(site.alts)} figures are not in the PDF: {list(missing)}"
        assert all(number in text for number in site.numbers), f"{title}: a figure number of {site.numbers} is not printed"
        figures_in_book += len(site.alts)
    assert figures_in_book > 20, f"only {figures_in_book} figures found on the site: are they still <img> in <figure>?"
