"""Sphinx extension: the prose's ``{eval}`` roles see every cell above them, hidden ones too.

The book executes notebooks with MyST-NB's ``inline`` mode, in which a code cell runs when
the page is rendered up to it, and ``{eval}`name``` asks the kernel for a value at that
point, as JupyterLab does when it renders a Markdown cell. MyST-NB leaves ``remove-cell``
cells out of the page before rendering, so such a cell only runs once the next shown code
cell asks for its outputs: prose right after a hidden cell would be rendered before the
cell that defines its values. Here each Markdown cell first runs every cell above it.
"""

from __future__ import annotations

from typing import Any

from myst_nb.core.render import MditRenderMixin
from sphinx.application import Sphinx

_render_markdown = MditRenderMixin.render_nb_cell_markdown


def render_markdown_after_cells_above(self: Any, token: Any) -> None:
    """Run the cells above (a no-op when their outputs exist already), then render the cell."""
    if token.meta["index"] > 0:
        self.nb_client.code_cell_outputs(token.meta["index"] - 1)
    _render_markdown(self, token)


def setup(app: Sphinx) -> dict[str, bool]:
    MditRenderMixin.render_nb_cell_markdown = render_markdown_after_cells_above
    return {"parallel_read_safe": True, "parallel_write_safe": True}
