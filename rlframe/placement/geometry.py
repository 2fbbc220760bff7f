"""Geometry shared by the cost, the env and the baselines: orientations, pins, the grid.

Orientations follow LEF/DEF (and Circuit Training's cost binary): a pin at offset ``(dx, dy)``
from the macro centre in orientation N sits at

====  ==============  ====  ==============
N     ( dx,  dy)      E     ( dy, -dx)
S     (-dx, -dy)      W     (-dy,  dx)
FN    (-dx,  dy)      FE    (-dy, -dx)
FS    ( dx, -dy)      FW    ( dy,  dx)
====  ==============  ====  ==============

and the quarter-turn orientations (E, W, FE, FW) swap the macro's width and height.

The grid divides the canvas ``[0, W] x [0, H]`` into ``cols x rows`` cells; cell index
``row * cols + col`` with row 0 at the bottom (Circuit Training's convention). A point on a cell
boundary belongs to the upper/right cell (``floor``), as in the binary.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple, Union

import numpy as np

from rlframe.errors import ConfigError
from rlframe.placement.formats.netlist import ORIENTATIONS, Netlist

#: Largest grid accepted (cells); beyond it the arrays of rows x cols would not fit in memory.
MAX_GRID_CELLS = 1_000_000

# rows: orientation code; columns: (a, b, c, d) with x' = a*dx + b*dy, y' = c*dx + d*dy
_ROT = np.array([
    (1, 0, 0, 1),     # N
    (-1, 0, 0, -1),   # S
    (-1, 0, 0, 1),    # FN
    (1, 0, 0, -1),    # FS
    (0, 1, -1, 0),    # E
    (0, -1, 1, 0),    # W
    (0, -1, -1, 0),   # FE
    (0, 1, 1, 0),     # FW
], dtype=np.float64)
assert len(_ROT) == len(ORIENTATIONS)

#: True for orientations that swap width and height (E, W, FE, FW).
SWAPS_WH = np.array([False, False, False, False, True, True, True, True])


def rotate_offsets(dx: np.ndarray, dy: np.ndarray, orientation: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Pin offsets ``(dx, dy)`` (given in orientation N) rotated to ``orientation`` codes."""
    r = _ROT[np.asarray(orientation, np.int64)]
    return r[..., 0] * dx + r[..., 1] * dy, r[..., 2] * dx + r[..., 3] * dy


def pin_positions(netlist: Netlist, x: np.ndarray, y: np.ndarray, orientation: np.ndarray,
                  pins: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Absolute positions of macro ``pins`` (default: all) given node centres ``x, y`` and
    per-node ``orientation`` codes: parent centre + offset rotated by the parent's orientation."""
    if pins is None:
        pins = netlist.pin_indices
    par = netlist.pin_parent[pins]
    ox, oy = rotate_offsets(netlist.pin_x_offset[pins], netlist.pin_y_offset[pins],
                            orientation[par])
    return x[par] + ox, y[par] + oy


def oriented_size(netlist: Netlist, orientation: np.ndarray,
                  nodes: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Width and height of ``nodes`` as placed (swapped for E, W, FE, FW)."""
    if nodes is None:
        nodes = np.arange(netlist.n_nodes)
    w, h = netlist.width[nodes], netlist.height[nodes]
    sw = SWAPS_WH[np.asarray(orientation)[nodes].astype(np.int64)]   # index first, then convert
    return np.where(sw, h, w), np.where(sw, w, h)


@dataclasses.dataclass(frozen=True)
class Grid:
    """The placement grid over a ``width x height`` canvas (origin at 0, 0)."""

    cols: int
    rows: int
    width: float
    height: float

    def __post_init__(self) -> None:
        if self.cols < 1 or self.rows < 1:
            raise ConfigError(f"grid must have at least 1 column and 1 row, got {self.cols} x {self.rows}")
        if self.cols * self.rows > MAX_GRID_CELLS:
            raise ConfigError(
                f"grid {self.cols} x {self.rows} ({self.cols * self.rows:,d} cells) is too large: the cost, the "
                f"env and the baselines keep several arrays of rows x cols (and more per macro); at most "
                f"{MAX_GRID_CELLS:,d} cells are accepted. Circuit Training uses at most 128 x 128; choose a grid "
                "whose cells are about the size of the smaller macros (--grid COLS ROWS / grid=)")
        if not (0 < self.width < math.inf and 0 < self.height < math.inf):
            raise ConfigError(f"canvas must have a finite positive size, got {self.width} x {self.height} "
                              "(--canvas W H / canvas=, or the .plc's '# Width : W  Height : H' line)")

    @property
    def cell_width(self) -> float:
        return float(self.width / self.cols)

    @property
    def cell_height(self) -> float:
        return float(self.height / self.rows)

    @property
    def n_cells(self) -> int:
        return self.cols * self.rows

    def row_col(self, x: Union[float, np.ndarray], y: Union[float, np.ndarray]):
        """(row, col) of points, *not* clipped (points off the canvas give indices outside)."""
        return (np.floor(np.asarray(y) / self.cell_height).astype(np.int64),
                np.floor(np.asarray(x) / self.cell_width).astype(np.int64))

    def cell_index(self, x: Union[float, np.ndarray], y: Union[float, np.ndarray], clip: bool = True):
        """Cell index ``row * cols + col`` of points; clipped onto the grid unless ``clip=False``."""
        r, c = self.row_col(x, y)
        if clip:
            r = np.clip(r, 0, self.rows - 1)
            c = np.clip(c, 0, self.cols - 1)
        out = r * self.cols + c
        return int(out) if np.ndim(out) == 0 else out

    def cell_center(self, index: Union[int, np.ndarray]):
        """Centre ``(x, y)`` of cell(s) ``index``."""
        index = np.asarray(index)
        r, c = np.divmod(index, self.cols)
        cx = (c + 0.5) * self.cell_width
        cy = (r + 0.5) * self.cell_height
        if np.ndim(index) == 0:
            return float(cx), float(cy)
        return cx, cy

    def centers(self) -> Tuple[np.ndarray, np.ndarray]:
        """Centres of all cells, index order (arrays of length ``n_cells``)."""
        return self.cell_center(np.arange(self.n_cells))

    def col_edges(self) -> np.ndarray:
        """``cols + 1`` x coordinates of column boundaries (``c * cell_width``)."""
        return np.arange(self.cols + 1) * self.cell_width

    def row_edges(self) -> np.ndarray:
        return np.arange(self.rows + 1) * self.cell_height
