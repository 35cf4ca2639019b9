"""A real browser, with every other host unreachable, opens the built book and moves the explorers.

The readouts the page shows must equal the library's values at each slider position.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Page, sync_playwright

from lossacc.predictions import moved_readouts

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class OfflinePage:
    """A Chromium page that may reach only the local site; it records everything else it tried."""

    def __init__(self, page: Page, site_url: str) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []

        def route(route) -> None:  # type: ignore[no-untyped-def]
            url = route.request.url
            if url.startswith(site_url) or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        page.route("**/*", route)
        page.on("response", lambda response: self.failed.append(f"{response.status} {response.url}") if response.status >= 400 else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def offline_page(browser, site_url: str) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone-width screen
    page = context.new_page()
    yield OfflinePage(page, site_url)
    context.close()


def widget_data(page: Page, explorer_index: int = 0) -> dict:
    """The ``data`` trait of the n-th explorer, read from the widget state embedded in the page."""
    state = json.loads(page.locator('script[type="application/vnd.jupyter.widget-state+json"]').inner_text())
    explorers = [model["state"]["data"] for model in state["state"].values() if "data" in model["state"]]
    return explorers[explorer_index]


def readout(page: Page, name: str) -> float:
    return float(page.locator(f'[data-readout="{name}"]').first.get_attribute("data-value"))


def test_prediction_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    page = offline_page.page
    page.goto(site_url + "chapters/02_same_accuracy_different_loss.html")
    page.wait_for_selector(".lx-explorer input[type=range]", timeout=30_000)
    data = widget_data(page)
    probs = np.array([example["probs"] for example in data["examples"]])
    labels = np.array([example["label"] for example in data["examples"]])
    sliders = page.locator(".lx-explorer input[type=range]")
    assert sliders.count() == len(labels)

    def check(positions: np.ndarray) -> None:
        expected = moved_readouts(probs, labels, positions)
        assert readout(page, "accuracy") == pytest.approx(expected.accuracy, abs=1e-12)
        assert readout(page, "mean-loss") == pytest.approx(expected.mean_loss, abs=1e-12)
        for i in range(len(labels)):
            assert readout(page, f"loss-{i}") == pytest.approx(expected.per_example_loss[i], abs=1e-12)
            assert readout(page, f"predicted-{i}") == expected.predicted[i]

    positions = probs[np.arange(len(labels)), labels].round(2)
    check(positions)

    # Keyboard: focus the horse's slider and step it down until it loses to the dog.
    horse = int(np.flatnonzero(labels == 2)[0])
    sliders.nth(horse).focus()
    for _ in range(10):
        page.keyboard.press("ArrowDown")
    positions[horse] = round(positions[horse] - 0.10, 2)
    check(positions)
    assert readout(page, f"predicted-{horse}") != 2, "the horse should now be predicted wrong"

    # Pointer-style: set a slider's value directly, as a drag does.
    sliders.nth(0).fill("0.05")
    positions[0] = 0.05
    check(positions)

    assert page.locator("mjx-container").count() > 0, "MathJax did not typeset the page offline"
    assert not offline_page.blocked, f"the page tried to reach other hosts: {offline_page.blocked}"
    assert not offline_page.failed, f"requests failed: {offline_page.failed}"
    assert not offline_page.errors, f"JavaScript errors: {offline_page.errors}"
