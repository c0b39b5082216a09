"""``plot_learning_curve``: many curves move the legend below the axes instead of over the curves."""
from __future__ import annotations

import matplotlib.image
import pytest

from neuromorph.tasks.games.curves import LEGEND_INSIDE_MAX, curve, plot_learning_curve


def _curves(n: int) -> dict:
    return {f"run {i}": curve([float(i), float(i + 1)], [10, 20]) for i in range(n)}


def _height_px(path) -> int:
    return matplotlib.image.imread(str(path)).shape[0]


def test_a_few_curves_keep_the_plain_figure(tmp_path):
    path = plot_learning_curve(_curves(2), tmp_path / "few.png", random_level=-1.0, title="t")
    assert _height_px(path) == 420  # 4.2 inches at 100 dpi


def test_many_curves_grow_the_figure_to_hold_the_legend_below(tmp_path):
    n = LEGEND_INSIDE_MAX + 5  # with the random line, 12 legend entries
    path = plot_learning_curve(_curves(n), tmp_path / "many.png", random_level=-1.0, title="t")
    assert _height_px(path) == round(100 * (4.2 + 0.22 * (n + 1)))


def test_no_curves_is_refused(tmp_path):
    with pytest.raises(ValueError, match="curves must be a non-empty mapping"):
        plot_learning_curve({}, tmp_path / "none.png", random_level=None, title="t")
