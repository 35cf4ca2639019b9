"""Plotting helpers the chapters share, and how the chapters show a figure.

The chapters draw with matplotlib; these helpers hold the few conventions their figures
share, so that each figure cell shows only what it plots. :func:`themed_figure` is how every
figure is displayed (``lossacc.notebook`` sets it up in a notebook's kernel).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
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


# How the chapters show a figure ------------------------------------------------------------
#
# As a PNG that records the size of its smallest text, so that the page check
# (tests/page_layout.js) can tell how large that text is once the figure is scaled to a phone.

TEXT_SIZE_KEY = "lossacc-figure"  # PNG text chunk


def smallest_text(fig: Figure) -> tuple[str, float]:
    """The smallest text the figure shows, and its size in points (of its drawn size)."""
    fig.draw_without_rendering()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    if not texts:
        return "", float("inf")
    smallest = min(texts, key=lambda t: t.get_fontsize())
    return smallest.get_text().strip(), float(smallest.get_fontsize())


def themed_figure(fig: Figure) -> dict[str, str] | None:
    """IPython's display of a figure: a PNG recording its smallest text."""
    if not fig.axes:
        return None
    text, points = smallest_text(fig)
    record = json.dumps({"text": text, "points": points, "pixelsPerInch": fig.dpi})
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor=fig.get_facecolor(), metadata={TEXT_SIZE_KEY: record})
    return {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}
