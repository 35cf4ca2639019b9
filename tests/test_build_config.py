"""The book's build configuration: a cell error or a Sphinx warning stops the build, a rebuild
follows every input of a page, and the installed packages are the locked ones."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import anywidget
import nbformat
import pytest

from conftest import ROOT, BookBuild, write_book_config
from offline_widgets import ANYWIDGET_VERSION
from page_dependencies import Library, commanded_modules, imported_modules, page_fingerprint


def build_tiny_book(tmp_path: Path, *chapters: list[nbformat.NotebookNode],
                    sphinx_config: dict[str, object] | None = None) -> subprocess.CompletedProcess[str]:
    """Build (again, if it is there) a small book with the book's own _config.yml and extensions:
    one page per list of cells, ``chapter``, ``chapter_2``, ... (one build for several cases)."""
    book = tmp_path / "book"
    names = ["chapter", *(f"chapter_{number}" for number in range(2, len(chapters) + 1))]
    if not book.exists():
        book.mkdir()
        (book / "assets").symlink_to(ROOT / "assets")
        (book / "intro.md").write_text("# Tiny\n\n" + "".join(f"{{doc}}`{name}`\n" for name in names))
        (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n" + "".join(f"  - file: {name}\n" for name in names))
        for name, cells in zip(names, chapters):
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}"), *cells])
            notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            nbformat.write(notebook, book / f"{name}.ipynb")
        write_book_config(book / "_config.yml", sphinx_config=sphinx_config)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(book), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_a_cell_error_fails_the_build(tmp_path: Path) -> None:
    result = build_tiny_book(tmp_path, [nbformat.v4.new_code_cell("raise RuntimeError('broken cell')")])
    assert result.returncode != 0
    assert "broken cell" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_failing_notebook_is_reported_on_its_own_with_its_traceback(tmp_path: Path) -> None:
    """As the test build (conftest.book_build) reports a notebook that fails."""
    cells = [nbformat.v4.new_code_cell("raise RuntimeError('broken cell')"), nbformat.v4.new_code_cell("print('never runs')")]
    result = build_tiny_book(tmp_path, cells, sphinx_config={"nb_execution_raise_on_error": False})
    build_folder = tmp_path / "book" / "_build"
    build = BookBuild(build_folder / "html", build_folder / "jupyter_execute", result.returncode, result.stdout + result.stderr,
                      root=tmp_path / "book")
    assert build.returncode != 0
    reported = r"(?s)chapter\.ipynb did not execute to the end:.*CellExecutionError.*raise RuntimeError\('broken cell'\)"
    with pytest.raises(pytest.fail.Exception, match=reported):
        build.executed(tmp_path / "book" / "chapter.ipynb")


# {eval} values the build must refuse, and what it says: a name no cell defined, inside
# prose() too, and an expression the configured pattern does not allow.
BAD_VALUES = {
    "{eval}`never_defined`": "never_defined",
    '{eval}`prose(never_defined, ".3f")`': "never_defined",
    "{eval}`__import__('os')`": "not valid according to the configured pattern",
}


@pytest.mark.slow
def test_a_missing_or_disallowed_value_fails_the_build_and_the_next_one(tmp_path: Path) -> None:
    """One page per bad value, in one book: each fails the build, and the rebuild reads the pages
    again and fails again, instead of passing."""
    chapters = [[nbformat.v4.new_code_cell("from lossacc.notebook import prose"), nbformat.v4.new_markdown_cell(f"Value: {role}")]
                for role in BAD_VALUES]
    for _ in range(2):
        result = build_tiny_book(tmp_path, *chapters)
        log = result.stdout + result.stderr
        assert result.returncode != 0
        for name, message in zip(["chapter", "chapter_2", "chapter_3"], BAD_VALUES.values()):
            assert re.search(rf"{name}\.ipynb:.*{re.escape(message)}", log), f"{name}: no warning with {message!r}:\n{log[-3000:]}"


@pytest.mark.slow
def test_prose_right_after_a_hidden_cell_shows_its_values_and_a_converted_figure_cell_is_a_numbered_figure(tmp_path: Path) -> None:
    """Two pages, one build: values in the prose (page ``chapter``) and a figure cell as
    scripts/convert_glue_to_eval.py writes it for a glue:figure directive (page ``chapter_2``)."""
    hidden = nbformat.v4.new_code_cell("prose_numbers(share=0.25)\nprose_words(device='cpu')\n"
                                       "prose_markdown(verdict='It *rises*.')\nrun_table = markdown_table(['the run', '`a`'], [('b', 1)])")
    hidden.metadata["tags"] = ["remove-cell"]
    table = nbformat.v4.new_code_cell("run_table", metadata={"tags": ["remove-input"], "mystnb": {"render_markdown_format": "myst"}})
    plot = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1])\n"
                                     "plt.close(fig)\nloss_curve = fig")
    plot.metadata["tags"] = ["remove-cell"]
    figure = nbformat.v4.new_code_cell("loss_curve", metadata={"tags": ["remove-input"], "mystnb": {
        "figure": {"caption": "The loss *rises*.", "name": "fig-loss"}, "image": {"alt": "A rising line."}}})
    result = build_tiny_book(tmp_path, [
        nbformat.v4.new_code_cell("from lossacc.notebook import markdown_table, prose, prose_markdown, prose_numbers, prose_words"),
        hidden,
        nbformat.v4.new_markdown_cell('A share of {eval}`prose(share, ".1%")` on {eval}`device`. {eval}`verdict` More.'),
        table,  # a pasted table, as scripts/convert_glue_to_eval.py writes it
    ], [plot, figure, nbformat.v4.new_markdown_cell("As {numref}`fig-loss` shows.")])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "book" / "_build" / "html" / "chapter.html").read_text()
    assert re.search(r"A share of <span[^>]*>25\.0%</span> on <span[^>]*>cpu</span>\. It <em>rises</em>\. More\.", page), (
        page[page.find("A share"):][:400])
    header = r"<th[^>]*><p>the run</p></th>\s*<th[^>]*><p><code[^>]*><span[^>]*>a</span></code></p></th>"
    assert re.search(f"<table.*{header}", page, re.DOTALL), (
        page[page.find("<table"):][:600])
    page = (tmp_path / "book" / "_build" / "html" / "chapter_2.html").read_text()
    assert re.search(r'<figure[^>]*id="fig-loss"[^>]*>\s*<img[^>]*alt="A rising line."', page), page[page.find("<figure"):][:600]
    assert "The loss <em>rises</em>." in page and re.search(r"As <a[^>]*#fig-loss[^>]*>.*Fig\. 1", page)


def pins(requirements: Path) -> dict[str, str]:
    """``name == version`` lines of a requirements file, names normalised as pip does."""
    found = {}
    for line in requirements.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


def test_the_python_anywidget_is_the_one_the_site_module_follows() -> None:
    assert pins(ROOT / "requirements.txt")["anywidget"] == ANYWIDGET_VERSION, (
        "requirements.txt and _ext/offline_widgets.py name different anywidgets"
    )
    assert anywidget.__version__ == ANYWIDGET_VERSION


def test_the_lock_pins_every_requirement_as_requirements_txt_does() -> None:
    wanted, locked = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-lock.txt")
    differ = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not differ, f"requirements.txt and its lock differ (run scripts/refresh_lock.sh): {differ}"


def test_the_environment_is_the_locked_one() -> None:
    installed = {re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(): dist.version.split("+")[0]
                 for dist in importlib.metadata.distributions()}
    differ = {name: (version, installed.get(name)) for name, version in pins(ROOT / "requirements-lock.txt").items()
              if installed.get(name) != version}
    assert not differ, f"installed packages differ from requirements-lock.txt (run scripts/setup.sh): {differ}"


# --- a warm rebuild follows what the pages were computed from ------------------------------------


def test_a_notebook_depends_on_the_library_files_its_imports_run_or_read(tmp_path: Path) -> None:
    files = {
        "shapes/__init__.py": "", "shapes/names.py": "from .words import WORD\nimport numpy\n", "shapes/words.py": "",
        "shapes/unused.py": "", "shapes/style.css": "", "shapes/deep/__init__.py": "", "shapes/deep/more.py": "from ..words import WORD\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    notebook_code = "%matplotlib inline\nfrom shapes.names import LABEL\n!ls\nimport os"
    assert imported_modules(notebook_code) == {"shapes.names", "shapes.names.LABEL", "os"}
    library = Library(tmp_path)
    behind = {str(path.relative_to(tmp_path)) for path in library.files_behind({"shapes.names", "shapes.names.LABEL", "os"})}
    assert behind == {"shapes/__init__.py", "shapes/names.py", "shapes/words.py", "shapes/style.css"}
    behind = {str(path.relative_to(tmp_path)) for path in library.files_behind({"shapes.deep.more"})}
    assert behind == {"shapes/__init__.py", "shapes/deep/__init__.py", "shapes/deep/more.py", "shapes/words.py", "shapes/style.css"}


def test_a_page_that_runs_a_command_depends_on_the_modules_the_command_imports(tmp_path: Path) -> None:
    """Chapter 9 runs ``python -m lossacc diagnose`` (in a shell line and a subprocess list): a
    change of lossacc/cli.py, which only that command imports, makes the page stale."""
    assert commanded_modules('!{sys.executable} -m lossacc diagnose x\n["python", "-m", "lossacc.cifar"]') == {
        "lossacc", "lossacc.__main__", "lossacc.cifar", "lossacc.cifar.__main__",
    }
    shutil.copytree(ROOT / "code" / "lossacc", tmp_path / "code" / "lossacc", ignore=shutil.ignore_patterns("__pycache__"))
    chapter = tmp_path / "chapters" / "09_diagnose_your_own_run.ipynb"
    chapter.parent.mkdir()
    shutil.copy(ROOT / "chapters" / chapter.name, chapter)
    app = SimpleNamespace(
        srcdir=str(tmp_path),
        env=SimpleNamespace(doc2path=lambda docname: str(chapter)),
        config=SimpleNamespace(page_dependencies_data=[]),
    )

    def fingerprint() -> str:
        return page_fingerprint(app, "chapters/09_diagnose_your_own_run", "environment", Library(tmp_path / "code"))  # type: ignore[arg-type]

    before = fingerprint()
    cli = tmp_path / "code" / "lossacc" / "cli.py"
    cli.write_text(cli.read_text() + "\n# a change only the command sees\n")
    assert fingerprint() != before


class SmallBook:
    """A two-notebook book with its own library (``code/shapes``), records and a stand-in
    installed package, built again and again in one folder with the book's configuration."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "assets").symlink_to(ROOT / "assets")
        (root / "intro.md").write_text("# Small\n\n{doc}`labels` and {doc}`records`\n")
        (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: labels\n  - file: records\n")
        self.write("code/shapes/__init__.py", "")
        self.write("code/shapes/names.py", "from shapes.words import WORD\n\nLABEL = 'label ' + WORD\n")
        self.write("code/shapes/words.py", "WORD = 'one'\n")
        self.write("code/shapes/counts.py", "COUNT = 1\n")
        self.write("code/installed-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: installed\nVersion: 1.0\n")
        self.write("records/first.txt", "first run\n")
        self.notebook("labels", "from shapes.names import LABEL\nprint(LABEL)")
        self.notebook("records", "import os\nfrom shapes.counts import COUNT\nprint(COUNT, sorted(os.listdir('records')))")
        write_book_config(root / "_config.yml")

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def notebook(self, name: str, code: str) -> None:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, self.root / f"{name}.ipynb")

    def build(self) -> set[str]:
        """Build (warm after the first time) and return the names of the notebooks executed."""
        jupyter_book = Path(sys.executable).parent / "jupyter-book"
        # The library and the stand-in package are importable by the build and by the kernels it starts.
        env = {**os.environ, "PYTHONPATH": str(self.root / "code")}
        result = subprocess.run(
            [str(jupyter_book), "build", str(self.root), "--warningiserror", "--nitpick", "--keep-going"],
            capture_output=True, text=True, timeout=600, env=env,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return set(re.findall(r"(\w+)\.ipynb: Starting inline execution client", result.stdout + result.stderr))

    def page(self, name: str) -> str:
        return (self.root / "_build" / "html" / f"{name}.html").read_text()


@pytest.mark.slow
def test_a_warm_rebuild_follows_the_library_the_records_and_the_packages(tmp_path: Path) -> None:
    book = SmallBook(tmp_path)
    assert book.build() == {"labels", "records"}
    assert "label one" in book.page("labels") and "first.txt" in book.page("records")
    assert book.build() == set(), "nothing changed: nothing runs again"
    assert not list(tmp_path.glob("*.db")), "inline execution: no execution cache is made in the book"

    book.write("code/shapes/words.py", "WORD = 'two'\n")  # imported by the labels notebook through shapes.names
    assert book.build() == {"labels"}
    assert "label two" in book.page("labels") and "label one" not in book.page("labels")

    book.write("records/second.txt", "second run\n")  # a new record: the notebook that reads records/ follows
    assert book.build() == {"records"}
    assert "second.txt" in book.page("records")

    book.write("code/installed-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: installed\nVersion: 1.1\n")
    assert book.build() == {"labels", "records"}, "another installed package version: every notebook runs again"
