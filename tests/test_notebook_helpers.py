"""The helpers chapters use to show computed values in their prose, and tables."""

import re

import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import format_display_data

from lossacc.notebook import ProseText, markdown_table, prose, prose_markdown, prose_numbers, prose_words
from lossacc.tables import table


def run_cell(code: str, namespace: dict) -> dict:
    """Run ``code`` as a notebook cell would: its globals are the notebook's namespace."""
    exec(code, namespace)
    return namespace


def notebook_namespace() -> dict:
    return {"np": np, "prose_numbers": prose_numbers, "prose_words": prose_words, "prose_markdown": prose_markdown}


def test_prose_text_displays_without_quotes() -> None:
    """The text/plain IPython sends for an {eval} result is the text; a str's would be quoted."""
    assert format_display_data(prose(0.125, ".2f"))[0] == {"text/plain": "0.12"}
    assert format_display_data(ProseText("it's 2"))[0] == {"text/plain": "it's 2"}
    assert format_display_data("0.12")[0] == {"text/plain": "'0.12'"}


@pytest.mark.parametrize(("value", "spec", "shown"), [
    (0.10536, ".3f", "0.105"), (np.float64(0.875), ".1%", "87.5%"), (12.0, ".0f", "12"),
    (-0.0021, "+.4f", "-0.0021"), (3000.0, ",.0f", "3,000"), (0.00012, ".0e", "1e-04"),
])
def test_prose_formats_like_format_specs(value: float, spec: str, shown: str) -> None:
    assert str(prose(value, spec)) == shown


def test_numbers_become_float_variables_of_the_notebook() -> None:
    namespace = run_cell("prose_numbers(loss=np.float64(0.125), count=np.int64(3))", notebook_namespace())
    assert namespace["loss"] == 0.125 and namespace["count"] == 3.0
    assert type(namespace["loss"]) is float and type(namespace["count"]) is float


def test_words_become_text_variables_of_the_notebook() -> None:
    namespace = run_cell("prose_words(device='cpu', epochs=np.int64(50))", notebook_namespace())
    assert namespace["device"] == ProseText("cpu") and namespace["epochs"] == ProseText("50")


def test_keys_made_at_run_time_become_variables() -> None:
    code = "for epoch in (10, 20):\n    prose_numbers(**{f'accuracy_{epoch}': epoch / 40})"
    namespace = run_cell(code, notebook_namespace())
    assert (namespace["accuracy_10"], namespace["accuracy_20"]) == (0.25, 0.5)


def test_running_a_cell_again_redefines_its_values() -> None:
    namespace = run_cell("prose_numbers(loss=0.5)", notebook_namespace())
    run_cell("prose_numbers(loss=0.25)", namespace)
    assert namespace["loss"] == 0.25


def test_a_notebook_variable_is_never_overwritten() -> None:
    namespace = run_cell("loss = np.array([1.0, 2.0])", notebook_namespace())
    with pytest.raises(ValueError, match="'loss' is already a variable of this notebook"):
        run_cell("prose_numbers(loss=1.5)", namespace)
    assert namespace["loss"].tolist() == [1.0, 2.0]


def test_a_name_python_cannot_read_is_refused() -> None:
    with pytest.raises(ValueError, match="'lean 1' is not a Python name"):
        run_cell("prose_numbers(**{'lean 1': 0.5})", notebook_namespace())
    with pytest.raises(ValueError, match="'class' is not a Python name"):
        run_cell("prose_words(**{'class': 'cat'})", notebook_namespace())


def test_a_notebook_variable_holding_that_value_is_kept() -> None:
    namespace = run_cell("ratio = 20\nprose_numbers(ratio=ratio)", notebook_namespace())
    assert namespace["ratio"] == 20 and type(namespace["ratio"]) is int


def test_sentences_display_as_markdown_and_as_their_text() -> None:
    """{eval} renders a text/markdown result as Markdown (MyST-NB prefers it to text/plain)."""
    namespace = run_cell("prose_markdown(verdict='It *rises*.')", notebook_namespace())
    assert format_display_data(namespace["verdict"])[0] == {"text/markdown": "It *rises*.", "text/plain": "It *rises*."}


def test_markdown_table() -> None:
    table = markdown_table(["metric", "value"], [("loss", 1.5), ("accuracy", 0.5)])
    assert table.data == "| metric | value |\n| --- | --- |\n| loss | 1.5 |\n| accuracy | 0.5 |"


def test_table_rounds_fractions_keeps_whole_numbers_and_text() -> None:
    shown = table({"name": ["a", "b"], "count": [3, 12], "loss": [0.12345, 2.0]}, ".3f", caption="Two rows").to_html()
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", shown)
    assert cells == ["a", "3", "0.123", "b", "12", "2.000"]
    assert "<caption>Two rows</caption>" in shown and "<th" in shown and 'class="dataframe lx-table"' in shown
    assert 'class="row_heading' not in shown  # no index unless asked


def test_table_formats_each_column_and_can_show_the_index() -> None:
    frame = pd.DataFrame({"p": [0.5], "change": [-0.02197]}, index=pd.Index(["A"], name="image"))
    shown = table(frame, {"p": ".2f", "change": "+.4f"}, index=True).to_html()
    # The row labels are the first column, under the index's name, in the one header row.
    assert re.findall(r"<td[^>]*>([^<]*)</td>", shown) == ["A", "0.50", "-0.0220"]
    # An exact zero is shown as 0, a small amount rounded to zero still as an amount.
    zeros = table({"given up": [0.0, -0.0, 0.00001, 0.0012]}, "+.4f").to_html()
    assert re.findall(r"<td[^>]*>([^<]*)</td>", zeros) == ["0", "0", "+0.0000", "+0.0012"]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", shown) == ["image", "p", "change"]
    assert ">val_<wbr>epoch_<wbr>31.npz</th>" in table({"val_epoch_31.npz": [1.0]}).to_html()
    with pytest.raises(KeyError, match="lacks"):
        table(frame, {"loss": ".3f"})
