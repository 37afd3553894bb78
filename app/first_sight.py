"""The window's first frame: the opened graph's nodes, drawn before pyqtgraph is loaded.

Importing pyqtgraph costs about 0.25 s (its Qt shim touches every PySide6 class), more than
a bare window takes to appear. So the window shows this sketch first: every node, faded, at
the place the canvas gives it before any pruning (the same layout and cell spreading). The
canvas, built next, replaces it with what pruning keeps, the edges, the labels and the
gestures. Faded, because the sketch is not yet what pruning will show.

The picture is made by the load's worker (:func:`render_sketch`; QImage and QPainter work
off the GUI thread): 10k antialiased points took the GUI thread 45 ms to paint. The widget
only shows that image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from ..graph.analysis.layout import Layout, default_layout
from ..graph.model import Graph
from .canvas.cells import glyph_size
from .canvas.fitting import headroom_extent, layout_rect, logit_headroom_px, spread_layout
from .canvas.palette import GLYPHS, LIGHT, Theme, blended

MARGINS = (46, 12, 12, 40)
"""Left, top, right, bottom px: where the canvas's axes are."""
FADE = 0.55
"""How far the glyphs' colours are mixed towards the background."""


def render_sketch(graph: Graph, width: int, height: int, theme: Theme,
                  pixel_ratio: float = 1.0) -> QImage:
    """The sketch of ``graph`` for a widget of ``width`` × ``height`` (any thread)."""
    image = QImage(max(round(width * pixel_ratio), 1), max(round(height * pixel_ratio), 1),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(pixel_ratio)
    image.fill(QColor(theme.background))
    if not graph.n_nodes:
        return image
    px, size = _pixels(graph, default_layout(graph), width, height)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    kinds = graph.nodes.kind
    for kind, (symbol, rgb) in GLYPHS.items():
        rows = np.flatnonzero(kinds == int(kind))
        if not rows.size:
            continue
        faded = blended(rgb, QColor(theme.background), 1 - FADE)
        cap = Qt.PenCapStyle.SquareCap if symbol == "s" else Qt.PenCapStyle.RoundCap
        painter.setPen(QPen(faded, size, Qt.PenStyle.SolidLine, cap))
        painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in px[rows].tolist()]))
    painter.end()
    return image


def _pixels(graph: Graph, layout: Layout, width: int, height: int) -> tuple[np.ndarray, float]:
    """Node centres in widget pixels and the glyph size, as the canvas's default view."""
    left, top, right, bottom = MARGINS
    area = QRectF(left, top, max(width - left - right, 1), max(height - top - bottom, 1))
    x0, y0, x1, y1 = layout_rect(layout)
    y1 += headroom_extent(y0, y1, area.height(), logit_headroom_px(graph))  # as the canvas
    sx, sy = area.width() / max(x1 - x0, 1e-9), area.height() / max(y1 - y0, 1e-9)
    xy = spread_layout(graph, layout, sx, sy)
    size = glyph_size(xy, np.round(layout.xy[:, 1]), graph.nodes.position, sx, sy)
    px = np.column_stack([area.left() + (xy[:, 0] - x0) * sx,
                          area.bottom() - (xy[:, 1] - y0) * sy])
    return px, size


class FirstSight(QWidget):
    """Shows the sketch image until the canvas, built beneath it, has drawn the graph."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # paints every pixel: the canvas being built beneath it is not painted meanwhile
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.theme: Theme = LIGHT
        self.image: QImage | None = None
        self.painted_nodes = 0
        """Nodes in the image shown (the tests read it)."""

    def show_image(self, image: QImage | None, n_nodes: int = 0) -> None:
        self.image, self.painted_nodes = image, n_nodes if image is not None else 0
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(self.theme.background))
        if self.image is not None:  # stretched if the window was resized meanwhile
            painter.drawImage(QRectF(self.rect()), self.image)
        painter.end()
