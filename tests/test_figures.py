"""The chapters' plotting helpers (learning-rate drop markers, the cut y axis, captioned
images) and how the chapters show a figure (light and dark renderings)."""

from __future__ import annotations

import base64
import colorsys
import io
import json
from collections.abc import Iterator
from xml.etree import ElementTree

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.pylabtools import select_figure_formats
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib_inline.config import InlineBackend
from PIL.PngImagePlugin import PngImageFile

from lossacc.figures import (
    DARK_BACKGROUND,
    DARK_COLORMAPS,
    DARK_FIGURE_MIME,
    TEXT_SIZE_KEY,
    _dark_rgba,
    captioned_images,
    cut_axis,
    dark_theme,
    double_softmax_figure,
    mark_drops,
    smallest_text,
    themed_figure,
)
from lossacc.notebook import use_themed_figures


@pytest.fixture
def ax() -> Iterator[Axes]:
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_mark_drops_draws_one_line_between_the_epochs_around_each_drop(ax: Axes) -> None:
    mark_drops(ax, [31, 61])
    assert [np.asarray(line.get_xdata())[0] for line in ax.get_lines()] == [30.5, 60.5]


def test_cut_axis_puts_the_top_above_most_values_and_marks_the_rest() -> None:
    epochs = np.arange(1, 21)
    loss = np.linspace(1.0, 0.5, 20)
    loss[:2] = [40.0, 9.0]  # two unsettled first epochs
    fig, ax = plt.subplots()
    top = cut_axis(ax, epochs, loss, np.full(20, np.nan))
    expected_top = 1.25 * np.quantile(loss, 0.9)
    assert top == pytest.approx(expected_top)
    assert ax.get_ylim() == pytest.approx((0.5 - 0.1 * (expected_top - 0.5), expected_top))
    (markers,) = ax.get_lines()
    assert np.asarray(markers.get_xdata()).tolist() == [1, 2] and np.asarray(markers.get_ydata()).tolist() == [top, top]
    plt.close(fig)


def test_cut_axis_marks_nothing_when_every_value_fits(ax: Axes) -> None:
    cut_axis(ax, np.arange(5), np.array([1.0, 0.9, 0.8, 0.7, 0.6]))
    assert not ax.get_lines()


def test_cut_axis_refuses_curves_of_the_wrong_length(ax: Axes) -> None:
    with pytest.raises(ValueError, match="one value per epoch"):
        cut_axis(ax, np.arange(5), np.ones(4))


# How the chapters show a figure: light and dark renderings, the smallest text recorded.


def rendered(fig: Figure) -> np.ndarray:
    """The figure as Agg draws it, RGBA floats in [0, 1]."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).astype(float) / 255


def on_page(rgba: np.ndarray, page: str) -> np.ndarray:
    """RGB of the image composited over a page of colour ``page``, as a browser shows it."""
    return rgba[..., :3] * rgba[..., 3:] + np.array(to_rgb(page)) * (1 - rgba[..., 3:])


def luminance(rgb: np.ndarray) -> float:
    return float((rgb @ [0.2126, 0.7152, 0.0722]).mean())


@pytest.fixture
def line_plot() -> Iterator[Figure]:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot([0, 1, 2], [1, 0, 2], color="black", label="validation")
    ax.bar([0, 1], [0.5, 1.0], color="lightgray", label="bars")
    ax.text(1, 1.5, "tiny", fontsize=6)
    ax.set(title="title", xlabel="epoch")
    ax.legend()
    yield fig
    plt.close(fig)


def test_smallest_text_is_the_smallest_text_drawn(line_plot: Figure) -> None:
    assert smallest_text(line_plot) == ("tiny", 6.0)


def test_dark_theme_turns_a_white_figure_dark_and_gives_every_colour_back(line_plot: Figure) -> None:
    line, text = line_plot.axes[0].lines[0], line_plot.axes[0].texts[0]
    before = rendered(line_plot)
    with dark_theme(line_plot):
        dark = rendered(line_plot)
        assert luminance(np.array(to_rgb(line.get_color()))) > 0.7  # black ink reads light
        assert luminance(np.array(to_rgb(text.get_color()))) > 0.7
    assert luminance(on_page(before, "white")) > 0.8
    assert luminance(on_page(dark, DARK_BACKGROUND)) < 0.2  # no bright slab on a dark page
    assert (dark[..., 3] < 1).mean() > 0.5  # the background is the page's, seen through
    assert np.array_equal(rendered(line_plot), before)  # the light figure is untouched afterwards


def test_dark_theme_keeps_hues_and_reverses_greys() -> None:
    blue, black, light_gray, white = _dark_rgba(["tab:blue", "black", "lightgray", "white"])
    h_before = colorsys.rgb_to_hls(*to_rgb("tab:blue"))[0]
    assert colorsys.rgb_to_hls(*blue[:3])[0] == pytest.approx(h_before)
    assert luminance(black[:3]) > luminance(light_gray[:3]) > luminance(white[:3])
    assert white[:3] == pytest.approx(to_rgb(DARK_BACKGROUND))


def test_dark_theme_never_touches_a_photo_and_darkens_a_white_middled_colour_map() -> None:
    photo = np.random.default_rng(0).random((8, 8, 3))
    fig, (top, bottom) = plt.subplots(2, 1)
    shown = top.imshow(photo, interpolation="nearest")
    heat = bottom.imshow(np.zeros((2, 5)), cmap="RdBu_r", vmin=-1, vmax=1)
    with dark_theme(fig):
        assert np.array_equal(shown.get_array(), photo) and shown.get_cmap().name == "viridis"
        assert heat.get_cmap().name == DARK_COLORMAPS["RdBu_r"]
        assert luminance(np.array(heat.get_cmap()(0.5)[:3])) < 0.2  # zero is dark, not white
    assert heat.get_cmap().name == "RdBu_r"
    plt.close(fig)


def shown(fig: Figure) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """The MIME bundle and metadata the chapters display for ``fig``."""
    display = themed_figure(fig)
    assert display is not None
    return display


def test_a_line_plot_shows_as_two_svgs_that_record_their_smallest_text(line_plot: Figure) -> None:
    bundle, _ = shown(line_plot)
    assert set(bundle) == {"image/svg+xml", DARK_FIGURE_MIME["image/svg+xml"]}
    for svg in bundle.values():
        description = ElementTree.fromstring(svg).find(".//{http://purl.org/dc/elements/1.1/}description")
        assert description is not None and description.text is not None
        assert json.loads(description.text) == {"text": "tiny", "points": 6.0, "pixelsPerInch": 96}
    assert bundle["image/svg+xml"] != bundle[DARK_FIGURE_MIME["image/svg+xml"]]


def test_a_figure_with_images_shows_as_png_at_twice_its_pixels() -> None:
    fig, ax = plt.subplots(figsize=(3, 3), dpi=100)
    ax.imshow(np.random.default_rng(1).random((8, 8, 3)))
    bundle, metadata = shown(fig)
    plt.close(fig)
    light = PngImageFile(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert light.width == 2 * metadata["image/png"]["width"]  # shown at half its pixels
    assert json.loads(light.text[TEXT_SIZE_KEY])["pixelsPerInch"] == 200
    assert 2.5 * 200 < light.width <= 3.2 * 200  # the tight bounding box of a 3-inch figure
    dark = PngImageFile(io.BytesIO(base64.b64decode(bundle[DARK_FIGURE_MIME["image/png"]])))
    assert dark.size == light.size


def test_captioned_images_gives_each_image_a_row_and_its_text_the_figure_size() -> None:
    image = np.zeros((4, 4, 3))
    fig = captioned_images([("wrong", [(image, "a"), (image, "b")]), ("right", [(image, "c")])])
    assert len(fig.axes) == 3
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["wrong", "", "right"]
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == ["a", "b", "c"]
    assert smallest_text(fig)[1] >= plt.rcParams["font.size"]
    plt.close(fig)


def test_a_kernel_that_imports_the_notebook_helpers_shows_figures_in_both_themes(line_plot: Figure) -> None:
    shell = InteractiveShell.instance()
    try:
        use_themed_figures()
        select_figure_formats(shell, {"png"})  # as the inline backend does when pyplot is imported first
        select_figure_formats(shell, InlineBackend.instance().figure_formats)  # and after: what it then selects
        assert shell.display_formatter is not None
        data, _ = shell.display_formatter.format(line_plot)
        assert {"image/svg+xml", DARK_FIGURE_MIME["image/svg+xml"]} <= set(data) and "image/png" not in data
    finally:
        InteractiveShell.clear_instance()
        InlineBackend.clear_instance()


def test_double_softmax_figure_draws_both_losses_as_torch_computes_them() -> None:
    import torch
    import torch.nn.functional as F

    p = np.linspace(0.01, 0.99, 50)
    surer = np.linspace(0.1, 0.95, 20)
    fig = double_softmax_figure(p, surer)
    top, bottom = fig.axes
    # The same predictions built here: the right loss is nll_loss of log p, the bug is
    # cross_entropy of p taken as logits.
    two = torch.tensor(np.stack([p, 1 - p], axis=1))
    ten = torch.tensor(np.column_stack([surer] + [(1 - surer) / 9] * 9))
    for ax, probs, x in [(top, two, p), (bottom, ten, np.arange(1, 21))]:
        truth = torch.zeros(len(probs), dtype=torch.long)
        right, bug = (np.asarray(line.get_xydata(), dtype=float) for line in ax.get_lines()[:2])
        np.testing.assert_allclose(right[:, 0], x)
        np.testing.assert_allclose(right[:, 1], F.nll_loss(torch.log(probs), truth, reduction="none").numpy())
        np.testing.assert_allclose(bug[:, 1], F.cross_entropy(probs, truth, reduction="none").numpy())
    floor = np.asarray(bottom.get_lines()[2].get_xydata(), dtype=float)[0, 1]
    assert floor == pytest.approx(np.log(1 + 9 / np.e))  # all mass on the truth, through the bug
    assert list(bottom.get_xticks()) == [1, 5, 10, 15, 20]
    legend = bottom.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["right loss", "buggy loss", "bug's floor, 10 classes"]
    plt.close(fig)
