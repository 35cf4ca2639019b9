"""A real browser, with every other host unreachable, opens the built book and moves the explorers.

The readouts the page shows must equal the library's values at each slider position.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from lossacc.asymmetry import population_readouts
from lossacc.calibration import temperature_readouts
from lossacc.imbalance import imbalance_readouts
from lossacc.metrics import worst_share
from lossacc.predictions import moved_readouts

pytestmark = pytest.mark.slow

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


@pytest.fixture
def offline_page(browser: Browser, site_url: str) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone-width screen
    page = context.new_page()
    yield OfflinePage(page, site_url)
    context.close()


def open_explorer(offline_page: OfflinePage, url: str) -> dict:
    """Open a chapter, wait for its explorer to render, return the explorer's ``data`` trait.

    The data is read from the widget state embedded in the page: what the JavaScript computes from.
    """
    page = offline_page.page
    page.goto(url)
    page.wait_for_selector(".lx-explorer input[type=range]", timeout=30_000)
    state = json.loads(page.locator('script[type="application/vnd.jupyter.widget-state+json"]').inner_text())
    explorers = [model["state"]["data"] for model in state["state"].values() if "data" in model["state"]]
    assert len(explorers) == 1
    return explorers[0]


def readout(page: Page, name: str) -> float:
    value = page.locator(f'[data-readout="{name}"]').first.get_attribute("data-value")
    assert value is not None, f"readout {name} has no data-value"
    return float(value)


def assert_worked_offline(offline_page: OfflinePage) -> None:
    assert offline_page.page.locator("mjx-container").count() > 0, "MathJax did not typeset the page offline"
    assert offline_page.page.locator("mjx-merror").count() == 0, "MathJax met math it could not typeset"
    assert not offline_page.blocked, f"the page tried to reach other hosts: {offline_page.blocked}"
    assert not offline_page.failed, f"requests failed: {offline_page.failed}"
    assert not offline_page.errors, f"JavaScript errors: {offline_page.errors}"


def step_slider(page: Page, slider_name: str, presses: int) -> None:
    """Move a slider with the keyboard: focus it and press the arrow key ``presses`` times (negative: down)."""
    page.locator(f'input[data-name="{slider_name}"]').focus()
    for _ in range(abs(presses)):
        page.keyboard.press("ArrowUp" if presses > 0 else "ArrowDown")


def test_prediction_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/02_same_accuracy_different_loss.html")
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

    # Keyboard: step the first horse's slider down until it loses to the dog.
    horse = int(np.flatnonzero(labels == 2)[0])
    step_slider(page, f"p{horse}", -10)
    positions[horse] = round(positions[horse] - 0.10, 2)
    check(positions)
    assert readout(page, f"predicted-{horse}") != 2, "the horse should now be predicted wrong"

    # Pointer-style: set a slider's value directly, as a drag does.
    sliders.nth(0).fill("0.05")
    positions[0] = 0.05
    check(positions)

    assert_worked_offline(offline_page)


def test_population_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/03_log_loss_asymmetry.html")
    groups = len(data["group_names"])

    def check(shifts: list[float]) -> None:
        expected = population_readouts(data["true_log_odds"], data["argmax_margin"], data["group"], shifts)
        assert readout(page, "accuracy") == pytest.approx(expected.accuracy, abs=1e-12)
        assert readout(page, "mean-loss") == pytest.approx(expected.mean_loss, abs=1e-9)
        assert readout(page, "worst-share") == pytest.approx(worst_share(expected.per_example_loss), abs=1e-9)
        for g in range(groups):
            assert readout(page, f"group-accuracy-{g}") == pytest.approx(expected.group_accuracy[g], abs=1e-12)
            assert readout(page, f"group-loss-{g}") == pytest.approx(expected.group_mean_loss[g], abs=1e-9)

    check([0.0] * groups)
    step_slider(page, "shift1", 5)  # borderline up by 5 steps of 0.1
    page.locator('input[data-name="shift2"]').fill("-1")
    shifts = [0.0, 0.5, -1.0]
    check(shifts)
    before = readout(page, "accuracy"), readout(page, "mean-loss")
    page.get_by_role("button", name="Reset").click()
    check([0.0] * groups)
    assert before[0] > readout(page, "accuracy") and before[1] > readout(page, "mean-loss"), "the chapter's claim: both rose"
    assert_worked_offline(offline_page)


def test_imbalance_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/04_class_imbalance.html")
    classes = len(data["classes"])

    def check(ratio: float, bias: float) -> None:
        expected = imbalance_readouts(data["base_logits"], data["labels"], ratio, bias)
        assert readout(page, "accuracy") == pytest.approx(expected.accuracy, abs=1e-9)
        assert readout(page, "balanced-accuracy") == pytest.approx(expected.balanced_accuracy, abs=1e-9)
        assert readout(page, "mean-loss") == pytest.approx(expected.mean_loss, abs=1e-9)
        for c in range(classes):
            assert readout(page, f"prior-{c}") == pytest.approx(expected.priors[c], abs=1e-12)
            assert readout(page, f"predicted-share-{c}") == pytest.approx(expected.predicted_share[c], abs=1e-9)
            assert readout(page, f"class-accuracy-{c}") == pytest.approx(expected.per_class_accuracy[c], abs=1e-12)
            assert readout(page, f"class-loss-{c}") == pytest.approx(expected.per_class_loss[c], abs=1e-9)

    ratio, bias = data["ratio"]["start"], data["bias"]["start"]
    check(ratio, bias)
    step_slider(page, "bias", 42)  # 42 steps of 0.05
    check(ratio, round(bias + 42 * data["bias"]["step"], 10))
    page.locator('input[data-name="ratio"]').fill("1")
    check(1, round(bias + 42 * data["bias"]["step"], 10))
    assert readout(page, "accuracy") == pytest.approx(readout(page, "balanced-accuracy"), abs=1e-12)
    assert_worked_offline(offline_page)


def test_epoch_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    from conftest import ROOT
    from lossacc.cifar.record import load_record
    from lossacc.run_analysis import book_record, epoch_readouts

    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/07_reading_a_real_run.html")
    record = load_record(book_record(ROOT / "records"))
    assert len(data["lr"]) == record.epochs_recorded

    def check(epoch: int) -> None:
        expected = epoch_readouts(record, epoch)
        assert readout(page, "learning-rate") == expected.lr
        assert readout(page, "accuracy") == pytest.approx(expected.accuracy, abs=1e-12)
        # The page sums losses shipped to 3 decimals per histogram bin.
        assert readout(page, "mean-loss") == pytest.approx(expected.mean_loss, abs=1e-5)
        assert readout(page, "wrong-loss-share") == pytest.approx(expected.wrong_loss_share, abs=1e-5)
        assert readout(page, "worst-share") == pytest.approx(expected.worst_share, abs=1e-6)
        assert readout(page, "temperature") == pytest.approx(expected.temperature, abs=1e-4)
        assert readout(page, "heldout-loss") == pytest.approx(expected.heldout_loss, abs=1e-6)
        assert readout(page, "heldout-loss-scaled") == pytest.approx(expected.heldout_loss_scaled, abs=1e-6)

    epoch = data["start"]
    check(epoch)
    step_slider(page, "epoch", -3)
    check(epoch - 3)
    page.locator('input[data-name="epoch"]').fill("1")
    check(1)
    step_slider(page, "epoch", 1)
    check(2)
    assert_worked_offline(offline_page)


def test_live_trainer_trains_like_its_twin(offline_page: OfflinePage, site_url: str) -> None:
    """The page trains in a Web Worker; after each command the test waits until the page is
    settled (the worker has carried it out and stopped), then compares with the twin."""
    from lossacc.live_training import TrainerSettings, train, with_settings

    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/06_watch_it_overfit.html")
    root = page.locator(".lx-live")

    def settled() -> None:
        page.wait_for_selector('.lx-live:is([data-state="paused"], [data-state="done"])', timeout=120_000)

    def trajectory() -> dict:
        return json.loads(root.get_attribute("data-trajectory") or "{}")

    def check_against_twin(exact_epochs: int) -> dict:
        """The page's epochs so far equal the twin's: within 1e-9 for the first ``exact_epochs``,
        and the same curves (within 1e-6) after them."""
        shown = trajectory()
        settings = TrainerSettings(**shown["settings"], drops=tuple(shown["drops"]))
        page_history = shown["history"]
        twin = train(with_settings(settings, epochs=len(page_history["val_loss"]))).history
        for name, values in page_history.items():
            np.testing.assert_allclose(values[:exact_epochs], getattr(twin, name)[:exact_epochs], rtol=0, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(values, getattr(twin, name), rtol=0, atol=1e-6, err_msg=name)
        return shown

    settled()
    assert readout(page, "epoch") == 0
    assert readout(page, "learning-rate") == data["settings"]["lr"]
    page.get_by_role("button", name="Step one epoch").click()
    settled()
    assert readout(page, "epoch") == 1

    # Keyboard: Play, let a few epochs pass, Pause.
    page.get_by_role("button", name="Play").focus()
    page.keyboard.press("Enter")
    assert root.get_attribute("data-state") == "playing"
    page.wait_for_function("() => Number(document.querySelector('[data-readout=\"epoch\"]').dataset.value) >= 6", timeout=30_000)
    page.keyboard.press("Enter")
    settled()
    assert root.get_attribute("data-state") == "paused"
    page.get_by_role("button", name="Step one epoch").click()  # finish the epoch under way
    settled()
    epochs_done = int(readout(page, "epoch"))
    val_loss_path = page.locator(".lx-live svg path.lx-live-val.lx-loss-line").get_attribute("d") or ""
    assert val_loss_path.count("L") == epochs_done - 1, "the validation-loss curve has a point per epoch"

    # The drop button: the readout falls ×0.2 and the next epochs train at the lower rate.
    lr_before = readout(page, "learning-rate")
    page.get_by_role("button", name="Drop the learning rate ×0.2 now").click()
    settled()
    assert readout(page, "learning-rate") == pytest.approx(0.2 * lr_before, rel=1e-12)
    for _ in range(3):
        page.get_by_role("button", name="Step one epoch").click()
        settled()
    shown = check_against_twin(exact_epochs=epochs_done + 3)
    assert epochs_done + 1 in shown["drops"]
    lr = shown["history"]["lr"]
    assert lr[epochs_done] == pytest.approx(0.2 * lr[epochs_done - 1], rel=1e-12)

    # A slider moved with the keyboard starts a new run with its value.
    step_slider(page, "seed", 1)
    settled()
    assert trajectory()["settings"]["seed"] == data["settings"]["seed"] + 1 and readout(page, "epoch") == 0
    step_slider(page, "seed", -1)

    # Dropout 0.3 and label smoothing 0.1 (their sliders' fourth and third values): a few epochs
    # against the twin, which draws the same dropout masks.
    step_slider(page, "dropout", data["dropouts"].index(0.3))
    step_slider(page, "label_smoothing", data["label_smoothings"].index(0.1))
    settled()
    for _ in range(3):
        page.get_by_role("button", name="Step one epoch").click()
        settled()
    shown = check_against_twin(exact_epochs=3)
    assert (shown["settings"]["dropout"], shown["settings"]["label_smoothing"]) == (0.3, 0.1)
    step_slider(page, "dropout", -data["dropouts"].index(0.3))
    step_slider(page, "label_smoothing", -data["label_smoothings"].index(0.1))
    settled()

    # The whole default schedule, played to the end, against the twin.
    page.get_by_role("button", name="Play").click()
    page.wait_for_selector('.lx-live[data-state="done"]', timeout=120_000)
    shown = check_against_twin(exact_epochs=20)
    assert (shown["settings"]["dropout"], shown["settings"]["label_smoothing"]) == (0.0, 0.0)
    assert len(shown["history"]["val_loss"]) == data["settings"]["epochs"]
    assert shown["drops"] == [61, 121, 161]
    assert_worked_offline(offline_page)


def test_temperature_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/05_confidence_and_calibration.html")
    logits, labels = np.array(data["logits"]), np.array(data["labels"])

    def check(temperature: float) -> None:
        expected = temperature_readouts(logits, labels, temperature, data["bins"])
        assert readout(page, "temperature") == pytest.approx(temperature, abs=1e-12)
        assert readout(page, "accuracy") == pytest.approx(expected.accuracy, abs=1e-12)
        assert readout(page, "mean-loss") == pytest.approx(expected.mean_loss, abs=1e-9)
        assert readout(page, "mean-confidence") == pytest.approx(expected.mean_confidence, abs=1e-9)
        assert readout(page, "ece") == pytest.approx(expected.ece, abs=1e-9)

    check(1.0)
    accuracy_at_1 = readout(page, "accuracy")
    step_slider(page, "temperature", 10)  # ten steps of 0.05
    check(1.5)
    page.locator('input[data-name="temperature"]').fill("0.6")
    check(0.6)
    page.get_by_role("button", name="Set T to the fitted").click()
    fitted = round(data["fitted"] / data["slider"]["step"]) * data["slider"]["step"]
    check(fitted)
    assert readout(page, "accuracy") == accuracy_at_1, "temperature scaling must not change accuracy"
    assert readout(page, "ece") < temperature_readouts(logits, labels, 1.0, data["bins"]).ece
    assert_worked_offline(offline_page)


def test_exact_match_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    from lossacc.sequences import exact_match_readouts

    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/12_smooth_loss_sudden_accuracy.html")

    def check(p: float, length: int) -> None:
        expected = exact_match_readouts(p, length)
        for name, value in dataclasses.asdict(expected).items():
            assert readout(page, name.replace("_", "-")) == pytest.approx(value, abs=1e-12), name

    p, length = data["p"]["start"], data["length"]["start"]
    check(p, length)
    step_slider(page, "length", 15)  # to L = 20
    check(p, length + 15)
    step_slider(page, "p", 13)  # thirteen steps of 0.005: 0.9 -> 0.965, still below one half at L = 20
    check(round(p + 13 * data["p"]["step"], 10), length + 15)
    assert readout(page, "exact-match") < 0.5 and readout(page, "longest-half") == 19
    step_slider(page, "p", 1)
    assert readout(page, "exact-match") > 0.5 and readout(page, "longest-half") >= 20
    page.locator('input[data-name="p"]').fill("0.5")
    page.locator('input[data-name="length"]').fill("1")
    check(0.5, 1)
    assert readout(page, "longest-half") == 1
def test_significance_explorer_matches_the_library(offline_page: OfflinePage, site_url: str) -> None:
    from lossacc.significance import TwoModels, significance_readouts

    page = offline_page.page
    data = open_explorer(offline_page, site_url + "chapters/11_is_the_difference_real.html")
    models = TwoModels(*(np.array(data[key]) for key in ("base", "noise_a", "noise_b")))

    def check(shift: float, n: int) -> None:
        assert readout(page, "n") == n
        expected = significance_readouts(models, shift, n)
        for name, value in vars(expected).items():
            shown = name.replace("_", "-")
            if name != "n":
                assert readout(page, shown) == pytest.approx(value, rel=1e-9, abs=1e-12), name
        verdict = page.locator('[data-readout="verdict"]').inner_text()
        assert verdict.count("real (p < 0.05)") == (expected.accuracy_pvalue < 0.05) + (expected.loss_pvalue < 0.05)

    shift, log_n = data["shift"]["start"], data["log_n"]["start"]
    check(shift, round(10**log_n))
    step_slider(page, "log-n", 7)  # seven steps of 0.05 in log10 n
    check(shift, round(10 ** (log_n + 7 * data["log_n"]["step"])))
    page.locator('input[data-name="shift"]').fill("0")
    check(0.0, round(10 ** (log_n + 7 * data["log_n"]["step"])))
    assert readout(page, "accuracy-rank") == 0.5 and readout(page, "loss-needed") == float("inf")
    step_slider(page, "shift", 20)
    page.locator('input[data-name="log-n"]').fill("4")
    check(round(20 * data["shift"]["step"], 10), 10_000)
    assert_worked_offline(offline_page)


def test_explorers_work_from_a_page_opened_on_disk(browser: Browser, built_site: Path) -> None:
    """README: open ``_build/html/index.html`` in a browser. From ``file://`` a browser refuses
    module scripts, so the widget script must be a classic one; the live trainer's Web Worker
    (started from a Blob) must answer there too."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for name in ("02_same_accuracy_different_loss", "06_watch_it_overfit"):
        page.goto((built_site / "chapters" / f"{name}.html").as_uri())
        page.wait_for_selector(".lx-explorer input[type=range]", timeout=30_000)
    page.wait_for_selector('.lx-live:is([data-state="paused"], [data-state="done"])', timeout=60_000)
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
