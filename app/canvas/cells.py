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
    """
    out = xy.copy()
    if not len(xy):
        return out
    keys = cell_keys(rows, pos)
    order = np.lexsort((xy[:, 0], keys))
    starts = np.r_[0, np.flatnonzero(np.diff(keys[order])) + 1]
    ends = np.r_[starts[1:], len(order)]
    for a, b in zip(starts.tolist(), ends.tolist()):
        n = b - a
        members = order[a:b]
        width = float(cell_width[members[0]])
        if n < 2 or width * px_per_x / n >= glyph * 1.1:
            continue
        k = _subrows(n, width * px_per_x, BAND * px_per_y)
        per = int(np.ceil(n / k))
        centre_x = float(xy[members, 0].mean())
        y0 = float(rows[members[0]])
        for j in range(k):
            chunk = members[j * per:(j + 1) * per]
            m = len(chunk)
            if not m:
                continue
            out[chunk, 0] = centre_x + ((np.arange(m) + 0.5) / per - 0.5 * m / per) * width
            out[chunk, 1] = y0 + ((j + 0.5) / k - 0.5) * BAND * (k > 1)
    return out


def _subrows(n: int, width_px: float, band_px: float) -> int:
    """Sub-row count that leaves the most room between neighbours."""
    best, best_gap = 1, width_px / n
    for k in range(2, MAX_SUBROWS + 1):
        gap = min(width_px / np.ceil(n / k), band_px / k)
        if gap > best_gap:
            best, best_gap = k, gap
    return best


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
    pairs = np.unique(np.column_stack([keys, np.round(xy[:, 1] * px_per_y, 1)]), axis=0)
    sub = pairs[1:, 0] == pairs[:-1, 0]  # sub-rows of one cell: their vertical spacing
    if sub.any():
        gap = min(gap, float(np.diff(pairs[:, 1])[sub].min()))
    return float(np.clip(gap * 0.9, MIN_GLYPH, MAX_GLYPH)) if np.isfinite(gap) else MAX_GLYPH
