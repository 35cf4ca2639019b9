"""The explorer pattern: an anywidget whose JavaScript does all the computing.

An explorer ships its data to the page once (the ``data`` trait) and its JavaScript
computes every readout from the slider positions. It therefore responds in Jupyter and
in the built HTML site alike, with no kernel and no network. Each explorer has a
Python twin of its computation in the library; the browser test checks that both agree.

An explorer is ``explorer_kit.js`` (shared helpers) followed by its own file, which
defines ``render`` and ends with ``export default { render };``.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

ASSETS = Path(__file__).resolve().parent


def explorer_module(script_name: str) -> str:
    """The ES module of one explorer: the shared kit followed by the explorer's own script."""
    return (ASSETS / "explorer_kit.js").read_text() + "\n" + (ASSETS / script_name).read_text()


class Explorer(anywidget.AnyWidget):
    """Base class of the book's explorers; subclasses set ``_esm`` with :func:`explorer_module`."""

    _css = (ASSETS / "explorer.css").read_text()
    data = traitlets.Dict().tag(sync=True)
