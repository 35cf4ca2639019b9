"""Sphinx extension: MathJax 3 served by the site itself, only the parts the pages use.

The files come from the ``sphinx-mathjax-offline`` package (MathJax 3.2.2, Apache-2.0), whose
own extension copies the whole 24 MB distribution into every build. This one copies the
components a page loads instead: the loader (``startup.js``), MathJax's core, the TeX input
with its extensions (``input/tex.js`` loads an extension such as ``cancel`` only when a page
uses its macro), the CommonHTML output with its fonts (a font is fetched only when a page
shows a glyph of it), and the hidden MathML that screen readers read. Pages without math
load none of it (Sphinx's policy); a page with math loads 0.76 MB of it (and 55 kB of fonts)
instead of the 1.16 MB of ``tex-chtml.js``, which bundles MathJax's right-click menu as well
(the book leaves the menu out: copying and zooming an equation, and its accessibility
settings; the hidden MathML keeps the math readable to screen readers).

The math renders offline, in print and in ``scripts/build_pdf.sh`` as before: the CommonHTML
output is the one ``tex-chtml.js`` uses.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
SITE_FOLDER = "_static/mathjax"  # where the site serves MathJax from
LOADER = "startup.js"
# The components each page with math loads (the loader adds "core", which they need).
COMPONENTS = ("input/tex", "output/chtml", "a11y/assistive-mml")
# The files the site serves: the components, and what they fetch when a page needs it.
SERVED = (LOADER, "core.js", *(f"{component}.js" for component in COMPONENTS),
          "input/tex/extensions", "output/chtml/fonts/tex.js", "output/chtml/fonts/woff-v2")


def mathjax_source() -> Path:
    """The MathJax distribution inside the installed ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or spec.origin is None:
        raise ExtensionError(f"{MATHJAX_PACKAGE} is not installed (requirements.txt)")
    return Path(spec.origin).parent / "static" / "mathjax"


def configure_mathjax(app: Sphinx, config: Config) -> None:
    """Point Sphinx at the loader and tell the loader which components to load."""
    config.mathjax_path = f"mathjax/{LOADER}"
    mathjax = dict(config.mathjax3_config or {})
    mathjax["loader"] = {"load": list(COMPONENTS)}
    config.mathjax3_config = mathjax


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / SITE_FOLDER
    if target.exists():
        shutil.rmtree(target)
    for name in SERVED:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)


def setup(app: Sphinx) -> dict[str, Any]:
    mathjax_source()  # fail early when the package is missing
    app.connect("config-inited", configure_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
