"""Tables for the chapters: a tabular result shown as a table, never as text in aligned columns.

Text printed in aligned columns wraps into nonsense on a phone and cannot be sorted, copied
into a spreadsheet or read by a screen reader. ``table(frame, ".3f", caption=...)`` shows a
pandas DataFrame (or columns given by name) as an HTML table, on the site and in JupyterLab,
with its numbers rounded and a caption that says what it holds. The book's CSS
(``_static/book.css``) narrows tables on a phone and gives one that still does not fit a
scroll cue.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
from pandas.io.formats.style import Styler


def table(
    frame: pd.DataFrame | Mapping[str, Sequence[object]],
    formats: str | Mapping[str, str] = "",
    caption: str = "",
    index: bool = False,
) -> Styler:
    """``frame`` (a DataFrame, or columns by name) as an HTML table to display.

    ``formats`` is a format spec for every fractional number (``".3f"``) or one per column
    (``{"p": ".2f", "loss": ".3f"}``; other columns show as they are); whole numbers and
    text are shown as they are, an exact zero as ``0`` (not ``0.000``, which reads as a rounded
    amount), and a missing value (None, NaN) as an empty cell.
    The caption says what the table holds; the index (the row labels) is shown only if
    ``index``, as the first column.
    """
    frame = pd.DataFrame(frame)
    if index:  # the row labels become the first column: one header row, labels left-aligned
        frame = frame.reset_index(names=frame.index.name or "")
    specs = dict.fromkeys(frame.columns, formats) if isinstance(formats, str) else dict(formats)
    unknown = set(specs) - set(frame.columns)
    if unknown:
        raise KeyError(f"formats for columns the table lacks: {sorted(map(str, unknown))}")

    def formatter(spec: str) -> Callable[[object], str]:
        def shown(value: object) -> str:
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return ""  # nothing to show: an empty group, a value that does not apply
            if spec and isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
                # An exact zero is no amount (what the best gives up against itself): "0", not "0.0000".
                return "0" if value == 0 else format(value, spec)
            return str(value)

        return shown

    styler = frame.style.format({column: formatter(spec) for column, spec in specs.items()})
    # A heading joined by underscores (a file name) may break after each one on a narrow screen.
    styler = styler.format_index(lambda label: html.escape(str(label)).replace("_", "_<wbr>"), axis="columns")
    styler = styler.set_table_attributes('class="dataframe lx-table"')
    if caption:
        styler = styler.set_caption(caption)
    return styler.hide(axis="index")
