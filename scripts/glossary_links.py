"""Where each glossary term is first used in a chapter, and whether that use links to the glossary.

The book promises that a chapter links a glossary term at its first use there
(``{term}`text <entry>```). This module finds, in the Markdown cells of a notebook, the first
use of each entry of ``glossary.md`` (any of its names, singular or plural) outside headings,
code, maths, links and other roles, and the first ``{term}`` role that points to it.
``tests/test_glossary_links.py`` checks every chapter with it.

    python scripts/glossary_links.py chapters/05_confidence_and_calibration.ipynb         # report
    python scripts/glossary_links.py --fix chapters/05_confidence_and_calibration.ipynb   # link them
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# How a name is written in running text, where that differs from the name itself.
SPELLINGS = {"top-k accuracy": r"top-(?:\$k\$|k|\d+)\s+accurac(?:y|ies)"}

TERM_ROLE = re.compile(r"\{term\}`(?:([^`<]*?)\s*<([^`>]+)>|([^`]+))`")
# Text that is not running prose: fenced blocks, maths, other roles, inline code, link
# targets and texts, headings, directive lines and the exercises' bold labels.
NOT_PROSE = [
    re.compile(r"^```.*?^```", re.M | re.S),
    re.compile(r"\$\$.*?\$\$", re.S),
    re.compile(r"\$[^$\n]+\$"),
    re.compile(r"\{[a-z:]+\}`[^`]*`"),
    re.compile(r"`[^`]*`"),
    re.compile(r"\[[^\]]*\]\([^)]*\)"),
    re.compile(r"^#.*$", re.M),
    re.compile(r"^:::.*$", re.M),
    re.compile(r"\*\*\d+\. [^*]*\*\*"),
]


def glossary_entries(glossary: Path = ROOT / "glossary.md") -> dict[str, list[str]]:
    """``{first name: [all names]}`` for each entry of the ``{glossary}`` block."""
    block = glossary.read_text().split("```{glossary}", 1)[1].split("```", 1)[0]
    entries: dict[str, list[str]] = {}
    names: list[str] = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            names.append(line.strip())
        elif names:
            entries[names[0]] = names
            names = []
    return entries


def _pattern(name: str) -> str:
    spelled = SPELLINGS.get(name, r"\s+".join(re.escape(word) for word in name.split()) + r"(?:s|es)?")
    return rf"(?<![\w-]){spelled}(?![\w-])"


@dataclass(frozen=True)
class FirstUse:
    entry: str
    plain: int | None  # offset of the first use that is not a link, in the joined text
    linked: int | None  # offset of the first {term} role pointing to the entry

    @property
    def ok(self) -> bool:
        return self.plain is None or (self.linked is not None and self.linked < self.plain)


def first_uses(text: str, entries: dict[str, list[str]]) -> dict[str, FirstUse]:
    """The first plain use and the first link of every entry used in ``text``."""
    by_name = {name.lower(): entry for entry, names in entries.items() for name in names}
    links: dict[str, int] = {}
    for match in TERM_ROLE.finditer(text):
        target = (match.group(2) or match.group(3)).strip().lower()
        links.setdefault(by_name.get(target, target), match.start())
    masked = text.replace("top-$k$", "top-k  ")
    for pattern in NOT_PROSE:
        masked = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), masked)
    # Every match of every name, the longest first, so that "balanced accuracy" is not a use of
    # "accuracy".
    found = [
        (match.start(), match.end(), entry)
        for entry, names in entries.items()
        for name in names
        for match in re.finditer(_pattern(name), masked, re.I)
    ]
    taken: list[tuple[int, int]] = []
    plain: dict[str, int] = {}
    for start, end, entry in sorted(found, key=lambda f: f[0] - f[1]):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        plain[entry] = min(start, plain.get(entry, start))
    return {
        entry: FirstUse(entry, plain.get(entry), links.get(entry))
        for entry in entries
        if entry in plain or entry in links
    }


def markdown_text(notebook: Path) -> str:
    """The notebook's Markdown cells, joined by blank lines."""
    cells = json.loads(notebook.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def link_first_uses(notebook: Path, entries: dict[str, list[str]]) -> list[str]:
    """Turn the first unlinked use of each entry into a ``{term}`` role; return the entries."""
    data = json.loads(notebook.read_text())
    fixed = []
    while True:
        text = "\n\n".join("".join(c["source"]) for c in data["cells"] if c["cell_type"] == "markdown")
        todo = [use for use in first_uses(text, entries).values() if not use.ok]
        if not todo:
            break
        use = todo[0]
        assert use.plain is not None
        offset = use.plain
        for cell in (c for c in data["cells"] if c["cell_type"] == "markdown"):
            source = "".join(cell["source"])
            if offset <= len(source):
                names = "|".join(_pattern(name) for name in entries[use.entry])
                match = re.compile(names, re.I).match(source, offset)
                assert match, (use.entry, source[offset : offset + 40])
                word = match.group()
                role = f"{{term}}`{word}`" if word.lower() == use.entry.lower() else f"{{term}}`{word} <{use.entry}>`"
                cell["source"] = (source[:offset] + role + source[match.end() :]).splitlines(keepends=True)
                break
            offset -= len(source) + 2
        fixed.append(use.entry)
    notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return fixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--fix", action="store_true", help="link each unlinked first use")
    args = parser.parse_args()
    entries = glossary_entries()
    for notebook in args.notebooks:
        if args.fix:
            print(notebook, "linked:", ", ".join(link_first_uses(notebook, entries)) or "nothing")
        else:
            bad = [use.entry for use in first_uses(markdown_text(notebook), entries).values() if not use.ok]
            print(notebook, "first uses not linked:", ", ".join(bad) or "none")


if __name__ == "__main__":
    main()
