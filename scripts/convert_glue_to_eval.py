"""Rewrite the chapters' MyST-NB glue into ``{eval}`` roles, which JupyterLab renders too.

Usage: python scripts/convert_glue_to_eval.py [NOTEBOOK ...]   (default: chapters/*.ipynb)

In the prose (Markdown cells):
    {glue:text}`key:.3f`    ->  {eval}`prose(key, ".3f")`
    {glue:text}`key`, {glue}`key`, {glue:}`key`, {glue:any}`key`, {glue:md}`key`  ->  {eval}`key`
        (a value glued as Markdown, e.g. by glue_sentences, is defined by prose_markdown,
        whose Markdown display the {eval} role renders as Markdown, inline)
    a {glue}, {glue:any} or {glue:md} directive (a pasted output, such as a Markdown table)
        ->  a code cell showing the value, right where the directive was, its input removed;
        `:format: myst` becomes the cell's `mystnb.render_markdown_format`
    a {glue:figure} (or {eval:figure}) directive  ->  a code cell showing the figure, right
        where the directive was, its input removed on the site and its caption, name and alt
        text in the cell's `mystnb` metadata (glue roles in the caption become eval roles):
        JupyterLab renders neither directive, and shows the cell's output as it is
In the code cells:
    glue_numbers(...), glue_words(...), glue_sentences(...)
        ->  prose_numbers(...), prose_words(...), prose_markdown(...)  (lossacc.notebook)
    glue("key", value, display=False)    ->  key = value
    from myst_nb import glue             ->  removed; `prose` is imported in the first hidden code cell

Idempotent: a converted notebook is left as it is. The notebooks are checked before any is
written: a glue form it cannot convert, or prose that uses a value defined only further
down, is reported in one line per place and nothing is written (exit status 1).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

GLUE_ROLE = re.compile(r"\{glue(?::(?:text|any|md))?:?\}`([^`]*)`")
PASTE_DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>(?:glue|eval):figure|glue(?::(?:any|md))?)\}[ \t]+(?P<key>\S+)[ \t]*\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*(?:\n|\Z)",
    re.MULTILINE | re.DOTALL)
FENCE_OPEN = re.compile(r"^(`{3,}|:{3,})\S")
FENCE_CLOSE = re.compile(r"^(`{3,}|:{3,})[ \t]*$")
# Directive options -> (section of the cell's `mystnb` metadata, key there).
FIGURE_OPTIONS = {"name": ("figure", "name"), "align": ("figure", "align"), "figclass": ("figure", "classes"),
                  "alt": ("image", "alt"), "width": ("image", "width"), "height": ("image", "height"),
                  "class": ("image", "classes")}
ANY_GLUE = re.compile(r"\{glue[^}]*\}")
EVAL_NAMES = re.compile(r"\{eval\}`(?:prose\()?([A-Za-z_]\w*)")
RENAMED = {"glue_numbers": "prose_numbers", "glue_words": "prose_words", "glue_sentences": "prose_markdown"}
# Options of a pasted-output directive -> the cell's `mystnb` metadata.
OUTPUT_OPTIONS = {"format": "render_markdown_format"}
HELPERS_IMPORT = re.compile(r"^from lossacc\.notebook import (\([^)]*\)|[^\n]+)$", re.MULTILINE)
# Linters see no use of `prose` in the code: the Markdown cells' {eval} roles call it.
PROSE_IMPORT = "from lossacc.notebook import prose  # noqa: F401 (the prose's {eval} roles call it)\n"
MYST_NB_GLUE_IMPORT = re.compile(r"^from myst_nb import glue[ \t]*\n?", re.MULTILINE)


class ConversionError(Exception):
    """A place the converter cannot rewrite by itself; the message names it."""


def convert_role(match: re.Match[str]) -> str:
    """One glue role as an eval role: the format spec, if any, moves into ``prose(...)``."""
    key, _, spec = match.group(1).partition(":")
    return f'{{eval}}`prose({key}, "{spec}")`' if spec else f"{{eval}}`{key}`"


def convert_markdown(source: str) -> str:
    return GLUE_ROLE.sub(convert_role, source)


def figure_cell(match: re.Match[str], where: str) -> nbformat.NotebookNode:
    """The code cell that shows the figure a figure directive pasted, with its caption and options."""
    key, body = match.group("key"), match.group("body")
    if not key.isidentifier():
        raise ConversionError(f"{where}: the figure {key!r} needs a Python name; convert it by hand")
    options, _, caption = body.partition("\n\n") if body.startswith(":") else ("", "", body)
    metadata: dict[str, dict[str, str]] = {"figure": {"caption": caption.strip()}} if caption.strip() else {"figure": {}}
    for line in options.splitlines():
        option, _, value = line.strip().lstrip(":").partition(":")
        if option not in FIGURE_OPTIONS:
            raise ConversionError(f"{where}: the figure option :{option}: has no cell-metadata form; convert it by hand")
        section, name = FIGURE_OPTIONS[option]
        metadata.setdefault(section, {})[name] = value.strip()
    cell = nbformat.v4.new_code_cell(key, metadata={"mystnb": metadata, "tags": ["remove-input"]})
    cell["id"] = "figure-" + re.sub(r"[^A-Za-z0-9-]", "-", metadata["figure"].get("name", key))[:50]
    return cell


def output_cell(match: re.Match[str], where: str) -> nbformat.NotebookNode:
    """The code cell that shows the value a glue directive pasted (``:format:`` kept)."""
    key, body = match.group("key"), match.group("body")
    if not key.isidentifier():
        raise ConversionError(f"{where}: the value {key!r} needs a Python name; convert it by hand")
    metadata: dict[str, str] = {}
    for line in body.strip().splitlines():
        option, _, value = line.strip().lstrip(":").partition(":")
        if option not in OUTPUT_OPTIONS:
            raise ConversionError(f"{where}: the glue option :{option}: has no cell-metadata form; convert it by hand")
        metadata[OUTPUT_OPTIONS[option]] = value.strip()
    cell = nbformat.v4.new_code_cell(key, metadata={"mystnb": metadata, "tags": ["remove-input"]} if metadata
                                     else {"tags": ["remove-input"]})
    cell["id"] = "output-" + re.sub(r"[^A-Za-z0-9-]", "-", key)[:50]
    return cell


def split_out_pasted(cell: nbformat.NotebookNode, where: str) -> list[nbformat.NotebookNode]:
    """A Markdown cell split around its figure and pasted-output directives, each replaced by a code cell."""
    pieces: list[nbformat.NotebookNode] = []
    start = 0
    for match in PASTE_DIRECTIVE.finditer(cell.source):
        before = cell.source[start:match.start()]
        lines = cell.source[:match.start()].splitlines()
        if sum(bool(FENCE_OPEN.match(line)) for line in lines) != sum(bool(FENCE_CLOSE.match(line)) for line in lines):
            raise ConversionError(f"{where}: a {{{match.group('kind')}}} directive inside another block; convert it by hand")
        if before.strip():
            pieces.append(nbformat.v4.new_markdown_cell(before.strip("\n"), metadata=dict(cell.metadata)))
        pieces.append(figure_cell(match, where) if match.group("kind").endswith("figure") else output_cell(match, where))
        start = match.end()
    if not pieces:
        return [cell]
    if cell.source[start:].strip():
        pieces.append(nbformat.v4.new_markdown_cell(cell.source[start:].strip("\n"), metadata=dict(cell.metadata)))
    for number, piece in enumerate(pieces):
        if piece.cell_type == "markdown":
            piece["id"] = cell["id"] if number == 0 else f"{cell['id']}-{number}"
    return pieces


def _offset(source: str, line: int, column: int) -> int:
    """The string offset of an ast (1-based line, 0-based UTF-8 column) position."""
    lines = source.splitlines(keepends=True)
    start = sum(len(text) for text in lines[: line - 1])
    return start + len(lines[line - 1].encode()[:column].decode()) if line <= len(lines) else start


def convert_glue_calls(source: str, where: str) -> str:
    """Each statement ``glue("key", value, display=False)`` becomes ``key = value``."""
    tree = ast.parse(source)
    edits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glue"):
            continue
        statement = next((s for s in ast.walk(tree) if isinstance(s, ast.Expr) and s.value is node), None)
        key = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        display = {k.arg: k.value for k in node.keywords}.get("display")
        quiet = isinstance(display, ast.Constant) and display.value is False
        if (statement is None or len(node.args) != 2 or not isinstance(key, str) or not key.isidentifier()
                or not quiet or len(node.keywords) != 1):
            raise ConversionError(f"{where}, line {node.lineno}: convert this glue(...) call by hand "
                                  "(only the statement glue(\"name\", value, display=False) is converted)")
        value = ast.get_source_segment(source, node.args[1])
        edits.append((_offset(source, node.lineno, node.col_offset),
                      _offset(source, node.end_lineno or node.lineno, node.end_col_offset or 0), f"{key} = {value}"))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def imported_helpers(source: str) -> set[str]:
    """The names a cell imports from ``lossacc.notebook``."""
    return {name.strip() for match in HELPERS_IMPORT.finditer(source)
            for name in match.group(1).split("#")[0].strip("() ").replace("\n", " ").split(",") if name.strip()}


def convert_code(source: str, where: str) -> str:
    for old, new in RENAMED.items():
        source = re.sub(rf"\b{old}\b", new, source)
    if re.search(r"\bglue\(", source):
        source = convert_glue_calls(source, where)
    if not re.search(r"\bglue\b", MYST_NB_GLUE_IMPORT.sub("", source)):
        source = MYST_NB_GLUE_IMPORT.sub("", source)
    return source


def defined_names(source: str) -> set[str]:
    """The names a code cell defines by name in its text: assignments, imports and prose_* keywords."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: no names to find
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RENAMED.values():
            names.update(keyword.arg for keyword in node.keywords if keyword.arg)
    return names


@dataclass
class Converted:
    path: Path
    notebook: nbformat.NotebookNode
    changed: bool = False
    problems: list[str] = field(default_factory=list)


def convert_notebook(path: Path) -> Converted:
    """Convert one notebook in memory and check that its prose uses only values defined above it."""
    notebook = nbformat.read(path, as_version=4)
    result = Converted(path, notebook)
    cells: list[nbformat.NotebookNode] = []
    for index, cell in enumerate(notebook.cells):
        try:
            cells += split_out_pasted(cell, f"{path.name}, cell {index}") if cell.cell_type == "markdown" else [cell]
        except ConversionError as error:
            result.problems.append(str(error))
            cells.append(cell)
    result.changed = len(cells) != len(notebook.cells)
    notebook.cells = cells
    for index, cell in enumerate(notebook.cells):
        where = f"{path.name}, cell {index}"
        try:
            new = convert_markdown(cell.source) if cell.cell_type == "markdown" else (
                convert_code(cell.source, where) if cell.cell_type == "code" else cell.source)
        except (ConversionError, SyntaxError) as error:
            result.problems.append(str(error) if isinstance(error, ConversionError) else f"{where}: {error.msg}")
            continue
        if cell.cell_type == "markdown" and ANY_GLUE.search(new):
            result.problems.append(f"{where}: convert {ANY_GLUE.search(new).group(0)} by hand")  # type: ignore[union-attr]
        result.changed |= new != cell.source
        cell.source = new
        caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
        if caption is not None and convert_markdown(caption) != caption:
            cell.metadata["mystnb"]["figure"]["caption"] = convert_markdown(caption)
            result.changed = True
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    uses_prose = any("{eval}`prose(" in cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    if uses_prose and code and not any("prose" in imported_helpers(cell.source) for cell in code):
        hidden = next((cell for cell in code if "remove-cell" in cell.metadata.get("tags", [])), code[0])
        hidden.source = PROSE_IMPORT + hidden.source
        result.changed = True
    result.problems += used_before_defined(path, notebook.cells)
    return result


def used_before_defined(path: Path, cells: Iterable[nbformat.NotebookNode]) -> list[str]:
    """Prose that shows a value whose name is defined only in a code cell below it."""
    cells = list(cells)
    problems = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        above = set().union(*(defined_names(c.source) for c in cells[:index] if c.cell_type == "code"))
        below = set().union(*(defined_names(c.source) for c in cells[index:] if c.cell_type == "code"))
        for name in sorted(set(EVAL_NAMES.findall(cell.source)) & (below - above)):
            problems.append(f"{path.name}, cell {index}: the prose shows `{name}` before the cell that defines it")
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted((ROOT / "chapters").glob("*.ipynb"))
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 1
    results = [convert_notebook(path) for path in paths]
    problems = [problem for result in results for problem in result.problems]
    if problems:
        print("\n".join(f"error: {problem}" for problem in problems), file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 1
    for result in results:
        if result.changed:
            nbformat.write(result.notebook, result.path)
        print(f"{'converted' if result.changed else 'unchanged'}: {result.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
