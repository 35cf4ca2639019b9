"""Print the built site to one PDF: every page of the table of contents, in order, with Chromium.

Usage: python scripts/build_pdf.py [--site _build/html] [--output _build/pdf/book.pdf]

Each page is opened in headless Chromium (Debian's /usr/bin/chromium, as in the tests), served
from a local HTTP server, after its math and widgets have rendered. Solutions are unfolded,
long code lines wrap instead of being cut, and the pages are printed and merged with pypdf,
with one bookmark per page. No LaTeX is needed. The PDF is tagged (accessible): each image is
printed as a `/Figure` with its alt text, which is also how the tests count the figures in it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import yaml
from playwright.sync_api import Page, PdfMargins, sync_playwright
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Print styles: code and table cells wrap rather than running off the page, and code may
# continue on the next page (a box kept whole leaves an empty frame behind); figures fit the
# width; the "Show code cell source" toggles of hidden cells, which paper cannot open, go.
PRINT_CSS = """
pre, pre code, .highlight pre, .output pre { white-space: pre-wrap !important; overflow-wrap: anywhere !important;
  font-size: 10.5px !important; }
pre, .highlight, .cell, .cell_input, .cell_output, div.output { break-inside: auto !important; }
.cell_output, .cell_input, .highlight, div.output, .pst-scrollable-table-container {
  overflow: visible !important; max-width: 100% !important;
}
td, th { overflow-wrap: anywhere !important; }
img { max-width: 100% !important; height: auto !important; }
table { max-width: 100% !important; }
details.hide.above-input { display: none !important; }
"""
# Solutions are unfolded; the count of code blocks and tables still wider than their box is returned.
UNFOLD_AND_MEASURE = """() => {
  document.querySelectorAll('details.sd-dropdown').forEach(d => d.open = true);
  return Array.from(document.querySelectorAll('article pre, article table'))
    .filter(box => box.scrollWidth > box.clientWidth + 1).length;
}"""


def toc_pages() -> list[str]:
    """The site's pages in reading order: the root, then every file of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [*toc.get("chapters", []), *(c for part in toc.get("parts", []) for c in part["chapters"])]
    return [toc["root"], *(entry["file"] for entry in entries)]


@contextmanager
def serve(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


def print_page(page: Page, url: str) -> tuple[str, bytes]:
    """Open ``url``, wait for math and widgets, and return the page's title and its PDF."""
    page.goto(url, wait_until="networkidle")
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    if page.locator('script[type="application/vnd.jupyter.widget-state+json"]').count():
        page.wait_for_selector(".lx-explorer", timeout=30_000)
    page.add_style_tag(content=PRINT_CSS)
    page.emulate_media(media="print")
    cut = page.evaluate(UNFOLD_AND_MEASURE)
    if cut:
        raise SystemExit(f"error: {url}: {cut} code block(s) or table(s) would be cut at the page edge")
    title = page.locator("article h1").first.inner_text().strip().rstrip("#").strip()
    margin: PdfMargins = {"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}
    pdf = page.pdf(format="A4", print_background=True, tagged=True, margin=margin)  # tagged: each image a /Figure
    return title, pdf


class PrintedPage(NamedTuple):
    """A page of the book as printed: its title and the alt text of each image drawn on it."""

    title: str
    figures: tuple[str, ...]


def printed_figures(pdf: bytes) -> tuple[str, ...]:
    """The alt text of each image a tagged PDF draws, in order.

    Chromium tags each image as a ``/Figure`` element of the structure tree, with the image's alt
    text, pointing at the marked content that draws it (an SVG as paths, a PNG as an image): an
    image counts if that content draws anything.
    """
    reader = PdfReader(io.BytesIO(pdf))
    drawn: dict[tuple[int, int], int] = {}  # (page, marked-content id) -> operators inside
    for number, page in enumerate(reader.pages):
        open_ids: list[int | None] = []
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator in (b"BDC", b"BMC"):
                properties = operands[1] if operator == b"BDC" and len(operands) > 1 else None
                open_ids.append(properties.get("/MCID") if isinstance(properties, DictionaryObject) else None)
            elif operator == b"EMC":
                open_ids.pop()
            else:
                for mcid in open_ids:
                    if mcid is not None:
                        drawn[(number, mcid)] = drawn.get((number, mcid), 0) + 1
    pages = {page.indirect_reference.idnum: number for number, page in enumerate(reader.pages) if page.indirect_reference}
    alts = []

    def visit(node: object, page: int | None) -> None:
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, ArrayObject):
            for child in node:
                visit(child, page)
            return
        if not isinstance(node, DictionaryObject):
            return
        reference = node.raw_get("/Pg") if "/Pg" in node else None
        page = pages.get(reference.idnum, page) if reference is not None and hasattr(reference, "idnum") else page
        if node.get("/S") == "/Figure" and "/Alt" in node:
            kids = node.get("/K")
            mcids = [kid for kid in (kids if isinstance(kids, ArrayObject) else [kids]) if isinstance(kid, int)]
            if page is not None and any(drawn.get((page, mcid), 0) for mcid in mcids):
                alts.append(str(node["/Alt"]))
        if "/K" in node:
            visit(node["/K"], page)

    root = reader.root_object
    if "/StructTreeRoot" in root:
        visit(root["/StructTreeRoot"], None)
    return tuple(alts)


def build_pdf(site: Path, output: Path) -> list[PrintedPage]:
    """Print every page of the table of contents into ``output``; return what each page printed."""
    pages = toc_pages()
    missing = [name for name in pages if not (site / f"{name}.html").is_file()]
    if missing:
        raise SystemExit(f"error: {site} lacks {', '.join(missing)}: build the book first (bash scripts/build_book.sh)")
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"error: {CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    writer = PdfWriter()
    printed = []
    with serve(site) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        for name in pages:
            title, pdf = print_page(page, f"{url}{name}.html")
            writer.append(PdfReader(io.BytesIO(pdf)), outline_item=title)
            printed.append(PrintedPage(title, printed_figures(pdf)))
        browser.close()
    writer.add_metadata({"/Title": printed[0].title})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as file:
        writer.write(file)
    return printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site (default: _build/html)")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf", help="the PDF to write")
    arguments = parser.parse_args()
    printed = build_pdf(arguments.site, arguments.output)
    print(f"wrote {arguments.output}: {len(printed)} pages of the book, {len(PdfReader(arguments.output).pages)} PDF pages")


if __name__ == "__main__":
    main()
