"""The front-end packages the built site serves itself: the one table of their versions.

Read by the Sphinx extension (``offline_widgets.py``), by ``scripts/vendor_web_assets.py``
(which copies each package's files into ``assets/vendor/npm/<name>@<version>/``) and by
the tests. The Python ``anywidget`` pinned in ``requirements.txt`` must have the version of
the vendored front-end (the build and ``tests/test_build_config.py`` check it).
"""

from __future__ import annotations

from dataclasses import dataclass

VENDOR = "vendor/npm"  # under assets/, copied to the site root


@dataclass(frozen=True)
class WebPackage:
    """An npm package, its pinned version and the files of it the site needs."""

    name: str
    version: str
    files: tuple[str, ...]

    @property
    def folder(self) -> str:
        """Its folder in the site (and under ``assets/``), laid out like a public npm CDN."""
        return f"{VENDOR}/{self.name}@{self.version}"


REQUIREJS = WebPackage("requirejs", "2.3.8", ("require.js",))  # its MIT license is in the file header
# The widget embedder and the icon font its style sheet asks for (Font Awesome's solid face).
EMBEDDER = WebPackage("@jupyter-widgets/html-manager", "1.0.6",
                      ("dist/embed-amd.js", "dist/1551f4f60c37af51121f.woff2", "LICENSE"))
ANYWIDGET = WebPackage("anywidget", "0.11.0", ("dist/index.js", "LICENSE"))

PACKAGES = (REQUIREJS, EMBEDDER, ANYWIDGET)
