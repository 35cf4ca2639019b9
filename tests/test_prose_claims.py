"""What the reader reads: no zero dressed as a quantity, no template artefact, and every glossary
term linked, in each chapter, at its first use there."""

from __future__ import annotations

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT, toc_notebooks

spec = importlib.util.spec_from_file_location("glossary_links", ROOT / "scripts" / "glossary_links.py")
assert spec is not None and spec.loader is not None
glossary_links = sys.modules["glossary_links"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(glossary_links)

ENTRIES = glossary_links.glossary_entries()
CHAPTERS = toc_notebooks()


# A number that rounds to zero, shown as if it were an amount ("gives up 0.0000 of accuracy").
ZERO_AMOUNT = re.compile(r"(?<![\d.])[-−+]?0\.0+(?!\d)")
# What an unfilled template or a failed value leaves behind.
ARTEFACTS = re.compile(r"\{eval\}|\{term\}|\{doc\}|\{numref\}|prose\(|\bnan\b|\binf\b|(?<![.!?:] )\bNone\b|\{[A-Za-z_]\w*\}")
DOUBLED_WORD = re.compile(r"\b(\w+)\s+\1\b", re.I)


class ProseCollector(HTMLParser):
    """The text a reader reads on a page: paragraphs, list items, captions and alt texts of the
    article, without code, outputs, tables and maths."""

    SKIP = {"pre", "code", "table", "script", "style", "math"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.depth_skipped = 0
        self.in_article = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        skip = tag in self.SKIP or "cell_output" in classes or "math" in classes or "cell_input" in classes
        if "math" in classes and self.in_article and not self.depth_skipped:
            self.parts.append("[maths]")  # a word in the sentence, though its text is left out
        if tag in {"br", "img", "hr", "meta", "link", "input", "wbr", "source"}:
            if tag == "img" and self.in_article and not self.depth_skipped:
                self.parts.append(attributes.get("alt") or "")
            return
        self.stack.append((tag, skip))
        self.depth_skipped += skip
        if tag == "article":
            self.in_article += 1

    def handle_endtag(self, tag: str) -> None:
        if tag not in (open_tag for open_tag, _ in self.stack):
            return  # a stray end tag
        while self.stack:
            open_tag, skip = self.stack.pop()
            self.depth_skipped -= skip
            self.in_article -= open_tag == "article"
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.in_article and not self.depth_skipped:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def prose_problems(html: str) -> list[str]:
    """Each zero shown as an amount, template artefact and doubled word in a page's prose."""
    collector = ProseCollector()
    collector.feed(html)
    text = collector.text
    problems = []
    for pattern, what in [(ZERO_AMOUNT, "a zero shown as an amount"), (ARTEFACTS, "a template artefact"),
                          (DOUBLED_WORD, "a doubled word")]:
        problems += [f"{what}: ...{text[max(0, m.start() - 40):m.end() + 40]}..." for m in pattern.finditer(text)]
    return problems


def test_the_prose_checks_catch_what_they_are_for() -> None:
    page = """<html><body><nav><p>0.0 in the sidebar is not prose</p></nav><article>
      <p>Selecting on it gives up only 0.0000 of accuracy.</p>
      <p>The loss falls by -0.000 here, and {eval}`prose(x, ".3f")` was not filled, nor was {best}.</p>
      <p>It is the the best epoch; T = 1.50 and 0.5 are fine, as is 10.0 and p = 0.</p>
      <div class="cell_output"><pre>0.0000 in a printed output is fine</pre></div>
      <table><tr><td>0.0000</td></tr></table>
      <p>Inline maths <span class="math notranslate nohighlight">\\(0.00\\)</span> is left out.</p>
      <img alt="A chart whose gap is nan."/>
    </article></body></html>"""
    problems = prose_problems(page)
    assert [p.split(":")[0] for p in problems] == [
        "a zero shown as an amount", "a zero shown as an amount",
        "a template artefact", "a template artefact", "a template artefact", "a template artefact",
        "a doubled word",
    ], problems
    assert "sidebar" not in " ".join(problems) and "printed output" not in " ".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem)
def test_no_chapter_shows_a_zero_as_an_amount_or_a_template_artefact(built_site: Path, notebook: Path) -> None:
    page = built_site / notebook.parent.name / f"{notebook.stem}.html"
    assert not prose_problems(page.read_text()), "\n".join(prose_problems(page.read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("page", ["intro", "teaching", "glossary"])
def test_no_other_page_shows_a_zero_as_an_amount_or_a_template_artefact(built_site: Path, page: str) -> None:
    assert not prose_problems((built_site / f"{page}.html").read_text())


@pytest.mark.slow
def test_every_glossary_term_in_a_chapter_is_a_link_to_its_entry(built_site: Path) -> None:
    """Tap, click or Enter on a term leads to its entry: the definition is reachable without hover."""
    for notebook in toc_notebooks():
        page = (built_site / notebook.parent.name / f"{notebook.stem}.html").read_text()
        spans = re.findall(r"<span class=\"xref std std-term\">", page)
        links = re.findall(r"<a class=\"reference internal\" href=\"\.\./glossary\.html#term-[\w-]+\"[^>]*>"
                           r"<span class=\"xref std std-term\">", page)
        assert len(links) == len(spans), notebook.stem


def test_the_first_use_finder_skips_what_is_not_a_use() -> None:
    entries = {"accuracy": ["accuracy"], "balanced accuracy": ["balanced accuracy"], "logit": ["logit"],
               "cross-entropy": ["cross-entropy", "log loss"], "recall": ["recall"]}
    text = ("# Accuracy in a heading\n\n**1. Recall.** A label.\n\nThe {term}`log loss <cross-entropy>` and "
            "`accuracy` in code, $accuracy$ in maths, then balanced accuracy, then logits, then "
            "{term}`accuracy`, then cross-entropy again.")
    uses = glossary_links.first_uses(text, entries)
    assert set(uses) == {"accuracy", "balanced accuracy", "logit", "cross-entropy"}  # no recall
    assert uses["accuracy"].ok and uses["cross-entropy"].ok
    assert not uses["balanced accuracy"].ok and not uses["logit"].ok


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem)
def test_each_glossary_term_is_linked_at_its_first_use_in_each_chapter(notebook: Path) -> None:
    uses = glossary_links.first_uses(glossary_links.markdown_text(notebook), ENTRIES)
    unlinked = [use.entry for use in uses.values() if not use.ok]
    assert not unlinked, f"{notebook.stem}: first uses not linked: {unlinked} (scripts/glossary_links.py --fix)"


def test_every_glossary_entry_is_used_and_linked_somewhere() -> None:
    linked = set()
    for notebook in toc_notebooks():
        uses = glossary_links.first_uses(glossary_links.markdown_text(notebook), ENTRIES)
        linked |= {entry for entry, use in uses.items() if use.linked is not None}
    assert set(ENTRIES) == linked, f"entries no chapter links: {sorted(set(ENTRIES) - linked)}"


def names_from_hidden_cells(cells: list[tuple[str, bool]]) -> list[str]:
    """Names that code the reader sees uses but only hidden cells define.

    ``cells``: (source, hidden) in order. The expected answers that exercise ``check(...)`` calls
    take are hidden on purpose, so names inside those calls do not count.
    """
    import ast

    def parse(source: str) -> ast.Module:
        lines = ["pass" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines()]
        return ast.parse("\n".join(lines))

    defined_visibly: set[str] = set(dir(__builtins__))
    defined_hidden: set[str] = set()
    found = []
    for source, hidden in cells:
        tree = parse(source)
        stores = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        stores |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        imports = [a for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names]
        stores |= {(a.asname or a.name).split(".")[0] for a in imports}
        if hidden:
            defined_hidden |= stores
            continue
        in_check = {
            id(name) for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
            for name in ast.walk(call)
        }
        loads = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in in_check]
        found += [name for name in loads if name in defined_hidden and name not in defined_visibly | stores]
        defined_visibly |= stores
    return sorted(set(found))


def test_names_from_hidden_cells_are_found() -> None:
    cells = [("import numpy as np\nlast = 3", True), ("from lossacc import check\nx = np.ones(last)", False),
             ("expected = 2", True), ("check(answer, expected)\n!ls {x}", False)]
    assert names_from_hidden_cells(cells) == ["last", "np"]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda path: path.stem)
def test_code_the_reader_sees_uses_no_name_only_a_hidden_cell_defines(notebook: Path) -> None:
    import nbformat

    cells = [
        (cell.source, "remove-cell" in cell.metadata.get("tags", []) or "remove-input" in cell.metadata.get("tags", []))
        for cell in nbformat.read(notebook, as_version=4).cells
        if cell.cell_type == "code"
    ]
    assert not names_from_hidden_cells(cells), notebook.stem
