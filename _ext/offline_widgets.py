"""Sphinx extension: run the explorers in the built site from the page itself, offline.

Every widget of the book is an anywidget, and the widget state MyST-NB embeds in a page holds
each widget's ES module, style sheet and data. ``assets/anywidget-embed.js`` (about 4 kB)
renders them with a minimal model that follows anywidget's front-end contract, so the site
needs neither the ipywidgets embedder (``@jupyter-widgets/html-manager``, 4.4 MB) nor
RequireJS nor anywidget's own front-end. ``_config.yml`` empties ``nb_ipywidgets_js`` (MyST-NB
would load those from public CDNs); this extension adds the module to each page that holds
widget state, and to no other page (it lives in ``assets/``, copied to the site root by
``html_extra_path``, because Jupyter Book adds every script of ``_static/`` to every page).

The module implements the contract of the anywidget the book pins (``ANYWIDGET_VERSION``,
equal to the pin of ``requirements.txt``): the build fails if another one is installed, so
that a newer anywidget's front-end is checked against the module first (the browser test).

Jupyter Book always loads sphinx-thebe, whose page scripts name thebe's CDN URL; this
book has thebe switched off, so those two scripts are dropped from every page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ANYWIDGET_VERSION = "0.11.0"
EMBED_MODULE = "anywidget-embed.js"  # in assets/, so at the site root


def check_anywidget_version(app: Sphinx) -> None:
    """Stop the build if the installed anywidget is not the one the page module follows."""
    import anywidget

    if anywidget.__version__ != ANYWIDGET_VERSION:
        raise ExtensionError(
            f"the installed anywidget is {anywidget.__version__}, but assets/{EMBED_MODULE} follows the "
            f"front-end of {ANYWIDGET_VERSION}: install that one (requirements.txt), or check the module "
            "against the new front-end and change ANYWIDGET_VERSION in _ext/offline_widgets.py"
        )


def add_widget_module(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    if "ipywidgets_state" in NbMetadataCollector.get_js_files(app.env, pagename):
        # Sphinx prefixes local script paths with "_static/"; "../" steps back to the site root.
        app.add_js_file(f"../{EMBED_MODULE}", loading_method="defer")


def drop_thebe_loader(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context["script_files"]
    scripts[:] = [
        script
        for script in scripts
        if not str(script.filename or "").endswith("sphinx-thebe.js")
        and "THEBE_JS_URL" not in script.attributes.get("body", "")
    ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_anywidget_version)
    app.connect("html-page-context", add_widget_module, priority=600)
    app.connect("html-page-context", drop_thebe_loader)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
