"""Each chapter run in a real JupyterLab, as a reader runs it, in Chromium with every other host cut off.

The prose must show its numbers (no raw MyST, no unevaluated expression), every explorer must
answer the keyboard (arrow keys, Home, End, Tab) and a click, the solutions the chapter shows
must pass its check cells (run in the chapter's kernel after Run All), and the page may load
nothing from another host. A screenshot of each chapter lands in ``_build/jupyterlab/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from test_chapter_exercises import HOW_TO_PAGES, solved_check_cells

from conftest import ROOT, toc_notebooks

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "_build" / "jupyterlab"
# MyST left as source, and what jupyterlab-myst shows for a directive it does not know
# (glue:figure and eval:figure among them: scripts/convert_glue_to_eval.py makes them figure cells).
RAW_MYST = ("{glue", "{eval", "```{", ":::{", "Unknown Directive")
SETTINGS = {  # all cells in the page (so all are checked), and no news fetched from the web
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab from the book's environment, token-less on 127.0.0.1, serving a copy of the chapters."""
    home = tmp_path_factory.mktemp("jupyterlab")
    book = home / "book"
    (book / "chapters").mkdir(parents=True)
    for notebook in toc_notebooks():
        shutil.copy(notebook, book / "chapters" / notebook.name)
    for entry in ROOT.iterdir():  # what the chapters read by relative path (records, ...)
        if entry.name not in {"chapters", "_build", ".git", ".venv"}:
            (book / entry.name).symlink_to(entry)
    for path, values in SETTINGS.items():
        (home / "settings" / path).parent.mkdir(parents=True, exist_ok=True)
        (home / "settings" / path).write_text(json.dumps(values))
    env = os.environ | {
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={book}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=(home / "server.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}api/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def eval_expressions(notebook: Path) -> list[str]:
    cells = nbformat.read(notebook, as_version=4).cells
    return [expression for cell in cells if cell.cell_type == "markdown"
            for expression in re.findall(r"\{eval\}`([^`]*)`", cell.source)]


PROSE_PROBLEMS = """(expressions) => {
  const prose = [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-MarkdownCell .myst')];
  const problems = [];
  if (prose.length === 0) problems.push('no Markdown cell rendered by jupyterlab-myst');
  for (const [i, node] of prose.entries()) {
    const text = node.textContent;  // folded dropdowns included
    for (const raw of RAW_MYST) {
      if (text.includes(raw)) problems.push(`prose ${i} shows ${raw}: ${text.slice(text.indexOf(raw), text.indexOf(raw) + 60)}`);
    }
    for (const code of node.querySelectorAll('code')) {
      if (expressions.includes(code.textContent)) problems.push(`prose ${i} shows the expression ${code.textContent}, not its value`);
    }
    for (const error of node.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')) {
      problems.push(`prose ${i}: ${error.textContent}`);
    }
  }
  return problems;
}""".replace("RAW_MYST", json.dumps(list(RAW_MYST)))


# Runs code in the chapter's kernel, one cell's code after another, and returns what each printed
# (or the error it raised).
RUN_IN_KERNEL = """async (cells) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const printed = [];
  for (const code of cells) {
    let text = '';
    const future = kernel.requestExecute({code, store_history: false});
    future.onIOPub = (message) => {
      if (message.header.msg_type === 'stream') text += message.content.text;
      if (message.header.msg_type === 'error') text += `${message.content.ename}: ${message.content.evalue}`;
    };
    await future.done;
    printed.push(text.trim());
  }
  return printed;
}"""


def check_explorer(page: Page, explorer: Locator) -> None:
    """Keys and a click on the first slider move it, and the readouts follow."""
    explorer.scroll_into_view_if_needed()
    sliders = explorer.locator("input[type=range]")
    slider = sliders.first
    low, high = float(slider.get_attribute("min") or 0), float(slider.get_attribute("max") or 100)

    def value() -> float:
        return float(slider.input_value())

    shown = explorer.inner_text()
    slider.focus()
    start = value()
    page.keyboard.press("ArrowLeft" if start == high else "ArrowRight")
    assert value() != start, "an arrow key does not move the slider"
    assert explorer.inner_text() != shown, "the readouts do not follow the arrow key"
    page.keyboard.press("Home")
    assert value() == low, "Home does not move the slider to its start"
    page.keyboard.press("End")
    assert value() == high, "End does not move the slider to its end"
    shown = explorer.inner_text()
    box = slider.bounding_box()
    assert box is not None
    slider.click(position={"x": box["width"] * 0.3, "y": box["height"] / 2})
    assert value() < high, "a click on the slider's track does not move it"
    assert explorer.inner_text() != shown, "the readouts do not follow the click"
    if sliders.count() > 1:
        slider.focus()
        page.keyboard.press("Tab")
        assert explorer.evaluate("(root) => root.contains(document.activeElement) && document.activeElement.type === 'range'"), (
            "Tab does not reach the next slider")
        assert not slider.evaluate("(node) => node === document.activeElement"), "Tab does not leave the first slider"


@pytest.mark.parametrize("notebook", toc_notebooks(), ids=lambda path: path.stem)
def test_chapter_reads_right_in_jupyterlab(jupyterlab: str, browser: Browser, notebook: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    other_hosts: list[str] = []

    def route(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith((jupyterlab, "data:", "blob:")):
            route.continue_()
        else:
            other_hosts.append(url)
            route.abort()

    page.route("**/*", route)
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{jupyterlab}lab/tree/chapters/{notebook.name}?reset")  # ?reset: no tabs from earlier tests
        panel = f"window.jupyterapp?.shell.currentWidget?.context?.path === 'chapters/{notebook.name}'"
        page.wait_for_function(f"{panel} && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.ready")
        ran = page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        assert ran is True, "a cell failed when running all cells"

        expressions = eval_expressions(notebook)
        # jupyterlab-myst asks the kernel for each Markdown cell's values as it renders it; the
        # problems still there after a minute are reported below.
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(f"({PROSE_PROBLEMS})({json.dumps(expressions)}).length === 0", timeout=60_000)
        problems = page.evaluate(f"({PROSE_PROBLEMS})({json.dumps(expressions)})")
        assert not problems, "\n".join(problems[:20])

        explorers = page.locator(f"#{page.evaluate('window.jupyterapp.shell.currentWidget.id')} .lx-explorer")
        for index in range(explorers.count()):
            check_explorer(page, explorers.nth(index))

        if notebook.stem not in HOW_TO_PAGES:  # the shown solutions pass the check cells
            verdicts = page.evaluate(RUN_IN_KERNEL, solved_check_cells(notebook))
            assert verdicts and all(verdict.startswith("Correct") for verdict in verdicts), verdicts

        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
        height = page.evaluate("window.jupyterapp.shell.currentWidget.node.querySelector('.jp-WindowedPanel-outer').scrollHeight")
        page.set_viewport_size({"width": 1280, "height": min(height + 150, 16_000)})  # the whole chapter in one picture
        page.evaluate("window.jupyterapp.shell.currentWidget.node.querySelector('.jp-WindowedPanel-outer').scrollTop = 0")
        page.wait_for_timeout(500)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{notebook.stem}.png")
        assert not other_hosts, f"JupyterLab tried other hosts: {other_hosts[:5]}"
    finally:
        page.evaluate("window.jupyterapp?.shell.currentWidget?.sessionContext?.shutdown()")
        context.close()
