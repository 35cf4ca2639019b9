"""Sphinx extension: each figure in the theme of the page, light or dark.

The chapters display a matplotlib figure as a light rendering (``image/svg+xml`` or
``image/png``, what JupyterLab shows) and a dark one under a MIME type of the book's own
(``lossacc.figures.DARK_FIGURE_MIME``). MyST-NB knows no such type: here it is written out as
an image like the light one. Before MyST-NB picks the output's MIME type for the page, the dark
image joins the light one in a box, each marked with the theme's class (``only-light``,
``only-dark``), so that the theme shows one of them, with the cell's caption and alt text. The
box keeps the images from being the caption's siblings: the theme hides a caption that follows
an ``only-dark`` image in the light theme. The dark image loads lazily, so that a page in the
light theme (and in print, which shows the light one) does not download it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from docutils import nodes  # type: ignore[import-untyped]  # no stubs in the locked environment
from myst_nb.core.render import MimeData, NbElementRenderer
from myst_nb.sphinx_ import SelectMimeType
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

from lossacc.figures import DARK_FIGURE_MIME

LIGHT_OF = {dark: light for light, dark in DARK_FIGURE_MIME.items()}
_render_mime_type = NbElementRenderer.render_mime_type


def render_mime_type(self: NbElementRenderer, data: MimeData) -> list[nodes.Element]:
    """A dark rendering is written out as an image of its light twin's type (MyST-NB would
    skip an unknown type with a warning)."""
    light = LIGHT_OF.get(data.mime_type)
    if light is None:
        return _render_mime_type(self, data)
    metadata = {light: data.output_metadata.get(data.mime_type, {})}
    return self.render_image(dataclasses.replace(data, mime_type=light, output_metadata=metadata))


def is_mime_bundle(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"


class PairThemedFigures(SphinxPostTransform):
    """Put each dark rendering beside its light one, before MyST-NB picks the MIME type."""

    default_priority = SelectMimeType.default_priority - 1

    def run(self, **kwargs: Any) -> None:
        for bundle in list(self.document.findall(is_mime_bundle)):
            by_type = {child["mime_type"]: child for child in bundle.children}
            for dark_type, light_type in LIGHT_OF.items():
                if dark_type not in by_type or light_type not in by_type:
                    continue
                light, dark = by_type[light_type], by_type.pop(dark_type)
                bundle.remove(dark)
                for image in light.findall(nodes.image):
                    image["classes"].append("only-light")
                for image in dark.findall(nodes.image):
                    image["classes"].append("only-dark")
                    image["loading"] = "lazy"  # a reader in the light theme never downloads it
                pair = nodes.container(classes=["themed-figure"])
                pair.extend([*light.children, *dark.children])
                light.clear()
                light.append(pair)


def setup(app: Sphinx) -> dict[str, bool]:
    NbElementRenderer.render_mime_type = render_mime_type
    app.add_post_transform(PairThemedFigures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
