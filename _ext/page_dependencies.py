"""Sphinx extension: a page is built again when anything it was computed from changes.

Sphinx re-reads a page when its source file changes, and so does not notice a change of the
library a notebook imports, of the records it reads or of the installed packages. This extension gives each page
a fingerprint (a SHA-256) of what it was computed from:

* every page: the installed Python packages and versions, the Python version, and the
  book's Sphinx extensions (``_ext/*.py``);
* a notebook, besides: the library modules it imports, and those it runs as a command
  (``python -m NAME``, in a shell line or a ``subprocess`` list: ``NAME`` and ``NAME.__main__``),
  followed through their own imports
  (with the parent packages' ``__init__.py`` and the non-Python files beside each module,
  such as an explorer's JavaScript), under the folder ``page_dependencies_library``; and the
  files under each folder of ``page_dependencies_data`` whose name its code mentions (a
  notebook that reads ``"records"`` depends on every file under ``records/``).

Before Sphinx reads, a page whose fingerprint differs from the one it was last built with
(or that has none) is read again; the book executes notebooks inline (``execute_notebooks:
inline``, no execution cache), so reading a notebook runs it. A page whose inputs did not
change is neither read nor executed.

A build that ended with warnings (errors, with ``--warningiserror --keep-going``) keeps no
environment, so the next build reads every page again and reports the same problems; Sphinx
alone would read only the changed pages, and pass.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sphinx.application import ENV_PICKLE_FILENAME, Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Lines IPython reads but Python does not: magics and shell escapes.
_IPYTHON_LINE = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def imported_modules(source: str) -> set[str]:
    """Absolute names of the modules ``source`` imports (``from a import b`` names ``a`` and ``a.b``)."""
    tree = ast.parse(_IPYTHON_LINE.sub("", source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


# "-m NAME" in a shell line or an f-string, or "-m", "NAME" in a subprocess argument list.
_RUN_AS_MODULE = re.compile(r"""(?<![\w-])-m["'\s,]+([A-Za-z_][\w.]*)""")


def commanded_modules(source: str) -> set[str]:
    """The modules ``source`` runs with ``python -m NAME``: ``NAME`` and ``NAME.__main__``."""
    return {name for match in _RUN_AS_MODULE.finditer(source) for name in (match[1], f"{match[1]}.__main__")}


class Library:
    """The importable packages under one folder, and which of their files a module depends on."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._imports: dict[Path, set[str]] = {}

    def module_file(self, name: str) -> Path | None:
        """The file of module ``name`` under the root, or None if it is not there."""
        base = self.root.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def _imports_of(self, file: Path, name: str) -> set[str]:
        """The modules ``file`` (module ``name``) imports, relative imports made absolute."""
        if file not in self._imports:
            self._imports[file] = self._parse_imports(file, name)
        return self._imports[file]

    def _parse_imports(self, file: Path, name: str) -> set[str]:
        tree = ast.parse(file.read_text(), str(file))
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1])
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
        return names

    def files_behind(self, modules: Iterable[str]) -> set[Path]:
        """Every file of the library that importing ``modules`` runs or reads."""
        files: set[Path] = set()
        seen: set[str] = set()
        pending = list(modules)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            file = self.module_file(name)
            if file is None:
                continue
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
            parent = name.rpartition(".")[0]
            if parent:
                pending.append(parent)
            files.add(file)
            files.update(path for path in file.parent.iterdir() if path.is_file() and path.suffix not in {".py", ".pyc"})
            pending.extend(self._imports_of(file, name))
        return files


def _hash_files(digest: Any, files: Iterable[Path], root: Path) -> None:
    for file in sorted(files):
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())


def environment_fingerprint(extensions_dir: Path) -> str:
    """SHA-256 of the installed packages, the Python version and the book's extensions."""
    digest = hashlib.sha256(sys.version.encode())
    packages = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions())
    digest.update("\n".join(packages).encode())
    _hash_files(digest, extensions_dir.glob("*.py"), extensions_dir)
    return digest.hexdigest()


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, joined."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def page_fingerprint(app: Sphinx, docname: str, environment: str, library: Library) -> str:
    """The fingerprint of one page (see the module docstring)."""
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb":
        return environment
    srcdir = Path(app.srcdir)
    code = notebook_code(source)
    try:
        modules = imported_modules(code) | commanded_modules(code)
    except SyntaxError:  # a cell Python cannot parse: depend on the whole library
        modules = None
    if modules is None:
        files = {path for path in library.root.rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    else:
        files = library.files_behind(modules)
    for folder in app.config.page_dependencies_data:
        if re.search(rf"\b{re.escape(folder)}\b", code):
            files.update(path for path in (srcdir / folder).rglob("*") if path.is_file())
    digest = hashlib.sha256(environment.encode())
    _hash_files(digest, files, srcdir)
    return digest.hexdigest()


def outdated_pages(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Pages whose fingerprint changed since they were built: read again, notebooks re-run."""
    environment = environment_fingerprint(Path(__file__).resolve().parent)
    built: dict[str, str] = getattr(env, "page_fingerprints", {})
    library = Library(Path(app.srcdir, app.config.page_dependencies_library))
    current = {docname: page_fingerprint(app, docname, environment, library) for docname in sorted(env.found_docs)}
    stale = [docname for docname, fingerprint in current.items() if built.get(docname) != fingerprint]
    env.page_fingerprints = current  # type: ignore[attr-defined]  # saved with the environment
    if stale and built:
        logger.info(f"[page_dependencies] inputs changed for: {', '.join(stale)}")
    return [docname for docname in stale if docname not in added | changed]


def forget_a_build_with_warnings(app: Sphinx, exception: Exception | None) -> None:
    """Delete the saved environment after a build with warnings (Sphinx does so after an exception)."""
    if getattr(app, "_warncount", 0):
        Path(app.doctreedir, ENV_PICKLE_FILENAME).unlink(missing_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("page_dependencies_library", "code", "env")
    app.add_config_value("page_dependencies_data", [], "env")
    app.connect("env-get-outdated", outdated_pages)
    app.connect("build-finished", forget_a_build_with_warnings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
