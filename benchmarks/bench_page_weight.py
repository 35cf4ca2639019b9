"""Weigh the built site: what a reader's browser downloads for a page, and the site on disk.

front page  ``intro.html`` opened in a fresh headless Chromium context (empty cache) at
            390 x 844 px, the page left to load until the network is idle.
chapters    each page that holds an explorer (widget state), opened the same way; then the
            page is scrolled to its end, step by step, until every explorer has rendered and
            the network is idle again. "on open" counts what loaded before any scrolling,
            "explorers shown" everything loaded once the reader has scrolled to each explorer.
on disk     every file under the built site, with its largest folders.

A page's weight is the sum of the bodies of every response it received (uncompressed: the
local server sends them as stored), ``data:`` and ``blob:`` URLs excluded (they are already
inside a counted file). Needs a built site (``jupyter-book build .``); the live trainer's frame
gaps are ``benchmarks/bench_live_trainer.py``'s, run after the weights with ``--live-runs N``.

    python benchmarks/bench_page_weight.py [--site _build/html] [--live-runs 3]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Response, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
MB = 1e6
PARTS = ("_static/mathjax/", "_static/scripts/", "_static/styles/", "_static/vendor/", "vendor/",
         "_images/", "_sources/")  # the folders the on-disk total breaks down into


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Loaded:
    """The responses a page received, by URL (a URL fetched twice counts once)."""

    sizes: dict[str, int] = field(default_factory=dict)

    def record(self, response: Response) -> None:
        if response.url.startswith(("data:", "blob:")) or not 200 <= response.status < 300:
            return
        try:
            self.sizes[response.url] = len(response.body())
        except Exception:  # noqa: BLE001  (a body the browser has already dropped: count it as unknown)
            self.sizes.setdefault(response.url, 0)

    def summary(self, site_url: str, largest: int = 3) -> str:
        total = sum(self.sizes.values())
        top = sorted(self.sizes.items(), key=lambda item: -item[1])[:largest]
        names = ", ".join(f"{url.removeprefix(site_url).rsplit('/', 1)[-1]} {size / MB:.2f}" for url, size in top)
        return f"{total / MB:5.2f} MB in {len(self.sizes):2d} files (largest: {names})"

    def listing(self, site_url: str) -> str:
        """Every file, largest first, one a line."""
        rows = sorted(self.sizes.items(), key=lambda item: -item[1])
        return "\n".join(f"      {size / 1e3:9.1f} kB  {url.removeprefix(site_url)}" for url, size in rows)


def open_fresh(browser: Browser, url: str) -> tuple[Page, Loaded]:
    """Open ``url`` in a new context (empty cache) at phone width; wait for the network to be idle."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    loaded = Loaded()
    page.on("response", loaded.record)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, loaded


def scroll_through(page: Page) -> int:
    """Scroll to the end of the page a screen at a time; return how many explorers rendered."""
    expected = page.locator(WIDGET_VIEW).count()
    height = page.evaluate("() => document.documentElement.scrollHeight")
    for y in range(0, height + 844, 600):
        page.evaluate(f"() => window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.wait_for_function(f"() => document.querySelectorAll('.lx-explorer').length >= {expected}", timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    return page.locator(".lx-explorer").count()


def folder_sizes(site: Path) -> tuple[int, int, Counter[str]]:
    """Total bytes and files under ``site``, and the bytes of its notable parts."""
    parts: Counter[str] = Counter()
    total = files = 0
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        files += 1
        relative = path.relative_to(site).as_posix()
        for prefix in PARTS:
            if relative.startswith(prefix):
                parts[prefix] += size
        if relative.endswith(".zip"):
            parts["*.zip"] += size
        if relative.endswith(".html"):
            parts["*.html"] += size
    return total, files, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site (default _build/html)")
    parser.add_argument("--files", action="store_true", help="list every file each page loaded")
    parser.add_argument("--live-runs", type=int, default=0, help="also run bench_live_trainer.py with this many runs")
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "intro.html").is_file():
        sys.exit(f"no built site at {site}: run jupyter-book build . first")
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}")
    chapters = sorted(page for page in (site / "chapters").glob("*.html") if WIDGET_STATE in page.read_text(errors="replace"))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site_url = f"http://127.0.0.1:{server.server_port}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page, loaded = open_fresh(browser, site_url + "intro.html")
        print(f"front page, first load: {loaded.summary(site_url)}")
        if args.files:
            print(loaded.listing(site_url))
        page.context.close()
        for chapter in chapters:
            page, loaded = open_fresh(browser, f"{site_url}chapters/{chapter.name}")
            on_open = loaded.summary(site_url)
            shown = scroll_through(page)
            print(f"{chapter.stem}\n  on open:         {on_open}\n  explorers shown: {loaded.summary(site_url)} "
                  f"[{shown} explorer{'s' * (shown != 1)}]")
            if args.files:
                print(loaded.listing(site_url))
            page.context.close()
        browser.close()
    server.shutdown()

    total, files, parts = folder_sizes(site)
    print(f"whole site on disk: {total / MB:.2f} MB in {files} files")
    for name, size in parts.most_common():
        print(f"  {name:18s} {size / MB:6.2f} MB")
    if args.live_runs:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_live_trainer.py"), "--runs", str(args.live_runs)], check=True)


if __name__ == "__main__":
    main()
