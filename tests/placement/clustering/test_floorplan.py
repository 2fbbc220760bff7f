"""Canvas and grid choice (Circuit Training's rules)."""
import numpy as np
import pytest

from rlframe.errors import ConfigError
from rlframe.placement.clustering.floorplan import (
    choose_canvas, choose_grid, pack_first_fit, waste_ratio)
from rlframe.placement.designs import resolve_design
from rlframe.placement.formats.netlist import read_netlist


def test_waste_ratio():
    # two segments of 1.5 cells: each spans 3 cells centred, the second shares a cell
    assert waste_ratio([15.0, 15.0], 10.0) == pytest.approx((50 - 30) / 50)
    assert waste_ratio([10.0], 10.0) == pytest.approx(0.0)


def test_pack_first_fit():
    # macros go on cell centres, bottom row first
    two, four = np.full(2, 20.0), np.full(4, 20.0)
    assert pack_first_fit(two, two, (40.0, 40.0), (2, 2)) == pytest.approx(0.5)
    assert pack_first_fit(four, four, (40.0, 40.0), (2, 2)) == pytest.approx(0.0)
    assert pack_first_fit(four, four, (40.0, 40.0), (4, 4)) is None   # off-centre does not fit
    assert pack_first_fit(np.array([50.0]), np.array([10.0]), (40.0, 40.0), (4, 4)) is None


def test_canvas_and_grid_for_macro_tiles():
    nl = read_netlist(resolve_design("macro_tiles_10x10")[0])
    w, h = choose_canvas(nl, 0.6)
    assert w == h == pytest.approx(np.sqrt(100 * 50 * 50 / 0.6))
    cols, rows = choose_grid(nl, (w, h))
    assert 500 <= cols * rows <= 4096
    cw, ch = w / cols, h / rows
    assert max(cw / ch, ch / cw) <= 1.5
    assert pack_first_fit(nl.width[nl.hard_macro_indices], nl.height[nl.hard_macro_indices],
                          (w, h), (cols, rows)) is not None
    with pytest.raises(ConfigError, match="utilization"):
        choose_canvas(nl, 0.0)
    with pytest.raises(ConfigError, match="--canvas"):
        choose_grid(nl, (60.0, 60.0))
