"""Fitting the view and sizing the glyphs (a mixin of the canvas).

F and Ctrl+0 fit the visible nodes, with room above the top row for the stacked labels
of the output logits; crowded cells are spread and glyphs shrink with density
(cells.py) at the scale of that default view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...graph.analysis.layout import Layout
from ...graph.document import Document
from ...graph.model import Graph, NodeKind
from .cells import glyph_size, median, spread_cells

LABEL_PX = 17.0
"""Height of one label box, px (headroom above the logit row is counted in these)."""


def logit_headroom_px(graph: Graph) -> float:
    """Room above the top row for the labels of the output logits, px: the most logits of
    one position, stacked."""
    logit = graph.nodes.kind == NodeKind.LOGIT
    if not logit.any():
        return 0.0
    _, counts = np.unique(graph.nodes.position[logit], return_counts=True)
    return int(counts.max()) * (LABEL_PX + 2.0) + 12.0


def headroom_extent(y0: float, y1: float, height: float, headroom_px: float) -> float:
    """Layout units to add above ``y1`` so that ``headroom_px`` of a ``height`` px view stay
    free above the top row; up to half the height: ten logits of one position need a
    10-label stack, which a 1400x900 window's canvas could not hold at 0.3."""
    room = min(headroom_px, 0.5 * height)
    return room * (y1 - y0) / max(height - room, 1.0)


def layout_rect(layout: Layout) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of every column and row of ``layout``, with half a row to spare."""
    top = max(layout.row_labels) if layout.row_labels else 1
    cx, cw = layout.column_x, layout.column_width
    return (float(cx[0] - cw[0] / 2), -0.6, float(cx[-1] + cw[-1] / 2), top + 0.6)


def nodes_rect(xy: np.ndarray, layout: Layout) -> tuple[float, float, float, float]:
    """What F fits: the extent of the nodes at ``xy``, with half a column and 0.6 of a row
    around it."""
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    cw = median(layout.column_width)
    return float(x0) - 0.5 * cw, float(y0) - 0.6, float(x1) + 0.5 * cw, float(y1) + 0.6


def spread_layout(graph: Graph, layout: Layout, px_per_x: float, px_per_y: float) -> np.ndarray:
    """Layout coordinates with crowded cells wrapped into sub-rows at this scale (cells.py)."""
    pos = np.clip(graph.nodes.position, 0, layout.n_positions - 1)
    width = layout.column_width[pos] * 0.8
    return spread_cells(layout.xy, layout.xy[:, 1], pos, width, px_per_x, px_per_y)


class ViewFitting:
    """View fitting for :class:`~.graph_canvas.GraphCanvas`."""

    _doc: Document | None
    layout_: Layout | None
    xy: np.ndarray
    base_xy: np.ndarray
    node_visible: np.ndarray
    glyph_px: float
    vb: Any
    _node_items: dict[Any, Any]

    def reset_view(self) -> None:
        """Fit the visible nodes (F, Ctrl+0), with room above for the output labels."""
        if self.layout_ is None or not len(self.xy):
            return
        vis = np.flatnonzero(self.node_visible)
        if not vis.size:
            self._fit_rect(self._layout_rect())
            return
        self._fit_rect(nodes_rect(self.xy[vis], self.layout_))

    def _layout_rect(self) -> tuple[float, float, float, float]:
        assert self.layout_ is not None
        return layout_rect(self.layout_)

    def _fit_rect(self, rect: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = rect
        h = self.vb.height() if self.vb.height() > 50 else 700.0
        extra = headroom_extent(y0, y1, h, self.headroom_px())  # type: ignore[attr-defined]
        self.getPlotItem().setRange(  # type: ignore[attr-defined]
            xRange=(x0, x1), yRange=(y0, y1 + extra), padding=0)

    def _spread(self) -> np.ndarray:
        """Layout coordinates with crowded cells wrapped into sub-rows (see cells.py)."""
        assert self._doc is not None and self.layout_ is not None
        return spread_layout(self._doc.graph, self.layout_, *self._px_per_unit())

    def _px_per_unit(self) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w = self.vb.width() if self.vb.width() > 50 else 1200.0
        h = self.vb.height() if self.vb.height() > 50 else 700.0
        return w / max(x1 - x0, 1e-9), h / max(y1 - y0, 1e-9)

    def _update_glyph_size(self) -> None:
        """Glyphs shrink with the densest visible cell, down to a minimum (cells.py)."""
        if self._doc is None or not len(self.xy):
            return
        vis = self.node_visible
        sx, sy = self._px_per_unit()
        rows = np.round(self.base_xy[vis, 1])
        size = glyph_size(self.xy[vis], rows, self._doc.graph.nodes.position[vis], sx, sy)
        if abs(size - self.glyph_px) > 0.25:
            self.glyph_px = size
            for item in self._node_items.values():
                item.setSize(size)

