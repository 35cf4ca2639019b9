"""The chapters' plotting helpers: learning-rate drop markers and the cut y axis."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

from lossacc.figures import cut_axis, mark_drops


@pytest.fixture
def ax() -> Iterator[Axes]:
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_mark_drops_draws_one_line_between_the_epochs_around_each_drop(ax: Axes) -> None:
    mark_drops(ax, [31, 61])
    assert [np.asarray(line.get_xdata())[0] for line in ax.get_lines()] == [30.5, 60.5]


def test_cut_axis_puts_the_top_above_most_values_and_marks_the_rest() -> None:
    epochs = np.arange(1, 21)
    loss = np.linspace(1.0, 0.5, 20)
    loss[:2] = [40.0, 9.0]  # two unsettled first epochs
    fig, ax = plt.subplots()
    top = cut_axis(ax, epochs, loss, np.full(20, np.nan))
    expected_top = 1.25 * np.quantile(loss, 0.9)
    assert top == pytest.approx(expected_top)
    assert ax.get_ylim() == pytest.approx((0.5 - 0.1 * (expected_top - 0.5), expected_top))
    (markers,) = ax.get_lines()
    assert np.asarray(markers.get_xdata()).tolist() == [1, 2] and np.asarray(markers.get_ydata()).tolist() == [top, top]
    plt.close(fig)


def test_cut_axis_marks_nothing_when_every_value_fits(ax: Axes) -> None:
    cut_axis(ax, np.arange(5), np.array([1.0, 0.9, 0.8, 0.7, 0.6]))
    assert not ax.get_lines()


def test_cut_axis_refuses_curves_of_the_wrong_length(ax: Axes) -> None:
    with pytest.raises(ValueError, match="one value per epoch"):
        cut_axis(ax, np.arange(5), np.ones(4))
