"""Every chapter notebook executes top to bottom without an error."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, toc_notebooks


@pytest.mark.parametrize("notebook", toc_notebooks(), ids=lambda path: path.stem)
def test_notebook_executes(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    errors = [output for cell in nb.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors


def test_notebooks_are_committed_without_outputs() -> None:
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        with_outputs = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
        assert not with_outputs, f"{notebook.name}: cells {with_outputs} hold outputs; the build executes them"


def test_every_chapter_is_in_the_table_of_contents() -> None:
    listed = {path.resolve() for path in toc_notebooks()}
    on_disk = {path.resolve() for path in (ROOT / "chapters").glob("*.ipynb")}
    assert on_disk == listed
