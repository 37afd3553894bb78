"""Crowded layer × token cells: spread their nodes and size the glyphs so they stay apart.

The layout (graph/analysis/layout.py) lines a cell's nodes up across the cell. Past a
few dozen nodes that row of glyphs becomes one blob at the default zoom, so the canvas
wraps a crowded cell into a few sub-rows inside the layer's band (the node stays in its
layer row: the band is narrower than the gap between rows), and glyphs shrink with the
densest cell down to :data:`MIN_GLYPH` px.
"""

from __future__ import annotations

import numpy as np

BAND = 0.56
"""Height (in rows) of the band a cell's sub-rows spread over."""
MAX_SUBROWS = 6
MIN_GLYPH, MAX_GLYPH = 4.0, 9.0


def median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty array without NaN, computed here: numpy 2.4's imports
    numpy.ma on first use, 10 ms of the window's first frame (app/first_sight.py)."""
    s = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(s)
    return float((s[(n - 1) // 2] + s[n // 2]) / 2)


def cell_keys(rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return rows.astype(np.int64) * (int(pos.max(initial=0)) + 1) + pos.astype(np.int64)


def spread_cells(xy: np.ndarray, rows: np.ndarray, pos: np.ndarray, cell_width: np.ndarray,
                 px_per_x: float, px_per_y: float, glyph: float = MAX_GLYPH) -> np.ndarray:
    """New coordinates: a cell whose nodes sit closer than ``glyph`` px wraps into sub-rows.

    Args:
        xy: ``[n, 2]`` layout coordinates (a cell's nodes share y and are spread in x).
        rows: ``[n]`` layer row of each node (its y in the layout).
        pos: ``[n]`` token position of each node.
        cell_width: ``[n]`` x span (layout units) the node's cell spreads over.
        px_per_x, px_per_y: Pixels per layout unit at the default view.
        glyph: Glyph size in px the spacing aims for.

    Whole arrays, no loop over cells: a 10k-node graph has hundreds of cells and this runs on
    the GUI thread when a graph is opened.
    """
    out = np.array(xy, dtype=float, copy=True)
    if not len(xy):
        return out
    keys = cell_keys(rows, pos)
    order = np.lexsort((xy[:, 0], keys))
    skeys = keys[order]
    starts = np.r_[0, np.flatnonzero(np.diff(skeys)) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    width = cell_width[order[starts]].astype(float)
    crowded = (counts >= 2) & (width * px_per_x / counts < glyph * 1.1)
    if not crowded.any():
        return out
    k = _subrows(counts, width * px_per_x, BAND * px_per_y)
    per = np.ceil(counts / k)
    centre = np.add.reduceat(xy[order, 0], starts) / counts
    cell = np.repeat(np.arange(len(starts)), counts)  # cell of each node in sorted order
    rank = np.arange(len(order)) - starts[cell]
    j = rank // per[cell]  # sub-row
    size = np.minimum(per[cell], counts[cell] - j * per[cell])  # nodes in that sub-row
    x = centre[cell] + (((rank % per[cell]) + 0.5) / per[cell] - 0.5 * size / per[cell]) \
        * width[cell]
    kk = k[cell]
    y = rows[order].astype(float) + ((j + 0.5) / kk - 0.5) * BAND * (kk > 1)
    moved = crowded[cell]
    out[order[moved], 0] = x[moved]
    out[order[moved], 1] = y[moved]
    return out


def _subrows(n: np.ndarray, width_px: np.ndarray, band_px: float) -> np.ndarray:
    """Sub-row count per cell that leaves the most room between neighbours (the fewest on a
    tie)."""
    ks = np.arange(1, MAX_SUBROWS + 1)
    gaps = np.minimum(width_px[:, None] / np.ceil(n[:, None] / ks), band_px / ks)
    gaps[:, 0] = width_px / n
    return ks[np.argmax(gaps, axis=1)]


def glyph_size(xy: np.ndarray, rows: np.ndarray, pos: np.ndarray, px_per_x: float,
               px_per_y: float) -> float:
    """Glyph size in px: 90% of the tightest spacing between two nodes, or two sub-rows,
    of one cell."""
    if len(xy) < 2:
        return MAX_GLYPH
    keys = cell_keys(rows, pos)
    order = np.lexsort((xy[:, 0], xy[:, 1], keys))
    p = xy[order] * np.array([px_per_x, px_per_y])
    same = (keys[order][1:] == keys[order][:-1]) & (np.abs(p[1:, 1] - p[:-1, 1]) < 0.5)
    gap = float(np.abs(np.diff(p[:, 0]))[same].min()) if same.any() else np.inf
    # distinct (cell, sub-row height) pairs, in order; np.unique(axis=0) costs 10x this
    y_px = np.round(xy[:, 1] * px_per_y, 1)
    o = np.lexsort((y_px, keys))
    ck, cy = keys[o], y_px[o]
    first = np.r_[True, (ck[1:] != ck[:-1]) | (cy[1:] != cy[:-1])]
    ck, cy = ck[first], cy[first]
    sub = ck[1:] == ck[:-1]  # sub-rows of one cell: their vertical spacing
    if sub.any():
        gap = min(gap, float(np.diff(cy)[sub].min()))
    return float(np.clip(gap * 0.9, MIN_GLYPH, MAX_GLYPH)) if np.isfinite(gap) else MAX_GLYPH
