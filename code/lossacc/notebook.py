"""Helpers the chapter notebooks share: computed values shown in the prose, and tables.

The prose shows a computed value with MyST's ``{eval}`` role, which evaluates a Python
expression in the notebook's kernel: on the built site (MyST-NB, inline execution) and in
JupyterLab (``jupyterlab-myst``) alike. A hidden cell names the values,
``prose_numbers(train_loss=loss)``, and the prose formats them,
``{eval}`prose(train_loss, ".3f")```; ``{eval}`run_device``` shows a word as it is, and a
sentence defined with ``prose_markdown`` is rendered as Markdown.

``prose(...)`` returns :class:`ProseText`, whose plain-text display is the text itself: a
``str`` would display as its repr, in quotes and with escapes. Numbers are kept as plain
Python floats: NumPy 2 scalars display as ``np.float64(0.5)``.

Imported in a Jupyter kernel, this module also sets up how the notebook shows matplotlib
figures (:func:`use_themed_figures`): a light and a dark rendering of each, for the site's two
themes, sharp on high-density screens.
"""

from __future__ import annotations

import keyword
import sys
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from IPython import get_ipython
from IPython.display import Markdown

# Where a notebook's namespace records the names that prose_numbers/prose_words defined.
_PROSE_NAMES = "__prose_names__"


@dataclass(frozen=True)
class ProseText:
    """Text for the prose: ``{eval}`` shows it as it is, without quotes."""

    text: str

    def __str__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display (the text/plain of an ``{eval}`` result)."""
        printer.text(self.text)


@dataclass(frozen=True, repr=False)  # a repr of its own would hide ProseText's plain-text display
class ProseMarkdown(ProseText):
    """Markdown for the prose: ``{eval}`` renders it inline (its text/markdown display), on the
    site and in JupyterLab; its plain-text display is the Markdown source."""

    def _repr_markdown_(self) -> str:
        return self.text


def prose(value: object, spec: str = "") -> ProseText:
    """``value`` formatted with the format ``spec`` (``".3f"``, ``".1%"``), for ``{eval}``."""
    return ProseText(format(value, spec))


def _equal(a: object, b: object) -> bool:
    try:
        return a is b or bool(a == b)
    except (TypeError, ValueError):  # arrays compare element by element
        return False


def _define(namespace: MutableMapping[str, Any], values: dict[str, object], shown: Callable[[object], object]) -> None:
    """Bind ``shown(value)`` to each name in ``namespace``.

    A variable the notebook made itself is left as it is when it holds that very value
    (``prose_numbers(ratio=ratio)``) and is never overwritten with another.
    """
    ours: set[str] = namespace.setdefault(_PROSE_NAMES, set())
    for name, value in values.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{name!r} is not a Python name; values shown in the prose need one")
        if name in namespace and name not in ours:
            if _equal(namespace[name], value):
                continue
            raise ValueError(f"{name!r} is already a variable of this notebook; give the value shown in the prose another name")
        namespace[name] = shown(value)
        ours.add(name)


def prose_numbers(**values: float) -> None:
    """Define each value as a float variable of the calling notebook, for ``{eval}`prose(name, ".3f")```."""
    _define(sys._getframe(1).f_globals, values, lambda value: float(value))  # type: ignore[arg-type]


def prose_words(**values: object) -> None:
    """Define each value, as text, as a variable of the calling notebook, for ``{eval}`name```."""
    _define(sys._getframe(1).f_globals, values, lambda value: ProseText(str(value)))


def prose_markdown(**values: object) -> None:
    """Define each value as Markdown text of the calling notebook, for ``{eval}`name```: whole
    sentences that depend on the numbers, with their own emphasis."""
    _define(sys._getframe(1).f_globals, values, lambda value: ProseMarkdown(str(value)))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Markdown:
    """A Markdown table with one row per sequence of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return Markdown("\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]))


def _themed_figure(fig: Any) -> Any:
    from lossacc.figures import themed_figure  # matplotlib is imported once a figure is shown

    return themed_figure(fig)


def use_themed_figures() -> None:
    """Show each matplotlib figure of this IPython session with :func:`lossacc.figures.themed_figure`:
    light and dark renderings (SVG, or PNG at twice the pixels for figures with images).

    The inline backend's own PNG is switched off (its ``figure_formats`` emptied; this holds
    whether pyplot is imported before or after), so that it does not take the place of the
    light rendering. Outside IPython this does nothing.
    """
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.config import InlineBackend  # imports nothing from matplotlib

    InlineBackend.instance(parent=shell).figure_formats = set()
    shell.display_formatter.mimebundle_formatter.for_type_by_name("matplotlib.figure", "Figure", _themed_figure)


if "ipykernel" in sys.modules:  # a notebook's kernel: its figures follow the site's theme
    use_themed_figures()
