"""Every page of the book reads well on a phone and a laptop, light and dark, and in print.

For each page in the table of contents, a headless Chromium opens the built site at 390 px
(a phone) and 1280 px (a laptop), in the light and the dark theme, and in print preview, and
``page_layout.js`` lists what a reader would stumble over: a page wider than the screen, a
code or output block that must be scrolled sideways (a table may scroll if its scrollbar is
visible), a figure without number, caption or meaningful alt text, a figure whose smallest text
is below 9 CSS px as the page scales it (read from the size the image file records), a value in
a caption drawn as a box, explorer text that is cut, overlaps or is smaller than 11 px, an
explorer that stays light in the dark theme; in the dark theme, a figure that shows as a bright
slab (its mean luminance, as the screen shows it, nearer a white page's than the page's own).
The screenshots are kept in ``_build/layout-screenshots/`` for a reviewer to look at.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import yaml
from PIL import Image
from playwright.sync_api import Browser, Page

from conftest import ROOT

SCREENSHOTS = ROOT / "_build" / "layout-screenshots"
CHECKS = (Path(__file__).parent / "page_layout.js").read_text()
WIDTHS = {"phone": 390, "laptop": 1280}
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
LONGEST_CODE_LINE = 88


def toc_pages() -> list[str]:
    """Every page the table of contents lists (root first), as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = list(toc.get("chapters", []))
    for part in toc.get("parts", []):
        entries += part.get("chapters", [])
    pages = [toc["root"]]
    while entries:
        entry = entries.pop(0)
        if "file" in entry:
            pages.append(entry["file"])
        entries[:0] = entry.get("sections", [])
    return pages


def toc_notebooks() -> list[str]:
    """The pages of the table of contents that are notebooks."""
    return [page for page in toc_pages() if (ROOT / f"{page}.ipynb").exists()]


@pytest.mark.parametrize("page", toc_notebooks())
def test_code_lines_fit_the_column(page: str) -> None:
    """Code a reader sees fits the text column: no line longer than 88 characters."""
    notebook = json.loads((ROOT / f"{page}.ipynb").read_text())
    shown = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"
             and not {"remove-cell", "remove-input"} & set(cell.get("metadata", {}).get("tags", []))]
    long_lines = [line for cell in shown for line in "".join(cell["source"]).splitlines()
                  if len(line) > LONGEST_CODE_LINE]
    assert not long_lines, f"{page}: code lines over {LONGEST_CODE_LINE} characters:\n" + "\n".join(long_lines)


def open_page(page: Page, url: str) -> None:
    """Load a page and wait until its explorers are drawn and its math is typeset."""
    page.goto(url, wait_until="load")
    if page.locator('script[type="application/vnd.jupyter.widget-state+json"]').count():
        page.wait_for_selector(".lx-explorer svg text", timeout=30_000)
    page.evaluate("async () => { await document.fonts.ready;"
                  " if (window.MathJax && MathJax.startup) await MathJax.startup.promise;"
                  " await Promise.all([...document.images].map((img) => {"
                  "   img.loading = 'eager'; return img.decode().catch(() => null); })); }")  # lazy ones too
    page.wait_for_timeout(300)


def mean_luminance(pixels: np.ndarray) -> float:
    """Mean luma (Rec. 709 weights on the sRGB values, 0 black to 1 white) of RGB pixels."""
    return float(((pixels[..., :3].astype(float) / 255) @ [0.2126, 0.7152, 0.0722]).mean()) if pixels.size else 0.0


def bright_figures(page: Page) -> list[str]:
    """The figures that a dark page shows as bright slabs: as the screen shows them (the image
    and what shows through it), their mean luminance is nearer a white page's than the dark
    page's own."""
    background = Image.new("RGB", (1, 1), page.evaluate("getComputedStyle(document.body).backgroundColor"))
    threshold = (1 + mean_luminance(np.asarray(background))) / 2
    found = []
    for image in page.query_selector_all("article img"):
        if not image.is_visible():
            continue
        luminance = mean_luminance(np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("RGB")))
        if luminance > threshold:
            src = image.get_attribute("src")
            found.append(f"figure bright in the dark theme (mean luminance {luminance:.2f}, a white page is 1): {src}")
    return found


def check_and_shoot(page: Page, name: str) -> list[str]:
    """Check the page as the reader's window shows it, then keep a full-page screenshot (in the
    dark theme, its figures are checked on it)."""
    defects = [f"{name}: {defect}" for defect in page.evaluate(CHECKS)]
    if page.evaluate("document.documentElement.dataset.theme") == "dark":
        defects += [f"{name}: {defect}" for defect in bright_figures(page)]
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    return defects


@pytest.mark.slow
@pytest.mark.parametrize("page_name", toc_pages())
def test_page_reads_well_everywhere(browser: Browser, site_url: str, page_name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = site_url + page_name + ".html"
    slug = page_name.replace("/", "-")
    defects: list[str] = []
    for device, width in WIDTHS.items():
        for scheme in SCHEMES:
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            open_page(page, url)
            assert page.evaluate("document.documentElement.dataset.theme") == scheme
            defects += check_and_shoot(page, f"{slug}-{device}-{scheme}")
            if device == "laptop" and scheme == "light":
                page.emulate_media(media="print")
                page.wait_for_timeout(200)
                defects += check_and_shoot(page, f"{slug}-print")
            context.close()
    assert not defects, "\n".join(defects)
