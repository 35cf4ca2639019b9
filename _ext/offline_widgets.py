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

The vendored versions come from ``web_assets.py``. The build fails if the installed Python
anywidget has another version than the vendored front-end: the front-end must understand the
state the Python side writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from web_assets import ANYWIDGET, EMBEDDER, PACKAGES, REQUIREJS, VENDOR

EMBEDDER_DIR = f"{EMBEDDER.folder}/dist"


def check_vendored_assets(app: Sphinx) -> None:
    """Stop the build if a vendored file is missing or anywidget's two halves differ in version."""
    import anywidget

    if anywidget.__version__ != ANYWIDGET.version:
        raise ExtensionError(
            f"the installed anywidget is {anywidget.__version__} but the site vendors {ANYWIDGET.version}: "
            "install the version of _ext/web_assets.py (requirements.txt), or change it there and run "
            "scripts/vendor_web_assets.py"
        )
    for package in PACKAGES:
        for file in package.files:
            if not (Path(app.srcdir) / "assets" / package.folder / file).is_file():
                raise ExtensionError(f"assets/{package.folder}/{file} is missing: run scripts/vendor_web_assets.py")


def add_widget_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    if "ipywidgets_state" not in NbMetadataCollector.get_js_files(app.env, pagename):
        return
    pathto = context["pathto"]
    requirejs_config = {
        "paths": {
            "anywidget": pathto(f"{ANYWIDGET.folder}/dist/index", 1),
            "@jupyter-widgets/html-manager/dist": pathto(EMBEDDER_DIR, 1),
        }
    }
    app.add_js_file(None, body=f"var require = {json.dumps(requirejs_config)};")
    # Sphinx prefixes local script paths with "_static/"; "../" steps back to the site root.
    app.add_js_file(f"../{REQUIREJS.folder}/require.js")
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
    app.connect("builder-inited", check_vendored_assets)
    app.connect("html-page-context", add_widget_scripts, priority=600)
    app.connect("html-page-context", drop_thebe_loader)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
