"""The built site: every chapter shows what its notebook computed, and nothing is fetched
from another host."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from conftest import BookBuild, toc_notebooks
from lean_theme import EMPTY_ICON_SCRIPT, ICON_SCRIPT
from offline_math import COMPONENTS, LOADER, SERVED

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


@dataclass
class PageCell:
    """A code cell as a page shows it: whether it has an output area, its text, its images."""

    has_output: bool = False
    output_text: str = ""
    images: int = 0


class CellCollector(HTMLParser):
    """Collects the code cells of a MyST-NB page (``div.cell``) in order."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[PageCell] = []
        self._open: list[str] = []  # the role of each open div: "cell", "output" or ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div":
            role = "cell" if "cell" in classes else "output" if "cell_output" in classes and "cell" in self._open else ""
            if role == "cell":
                self.cells.append(PageCell())
            if role == "output":
                self.cells[-1].has_output = True
            self._open.append(role)
        elif tag == "img" and "output" in self._open:
            self.cells[-1].images += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if "output" in self._open:
            self.cells[-1].output_text += data


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def words(text: str) -> str:
    return " ".join(ANSI.sub("", text).split())


@dataclass
class ExpectedCell:
    """What a page must show of one code cell of the executed notebook."""

    index: int
    outputs: bool = False
    text: list[str] = field(default_factory=list)
    images: int = 0


def expected_cells(executed: nbformat.NotebookNode) -> list[ExpectedCell]:
    """The code cells a page shows, in order, with the outputs it must show for each (MyST-NB
    drops cells tagged ``remove-cell``, or both ``remove-input`` and ``remove-output``)."""
    expected = []
    for index, cell in enumerate(executed.cells):
        tags = {tag.replace("_", "-") for tag in cell.metadata.get("tags", [])}  # MyST-NB takes both spellings
        if cell.cell_type != "code" or not cell.source.strip() or "remove-cell" in tags or {"remove-input", "remove-output"} <= tags:
            continue
        want = ExpectedCell(index)
        if "remove-output" not in tags:
            for output in cell.outputs:
                if output.output_type == "stream":
                    if output.name == "stderr" and "remove-stderr" in tags:
                        continue
                    lines = [line for line in output.text.splitlines() if line.strip()]
                    want.text += lines[:1]
                elif "image/png" in output.get("data", {}) or "image/svg+xml" in output.get("data", {}):
                    want.images += 1
                want.outputs = True
        expected.append(want)
    return expected


def missing_outputs(executed: nbformat.NotebookNode, page: str) -> list[str]:
    """Each way in which ``page`` fails to show the outputs of the executed notebook."""
    collector = CellCollector()
    collector.feed(page)
    expected = expected_cells(executed)
    if len(collector.cells) != len(expected):
        return [f"the page shows {len(collector.cells)} code cells, the notebook has {len(expected)} to show"]
    problems = []
    for want, shown in zip(expected, collector.cells):
        if want.outputs and not shown.has_output:
            problems.append(f"cell {want.index}: no output shown")
        problems += [f"cell {want.index}: output {line!r} not shown" for line in want.text if words(line) not in words(shown.output_text)]
        if shown.images < want.images:
            problems.append(f"cell {want.index}: {want.images} figures computed, {shown.images} shown")
    return problems


def test_a_page_without_an_output_is_noticed() -> None:
    executed = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('hello')", outputs=[nbformat.v4.new_output("stream", text="hello\n")]),
        nbformat.v4.new_code_cell("prose_numbers(x=1)", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": "iVBO"})]),
    ])
    cell = '<div class="cell docutils container"><div class="cell_input docutils container"><pre>code</pre></div>{}</div>'
    hello = '<div class="cell_output docutils container"><pre>hello\n</pre></div>'
    figure = '<div class="cell_output docutils container"><img src="a.png"/></div>'
    assert missing_outputs(executed, cell.format(hello) + cell.format(figure)) == []
    no_figure = cell.format(hello) + cell.format("")
    assert missing_outputs(executed, no_figure) == ["cell 2: no output shown", "cell 2: 1 figures computed, 0 shown"]
    stale = cell.format(hello.replace("hello", "stale")) + cell.format(figure)
    assert missing_outputs(executed, stale) == ["cell 0: output 'hello' not shown"]
    assert missing_outputs(executed, cell.format(hello)) == ["the page shows 1 code cells, the notebook has 2 to show"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", toc_notebooks(), ids=lambda path: path.stem)
def test_each_chapter_page_shows_what_its_notebook_computed(book_build: BookBuild, built_site: Path, notebook: Path) -> None:
    page = built_site / notebook.parent.name / f"{notebook.stem}.html"
    assert page.is_file(), f"{page} missing"
    assert not missing_outputs(book_build.executed(notebook), page.read_text()), page.name


@pytest.mark.slow
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


@pytest.mark.slow
def test_only_widget_pages_load_the_widget_module_and_nothing_else_does(built_site: Path) -> None:
    """The explorers need the site's 4 kB module only: no ipywidgets embedder, no RequireJS."""
    script = '<script defer="defer" src="../_static/../anywidget-embed.js'
    for page in sorted(built_site.rglob("*.html")):
        text = page.read_text(errors="replace")
        has_widgets = "application/vnd.jupyter.widget-state+json" in text
        assert ("anywidget-embed.js" in text) == has_widgets, f"{page.name}: widgets {has_widgets}"
        assert "embed-amd" not in text and "require.js" not in text, page.name
    assert script in (built_site / "chapters" / "02_same_accuracy_different_loss.html").read_text()
    assert (built_site / "anywidget-embed.js").stat().st_size < 10_000


WIDGET_SCRIPT = r'<script type="application/vnd.jupyter.widget-{}\+json">(.*?)</script>'


@pytest.mark.slow
def test_every_widget_is_an_anywidget_the_module_shows_without_ipywidgets_styling(built_site: Path) -> None:
    """anywidget-embed.js renders anywidgets and nothing else, and applies no ipywidgets layout,
    DOM classes or tooltip: the widgets the pages show must need none."""
    views = 0
    for page in sorted(built_site.rglob("*.html")):
        text = page.read_text(errors="replace")
        state = re.search(WIDGET_SCRIPT.format("state"), text, re.DOTALL)
        if state is None:
            continue
        models = json.loads(state.group(1))["state"]
        for view in re.findall(WIDGET_SCRIPT.format("view"), text, re.DOTALL):
            widget = models[json.loads(view)["model_id"]]["state"]
            assert widget["_model_module"] == "anywidget" and widget["_esm"], f"{page.name}: not an anywidget"
            assert not widget["_dom_classes"] and widget["tooltip"] is None, page.name
            layout = models[widget["layout"].removeprefix("IPY_MODEL_")]["state"]
            assert not [name for name, value in layout.items() if not name.startswith("_") and value is not None], page.name
            views += 1
    assert views >= 8, "each explorer chapter shows its explorer"


@pytest.mark.slow
def test_the_site_serves_the_parts_of_mathjax_pages_load_and_not_the_theme_icon_script(built_site: Path) -> None:
    page = (built_site / "chapters" / "03_log_loss_asymmetry.html").read_text()
    assert f'src="../_static/mathjax/{LOADER}"' in page
    assert json.dumps({"load": list(COMPONENTS)}) in page, "the loader is told which components to load"
    mathjax = built_site / "_static" / "mathjax"
    for name in SERVED:
        assert (mathjax / name).exists(), f"{name} is not in the site"
    assert not (mathjax / "tex-chtml.js").exists() and not (mathjax / "sre").exists(), "only what pages load"
    assert sum(path.stat().st_size for path in mathjax.rglob("*") if path.is_file()) < 2_500_000
    assert (built_site / ICON_SCRIPT).read_text() == EMPTY_ICON_SCRIPT
    assert not list(built_site.rglob("*.map")), "source maps are left out"
