"""Sphinx extension: a ``{term}`` reference shows its glossary definition when hovered.

Each reference to a glossary term gets the definition's text as its ``title`` attribute,
which the browser shows on hover: no script, nothing loaded, so it works offline.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes  # type: ignore[import-untyped]  # no stubs in the locked environment
from sphinx import addnodes
from sphinx.application import Sphinx

# A tooltip is plain text: the few LaTeX commands the glossary uses, as characters.
LATEX_AS_TEXT = {r"\ln": "ln", r"\approx": "≈", r"\sum": " Σ", r"\mathrm": "", r"\text": ""}


def plain(latex: str) -> str:
    """LaTeX from a definition's math as readable plain text, e.g. ``-\\ln p_y`` as ``-ln p_y``."""
    latex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", latex)
    for command, text in LATEX_AS_TEXT.items():
        latex = latex.replace(command, text)
    return re.sub(r"[{}]", "", latex)


def glossary_definitions(app: Sphinx) -> dict[str, str]:
    """``{"term-logit": "One of the raw scores ...", ...}`` for every term of every glossary."""
    docnames = {docname for (kind, _), (docname, _) in app.env.domaindata["std"]["objects"].items() if kind == "term"}
    definitions: dict[str, str] = {}
    for docname in docnames:
        for glossary in app.env.get_doctree(docname).findall(addnodes.glossary):
            for item in glossary.findall(nodes.definition_list_item):
                text = " ".join(" ".join(plain(definition.astext()).split()) for definition in item.findall(nodes.definition))
                for term in item.findall(nodes.term):
                    definitions.update(dict.fromkeys(term["ids"], text))
    return definitions


def add_term_titles(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    definitions: dict[str, str] | None = None
    for reference in doctree.findall(nodes.reference):
        if not any("std-term" in child.get("classes", []) for child in reference.children if isinstance(child, nodes.Element)):
            continue
        if definitions is None:
            definitions = glossary_definitions(app)
        anchor = reference.get("refuri", "").rpartition("#")[2] or reference.get("refid", "")
        if anchor in definitions:
            reference["reftitle"] = definitions[anchor]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", add_term_titles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
