"""Sphinx extension: leave out of the site what the theme ships and the book does not use.

pydata-sphinx-theme loads ``_static/scripts/fontawesome.js`` (1.5 MB: every Font Awesome icon
as SVG, drawn by script) on every page, while its style sheet already carries Font Awesome's
icon font and a class for each icon, which the book's pages use (all of them solid icons,
``fa-solid-900.woff2``, 156 kB, fetched by the pages anyway). The theme's layout names the
script, so the site serves an empty one in its place; the icons show from the font. The
theme's source maps (``*.map``, 3.4 MB) serve a browser's developer tools only and are left
out. The theme itself is not changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

ICON_SCRIPT = "_static/scripts/fontawesome.js"
EMPTY_ICON_SCRIPT = "/* Left empty by _ext/lean_theme.py: the icons show from the theme's icon font. */\n"


def trim_theme_files(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    icon_script = Path(app.outdir) / ICON_SCRIPT
    if icon_script.is_file():
        icon_script.write_text(EMPTY_ICON_SCRIPT)
    for source_map in static.rglob("*.map"):
        source_map.unlink()


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", trim_theme_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
