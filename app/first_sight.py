"""The window's first frame: the opened graph's nodes, drawn before pyqtgraph is loaded.

Importing pyqtgraph costs about 0.25 s (its Qt shim touches every PySide6 class), more than
a bare window takes to appear. So the window shows this sketch first: every node, faded, at
the place the canvas gives it before any pruning (the same layout and cell spreading). The
canvas, built in the next event-loop turn, replaces it with what pruning keeps, the edges,
the labels and the gestures. Faded, because the sketch is not yet what pruning will show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from ..graph.analysis.layout import Layout, default_layout
from ..graph.model import Graph
from .canvas.cells import glyph_size, spread_cells
from .canvas.palette import GLYPHS, LIGHT, Theme

MARGINS = (46, 12, 12, 40)
"""Left, top, right, bottom px: where the canvas's axes are."""
FADE = 0.55
"""How far the glyphs' colours are mixed towards the background."""
HEADROOM = 0.12
"""Share of the height above the top row (the canvas keeps it for the logits' labels)."""


class FirstSight(QWidget):
    """A static picture of the graph's nodes, replaced by the canvas once that is built."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # paints every pixel: the canvas being built beneath it is not painted meanwhile
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.theme: Theme = LIGHT
        self.graph: Graph | None = None
        self.painted_nodes = 0
        """Nodes drawn by the last paint (the tests read it)."""
        self._made: tuple[Any, ...] = ()
        """(graph, width, height, glyph size, [(symbol, rgb, points)]) of the last paint."""

    def show_graph(self, graph: Graph | None) -> None:
        self.graph = graph
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(self.theme.background))
        self.painted_nodes = 0
        if self.graph is None or not self.graph.n_nodes:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        size, groups = self._glyphs()
        for symbol, rgb, points in groups:
            cap = Qt.PenCapStyle.SquareCap if symbol == "s" else Qt.PenCapStyle.RoundCap
            painter.setPen(QPen(self._faded(rgb), size, Qt.PenStyle.SolidLine, cap))
            painter.drawPoints(points)
            self.painted_nodes += points.size()
        painter.end()

    def _glyphs(self) -> tuple[float, list[tuple[str, tuple[int, int, int], QPolygonF]]]:
        """Glyph size and points per kind, made once per graph and size (a repaint of a
        10k-node sketch would otherwise spread its cells again)."""
        assert self.graph is not None
        made = self._made
        if not made or made[0] is not self.graph or made[1:3] != (self.width(), self.height()):
            layout = default_layout(self.graph)  # computed by the load worker: a lookup here
            px, size = self._pixels(layout)
            kinds = self.graph.nodes.kind
            groups = []
            for kind, (symbol, rgb) in GLYPHS.items():
                rows = np.flatnonzero(kinds == int(kind))
                if rows.size:
                    points = QPolygonF([QPointF(x, y) for x, y in px[rows].tolist()])
                    groups.append((symbol, rgb, points))
            self._made = made = (self.graph, self.width(), self.height(), size, groups)
        return made[3], made[4]

    def _faded(self, rgb: tuple[int, int, int]) -> QColor:
        back = QColor(self.theme.background)
        mix = [round(c + FADE * (b - c)) for c, b in zip(rgb, (back.red(), back.green(), back.blue()))]
        return QColor(*mix)

    def _pixels(self, layout: Layout) -> tuple[np.ndarray, float]:
        """Node centres in widget pixels and the glyph size, as the canvas's default view."""
        assert self.graph is not None
        left, top, right, bottom = MARGINS
        area = QRectF(left, top, max(self.width() - left - right, 1),
                      max(self.height() - top - bottom, 1))
        cx, cw = layout.column_x, layout.column_width
        x0, x1 = float(cx[0] - cw[0] / 2), float(cx[-1] + cw[-1] / 2)
        y0 = -0.6
        y1 = (max(layout.row_labels) if layout.row_labels else 1) + 0.6
        y1 += HEADROOM * (y1 - y0) / (1 - HEADROOM)
        sx, sy = area.width() / max(x1 - x0, 1e-9), area.height() / max(y1 - y0, 1e-9)
        pos = np.clip(self.graph.nodes.position, 0, layout.n_positions - 1)
        xy = spread_cells(layout.xy, layout.xy[:, 1], pos, cw[pos] * 0.8, sx, sy)
        size = glyph_size(xy, np.round(layout.xy[:, 1]), self.graph.nodes.position, sx, sy)
        px = np.column_stack([area.left() + (xy[:, 0] - x0) * sx,
                              area.bottom() - (xy[:, 1] - y0) * sy])
        return px, size

