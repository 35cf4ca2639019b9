"""Plotting helpers the chapters share, and how the chapters show a figure.

The chapters draw with matplotlib; these helpers hold the few conventions their figures
share, so that each figure cell shows only what it plots. :func:`themed_figure` is how every
figure is displayed (``lossacc.notebook`` sets it up in a notebook's kernel): in a light and a
dark rendering, sharp on high-density screens.
"""

from __future__ import annotations

import base64
import colorsys
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.collections import Collection
from matplotlib.colors import to_rgba, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from numpy.typing import ArrayLike


def mark_drops(ax: Axes, drops: Iterable[int]) -> None:
    """Draw a dotted vertical line half an epoch before each learning-rate drop.

    ``drops`` are the first epochs at each smaller rate (as ``lossacc.run_analysis.lr_drops``
    returns them), so the line sits between the last epoch at the old rate and the first at the new.
    """
    for drop in drops:
        ax.axvline(drop - 0.5, color="gray", ls=":", lw=1)


def cut_axis(ax: Axes, epochs: ArrayLike, *curves: ArrayLike, quantile: float = 0.9, headroom: float = 1.25) -> float:
    """Cut the y axis above most values, so that a few unstable epochs do not flatten the rest.

    The top of the axis is ``headroom`` times the ``quantile`` of all the curves' values (NaN
    ignored); the bottom leaves a tenth of the range below the smallest value. Points above the
    top are marked with a black triangle on the top edge. Returns the top.
    """
    x = np.asarray(epochs)
    ys = [np.asarray(curve, dtype=float) for curve in curves]
    if not ys or any(y.shape != x.shape for y in ys):
        raise ValueError("cut_axis needs at least one curve, each with one value per epoch")
    values = np.concatenate(ys)
    top = float(headroom * np.nanquantile(values, quantile))
    bottom = float(np.nanmin(values))
    ax.set_ylim(bottom - 0.1 * (top - bottom), top)
    for y in ys:
        above = y > top
        if above.any():
            ax.plot(x[above], np.full(int(above.sum()), top), "^", color="black", ms=6, clip_on=False)
    return top


def captioned_images(groups: Sequence[tuple[str, Sequence[tuple[ArrayLike, str]]]], width: float = 5.0) -> Figure:
    """Small images one under the other, each with its text beside it, under a title per group.

    One image a row leaves the text the figure's whole width, so that photos and text stay
    large enough to read when the figure is scaled to a phone (each row is 1.1 inches high).
    """
    import matplotlib.pyplot as plt  # only where a figure is made: the display code needs no pyplot

    rows = sum(len(items) for _, items in groups)
    fig, axes = plt.subplots(rows, 1, figsize=(width, 1.15 * rows + 0.3 * len(groups)))
    axes = iter(np.atleast_1d(axes))
    for title, items in groups:
        for row, (image, text) in enumerate(items):
            ax = next(axes)
            ax.imshow(image, interpolation="nearest")
            ax.set(xticks=[], yticks=[], anchor="W")
            ax.text(1.12, 0.5, text, transform=ax.transAxes, va="center")
            if row == 0:
                ax.set_title(title, loc="left")
    return fig


def double_softmax_figure(two_class_p: ArrayLike, true_class_p: ArrayLike) -> Figure:
    """The right loss ``-ln p_y`` and the double-softmax bug's ``-ln softmax(p)_y``, two panels.

    Top: one two-class prediction whose true class has probability ``two_class_p`` (a grid),
    both losses against it. Bottom: a ten-class model whose true class has probability
    ``true_class_p[e - 1]`` after epoch ``e`` (the rest spread evenly over the nine other
    classes), both losses per epoch, with the lowest loss the bug can report.
    """
    num_classes = 10
    import matplotlib.pyplot as plt  # only where a figure is made: the display code needs no pyplot

    from lossacc.double_softmax import double_softmax_loss_range, double_softmax_per_example_loss
    from lossacc.metrics import per_example_loss_from_probs

    p = np.asarray(two_class_p, dtype=np.float64)
    two_class = np.stack([p, 1 - p], axis=1)
    surer = np.asarray(true_class_p, dtype=np.float64)
    epochs = np.arange(1, len(surer) + 1)
    many_class = np.column_stack([surer] + [(1 - surer) / (num_classes - 1)] * (num_classes - 1))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.0, 6.4))
    for ax, x, probs, styles, labels in [
        (top, p, two_class, ("-", "--"), (r"right: $-\ln p_y$", r"bug: $-\ln\,\mathrm{softmax}(p)_y$")),
        (bottom, epochs, many_class, ("o-", "s--"), ("right loss", "buggy loss")),
    ]:
        truth = np.zeros(len(probs), dtype=int)  # the true class is the first
        ax.plot(x, per_example_loss_from_probs(probs, truth), styles[0], label=labels[0])
        ax.plot(x, double_softmax_per_example_loss(probs, truth), styles[1], label=labels[1])
    top.set(xlabel="probability of the true class", ylabel="loss", title="Two classes", ylim=(0, 4))
    top.legend()
    floor_label = f"bug's floor, {num_classes} classes"
    bottom.axhline(double_softmax_loss_range(num_classes)[0], color="gray", lw=0.8, ls=":", label=floor_label)
    bottom.set(xlabel="epoch", ylabel="loss", title="Ten classes, a model growing surer")
    bottom.set_xticks([1, *range(5, len(epochs) + 1, 5)])
    bottom.legend()
    return fig


# How the chapters show a figure ------------------------------------------------------------
#
# A figure is shown twice over: a light rendering (white background, the figure as drawn) and
# a dark one (the same figure re-rendered with its ink, grey fills and background recoloured for
# a dark page; photos are never touched), so that the site can show the one that matches its
# theme. Line plots are SVG (sharp at any zoom and smaller than a PNG at twice the pixels);
# figures that hold images (photos, heatmaps) are PNG at twice the pixels of their size on the
# page, for high-density screens. Each file records the size of its smallest text, so that the
# page check (tests/page_layout.js) can tell how large that text is once the figure is scaled to
# a phone.

DARK_FIGURE_MIME = {
    "image/svg+xml": "image/x-lossacc-dark+svg+xml",
    "image/png": "image/x-lossacc-dark+png",
}
"""The MIME type of each format's dark rendering. JupyterLab shows the light one (it renders no
such type); the book's Sphinx extension ``_ext/themed_figures.py`` shows each by theme."""
TEXT_SIZE_KEY = "lossacc-figure"  # PNG text chunk; in SVG the Description of its metadata
PIXEL_DENSITY = 2  # PNG pixels per CSS pixel
DARK_BACKGROUND = "#121212"  # the book's dark page (sphinx-book-theme)
DARK_COLORMAPS = {"RdBu_r": "berlin", "RdBu": "berlin_r", "coolwarm": "berlin", "bwr": "berlin"}
"""Diverging colour maps whose white middle would glow on a dark page, and their dark-middled
twins (same ends, blue to red)."""


def smallest_text(fig: Figure) -> tuple[str, float]:
    """The smallest text the figure shows, and its size in points (of its drawn size)."""
    fig.draw_without_rendering()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    if not texts:
        return "", float("inf")
    smallest = min(texts, key=lambda t: t.get_fontsize())
    return smallest.get_text().strip(), float(smallest.get_fontsize())


def _dark_rgba(colors: ArrayLike) -> np.ndarray:
    """Each RGBA colour as it reads on a dark page.

    Greys reverse their lightness (black ink becomes light grey, light grey fills become dark grey)
    and white becomes the page; colours keep their hue and saturation, darker ones brightened so
    that they stand out from the page and pale tints darkened so that they do not glow. Alpha is
    kept.
    """
    rgba = np.array(to_rgba_array(colors), dtype=float)
    for row in rgba:
        high, low = row[:3].max(), row[:3].min()
        lightness = (high + low) / 2
        if high - low < 0.12:  # grey
            row[:3] = to_rgba(DARK_BACKGROUND)[:3] if lightness > 0.97 else 0.88 - 0.62 * lightness
        else:
            hue, _, saturation = colorsys.rgb_to_hls(*row[:3])
            new = 0.3 if lightness > 0.8 else max(lightness, 0.55)
            row[:3] = colorsys.hls_to_rgb(hue, new, saturation)
    return rgba


@contextmanager
def dark_theme(fig: Figure) -> Iterator[None]:
    """Recolour ``fig`` for a dark page while the block runs; its colours come back afterwards.

    The background becomes transparent, ink, lines and fills are recoloured by
    :func:`_dark_rgba`, diverging colour maps are swapped for their dark-middled twins
    (:data:`DARK_COLORMAPS`), and images in colour (photos) are left as they are.
    """
    undo: list[tuple[Callable[[Any], object], Any]] = []

    def recolor(get: Callable[[], Any], set_: Callable[[Any], object], transparent_if_white: bool = False) -> None:
        old = get()
        if isinstance(old, str) and old == "none":
            return
        rgba = np.array(to_rgba_array(old))
        if not len(rgba) or not rgba[:, 3].any():
            return
        new = _dark_rgba(rgba)
        if transparent_if_white and (rgba[:, :3] > 0.97).all():
            new[:, 3] = 0
        undo.append((set_, old))
        set_(new[0] if np.ndim(old) < 2 or len(new) == 1 else new)

    recolor(fig.patch.get_facecolor, fig.patch.set_facecolor, transparent_if_white=True)
    axes_patches = {id(ax.patch) for ax in fig.axes}
    for artist in fig.findobj():
        if artist is fig.patch:
            continue
        if isinstance(artist, AxesImage):
            name, values = artist.get_cmap().name, artist.get_array()
            if values is not None and values.ndim == 2 and name in DARK_COLORMAPS:
                undo.append((artist.set_cmap, name))
                artist.set_cmap(DARK_COLORMAPS[name])
        elif isinstance(artist, Line2D):
            recolor(artist.get_color, artist.set_color)
            recolor(artist.get_markerfacecolor, artist.set_markerfacecolor)
            recolor(artist.get_markeredgecolor, artist.set_markeredgecolor)
        elif isinstance(artist, Text):
            recolor(artist.get_color, artist.set_color)
            box = artist.get_bbox_patch()
            if box is not None:
                recolor(box.get_facecolor, box.set_facecolor)
                recolor(box.get_edgecolor, box.set_edgecolor)
            arrow = getattr(artist, "arrow_patch", None)
            if arrow is not None:
                recolor(arrow.get_edgecolor, arrow.set_edgecolor)
                recolor(arrow.get_facecolor, arrow.set_facecolor)
        elif isinstance(artist, Patch):
            recolor(artist.get_facecolor, artist.set_facecolor, transparent_if_white=id(artist) in axes_patches)
            recolor(artist.get_edgecolor, artist.set_edgecolor)
        elif isinstance(artist, Collection) and artist.get_array() is None:
            recolor(artist.get_facecolor, artist.set_facecolor)
            recolor(artist.get_edgecolor, artist.set_edgecolor)
    try:
        yield
    finally:
        for set_, old in reversed(undo):
            set_(old)


def _render(fig: Figure, fmt: str, text: tuple[str, float]) -> tuple[str, dict[str, float]]:
    """``fig`` as an SVG document or a base64 PNG, and its display size, recording its smallest text."""
    pixels_per_inch = 96 if fmt == "svg" else PIXEL_DENSITY * fig.dpi  # CSS px are 1/96 in
    record = json.dumps({"text": text[0], "points": text[1], "pixelsPerInch": pixels_per_inch})
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "lossacc"}):  # the same figure gives the same file
        metadata = {"Description": record, "Date": None} if fmt == "svg" else {TEXT_SIZE_KEY: record}
        fig.savefig(buffer, format=fmt, dpi=PIXEL_DENSITY * fig.dpi, bbox_inches="tight",
                    facecolor=fig.get_facecolor(), metadata=metadata)
    data = buffer.getvalue()
    if fmt == "svg":
        return data.decode(), {}
    width = int.from_bytes(data[16:20], "big")  # the PNG header's width
    return base64.b64encode(data).decode("ascii"), {"width": width / PIXEL_DENSITY}


def themed_figure(fig: Figure) -> tuple[dict[str, str], dict[str, dict[str, float]]] | None:
    """IPython's display of a figure: its light rendering, and its dark one (:func:`dark_theme`)
    under :data:`DARK_FIGURE_MIME`, as a MIME bundle and its metadata. SVG unless the figure
    holds images (PNG at :data:`PIXEL_DENSITY` times its pixels)."""
    if not fig.axes:
        return None
    mime = "image/png" if any(ax.images for ax in fig.axes) else "image/svg+xml"
    fmt = mime.split("/")[1].split("+")[0]
    text = smallest_text(fig)
    light, size = _render(fig, fmt, text)
    with dark_theme(fig):
        dark, _ = _render(fig, fmt, text)
    return {mime: light, DARK_FIGURE_MIME[mime]: dark}, {mime: size, DARK_FIGURE_MIME[mime]: size}
