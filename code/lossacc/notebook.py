"""Helpers the chapter notebooks share: computed values glued into the prose, and tables.

MyST's ``{glue:text}`key:.3f``` formats a glued value; a NumPy 2 scalar is glued as its
repr (``np.float64(0.5)``), which does not format, so values are glued as plain Python
floats and strings. Needs ``myst_nb`` (installed with the book).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from IPython.display import Markdown


def glue_numbers(**values: float) -> None:
    """Glue each value as a plain float, for ``{glue:text}`` roles in the prose."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, float(value), display=False)


def glue_words(**values: object) -> None:
    """Glue each value as a string, for ``{glue:text}`` roles in the prose."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, str(value), display=False)


def glue_sentences(**values: str) -> None:
    """Glue each value as Markdown, for ``{glue:md}`` roles: whole sentences of the prose that
    depend on the numbers, set in the text's own weight (``{glue:text}`` sets values in bold)."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, Markdown(value), display=False)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Markdown:
    """A Markdown table with one row per sequence of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return Markdown("\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]))
