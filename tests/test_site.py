"""The built site: every chapter is there, and nothing is fetched from another host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import toc_notebooks
from web_assets import EMBEDDER, PACKAGES

pytestmark = pytest.mark.slow

EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")


class ResourceCollector(HTMLParser):
    """Collects every URL a page would load by itself: scripts, styles, fonts, images, frames."""

    LOADED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
              ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and not {"stylesheet", "preload", "icon", "modulepreload", "manifest"} & set((values.get("rel") or "").split()):
            return  # a plain hyperlink, e.g. rel="next", is not loaded
        for name, value in attrs:
            if (tag, name) in self.LOADED and value:
                self.urls.append(value)
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls.extend(CSS_URL.findall(data))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def test_every_chapter_is_built_with_its_outputs(built_site: Path) -> None:
    for notebook in toc_notebooks():
        page = built_site / notebook.parent.name / f"{notebook.stem}.html"
        assert page.is_file(), f"{page} missing"
        assert "cell_output" in page.read_text(), f"{page.name} has no executed output"


def test_no_page_or_style_sheet_loads_anything_from_another_host(built_site: Path) -> None:
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) >= 3
    external: list[str] = []
    for page in pages:
        collector = ResourceCollector()
        collector.feed(page.read_text(errors="replace"))
        external += [f"{page.relative_to(built_site)}: {url}" for url in collector.urls if EXTERNAL.match(url)]
    for sheet in sorted(built_site.rglob("*.css")):
        urls = CSS_URL.findall(sheet.read_text(errors="replace"))
        external += [f"{sheet.relative_to(built_site)}: {url}" for url in urls if EXTERNAL.match(url)]
    assert not external, "\n".join(external)


def test_widget_pages_load_the_vendored_embedder(built_site: Path) -> None:
    page = (built_site / "chapters" / "02_same_accuracy_different_loss.html").read_text()
    assert "application/vnd.jupyter.widget-state+json" in page
    assert f'src="../_static/../{EMBEDDER.folder}/dist/embed-amd.js' in page
    for package in PACKAGES:
        for file in package.files:
            assert (built_site / package.folder / file).is_file(), f"{package.folder}/{file} is not in the site"
    assert (built_site / "_static/mathjax/tex-chtml.js").is_file()
