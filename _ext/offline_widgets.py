"""Sphinx extension: serve the ipywidgets embedder and anywidget's front-end from the site.

MyST-NB's defaults load RequireJS, ``@jupyter-widgets/html-manager`` and every widget
module from public CDNs, so widget cells are blank offline. ``_config.yml`` empties
``nb_ipywidgets_js``; this extension adds the vendored copies (``assets/vendor/npm``,
copied to the site root by ``html_extra_path``) to each page that holds widget state.
A RequireJS configuration, written before RequireJS loads, maps the ``anywidget`` module
and the embedder's own folder (where it finds its icon font) to those copies, with paths
relative to the page.

Jupyter Book always loads sphinx-thebe, whose page scripts name thebe's CDN URL; this
book has thebe switched off, so those two scripts are dropped from every page.

The build fails if the vendored anywidget front-end and the installed Python package
differ in version: the front-end must understand the state the Python side writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

VENDOR = "vendor/npm"
REQUIREJS = f"{VENDOR}/requirejs@2.3.8/require.js"
EMBEDDER_DIR = f"{VENDOR}/@jupyter-widgets/html-manager@1.0.6/dist"


def _anywidget_dir() -> str:
    from anywidget._version import __version__

    return f"{VENDOR}/anywidget@{__version__}/dist"


def check_vendored_anywidget(app: Sphinx) -> None:
    vendored = Path(app.srcdir) / "assets" / _anywidget_dir() / "index.js"
    if not vendored.is_file():
        raise ExtensionError(
            f"the installed anywidget has no vendored front-end at {vendored}: "
            "pin the same version in scripts/vendor_web_assets.py and run it"
        )


def add_widget_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    if "ipywidgets_state" not in NbMetadataCollector.get_js_files(app.env, pagename):
        return
    pathto = context["pathto"]
    requirejs_config = {
        "paths": {
            "anywidget": pathto(f"{_anywidget_dir()}/index", 1),
            "@jupyter-widgets/html-manager/dist": pathto(EMBEDDER_DIR, 1),
        }
    }
    app.add_js_file(None, body=f"var require = {json.dumps(requirejs_config)};")
    # Sphinx prefixes local script paths with "_static/"; "../" steps back to the site root.
    app.add_js_file(f"../{REQUIREJS}")
    app.add_js_file(f"../{EMBEDDER_DIR}/embed-amd.js", **{"data-jupyter-widgets-cdn": pathto(f"{VENDOR}/", 1)})


def drop_thebe_loader(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context["script_files"]
    scripts[:] = [
        script
        for script in scripts
        if not str(script.filename or "").endswith("sphinx-thebe.js")
        and "THEBE_JS_URL" not in script.attributes.get("body", "")
    ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_vendored_anywidget)
    app.connect("html-page-context", add_widget_scripts, priority=600)
    app.connect("html-page-context", drop_thebe_loader)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
