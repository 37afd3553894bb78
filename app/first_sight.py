"""The window's first frame: the opened graph's nodes, drawn before pyqtgraph is loaded.

Importing pyqtgraph costs about 0.25 s (its Qt shim touches every PySide6 class), more than
a bare window takes to appear. So the window shows this sketch first: the nodes the canvas
will show, faded, where it will show them (the same layout, cell spreading and fit), with the
canvas's layer and token axes. A graph that opens pruned is pruned here when that is quick
(:func:`opening_nodes`); a big one is sketched whole, as its canvas first shows it. The
canvas, built next, replaces the sketch and adds the edges, the labels and the gestures.

The picture is made by the load's worker (:func:`render_sketch`; QImage and QPainter work
off the GUI thread): 10k antialiased points took the GUI thread 45 ms to paint. The widget
only shows that image.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPaintEvent, QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QWidget

from ..graph.analysis.layout import Layout, default_layout
from ..graph.analysis.prune import prune
from ..graph.analysis.view import visible_masks
from ..graph.io.session import state_from_qparams
from ..graph.model import Graph
from ..graph.text import token_text
from .canvas.cells import glyph_size
from .canvas.fitting import (
    headroom_extent, layout_rect, logit_headroom_px, nodes_rect, spread_layout,
)
from .canvas.palette import GLYPHS, LIGHT, Theme, blended
from .canvas.token_ticks import tick_texts

PRUNE_FIRST_MAX_EDGES = 200_000
"""Graphs with more links are sketched whole: their prune would hold back the first frame."""
FADE = 0.55
"""How far the glyphs' colours are mixed towards the background."""
# Where pyqtgraph puts the canvas's plot (measured on PlotWidget; tests/test_first_sight.py
# checks that the sketch's nodes land where the canvas draws them):
OUTER = (1.0, 1.0, 0.5, 0.5)
"""Left, top, right, bottom px around the plot and its axes."""
TICK_GAP = (5.0, 2.0)
"""Between an axis line and its tick texts, px (pyqtgraph's tickTextOffset)."""
TEXT_ROOM = (30.0, 18.0)
"""The room an axis starts with for its texts, px; it changes only for texts wider than it,
or over 10 px narrower (pyqtgraph's AxisItem)."""


def opening_nodes(graph: Graph) -> np.ndarray | None:
    """The nodes the canvas shows once ``graph`` is open: what its session's pruning keeps,
    when that is quick to find (None: every node; a big raw graph's canvas shows every node
    too, until its prune result comes)."""
    state = state_from_qparams(graph)
    if not state.pruning or graph.n_edges > PRUNE_FIRST_MAX_EDGES:
        return None
    kept = prune(graph, state.node_threshold, state.edge_threshold,
                 pinned=tuple(sorted(state.pinned)))
    return visible_masks(graph, hidden=state.hidden, pinned=state.pinned,
                         node_mask=kept.node_mask, edge_mask=kept.edge_mask)[0]


def render_sketch(graph: Graph, width: int, height: int, theme: Theme,
                  pixel_ratio: float = 1.0, visible: np.ndarray | None = None) -> QImage:
    """The sketch of ``graph`` for a widget of ``width`` × ``height`` (any thread): the
    ``visible`` nodes (None: all), faded, and the layer and token axes as the canvas will
    draw them."""
    image = QImage(max(round(width * pixel_ratio), 1), max(round(height * pixel_ratio), 1),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(pixel_ratio)
    image.fill(QColor(theme.background))
    shown = np.ones(graph.n_nodes, bool) if visible is None else np.asarray(visible, bool)
    if not shown.any():
        return image
    font = QFont()
    p = _place(graph, width, height, shown, font)
    px, size = p.px, p.size
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _axes(painter, font, theme, p, graph)
    kinds = graph.nodes.kind
    for kind, (symbol, rgb) in GLYPHS.items():
        chosen = np.flatnonzero((kinds == int(kind)) & shown)
        if not chosen.size:
            continue
        faded = blended(rgb, QColor(theme.background), 1 - FADE)
        if symbol == "d":  # pyqtgraph's diamond: 0.8 of the size wide, the size tall
            path = QPainterPath()
            for x, y in px[chosen].tolist():
                path.addPolygon(QPolygonF([QPointF(x, y - size / 2), QPointF(x - 0.4 * size, y),
                                           QPointF(x, y + size / 2), QPointF(x + 0.4 * size, y)]))
            painter.fillPath(path, faded)
            continue
        cap = Qt.PenCapStyle.SquareCap if symbol == "s" else Qt.PenCapStyle.RoundCap
        painter.setPen(QPen(faded, size, Qt.PenStyle.SolidLine, cap))
        painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in px[chosen].tolist()]))
    painter.end()
    return image


def _text_room(start: float, needed: float) -> float:
    return needed if needed > start or needed < start - 10 else start


def _plot_area(fm: QFontMetricsF, row_texts: list[str], width: int, height: int) -> QRectF:
    """The canvas's plot rectangle in a ``width`` × ``height`` widget."""
    left_text = _text_room(TEXT_ROOM[0], max((fm.boundingRect(t).width() for t in row_texts),
                                             default=0.0))
    bottom_text = _text_room(TEXT_ROOM[1], fm.height())
    left = OUTER[0] + math.ceil(left_text) + TICK_GAP[0]
    top = OUTER[1]
    bottom = OUTER[3] + bottom_text + TICK_GAP[1]
    return QRectF(left, top, max(width - left - OUTER[2], 1.0), max(height - top - bottom, 1.0))


class _Placement(NamedTuple):
    """The canvas's default view, as the sketch draws it."""

    layout: Layout
    rows: list[tuple[int, str]]
    """(row, label) of the layer axis, bottom up."""
    area: QRectF
    """The plot rectangle in widget pixels."""
    origin: tuple[float, float]
    """Layout coordinates at the area's bottom left."""
    scale: tuple[float, float]
    """Pixels per layout unit, x and y."""
    px: np.ndarray
    """Node centres in widget pixels."""
    size: float
    """Glyph size, px."""


def _place(graph: Graph, width: int, height: int, shown: np.ndarray, font: QFont
           ) -> _Placement:
    """Where the canvas puts ``graph``'s axes and ``shown`` nodes in a ``width`` × ``height``
    widget. As the canvas: fit the layout, spread crowded cells at that scale, then fit the
    shown nodes (graph_canvas.py, ``_on_graph_replaced`` and the first prune result)."""
    layout = default_layout(graph)
    rows = sorted(layout.row_labels.items())
    area = _plot_area(QFontMetricsF(font), [text for _, text in rows], width, height)
    headroom = logit_headroom_px(graph)

    def scale(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = rect
        y1 += headroom_extent(y0, y1, area.height(), headroom)
        return x0, y0, x1, y1

    x0, y0, x1, y1 = scale(layout_rect(layout))
    xy = spread_layout(graph, layout, area.width() / max(x1 - x0, 1e-9),
                       area.height() / max(y1 - y0, 1e-9))
    x0, y0, x1, y1 = scale(nodes_rect(xy[shown], layout))
    sx, sy = area.width() / max(x1 - x0, 1e-9), area.height() / max(y1 - y0, 1e-9)
    size = glyph_size(xy[shown], np.round(layout.xy[shown, 1]), graph.nodes.position[shown],
                      sx, sy)
    px = np.column_stack([area.left() + (xy[:, 0] - x0) * sx,
                          area.bottom() - (xy[:, 1] - y0) * sy])
    return _Placement(layout, rows, area, (x0, y0), (sx, sy), px, size)


def _axes(painter: QPainter, font: QFont, theme: Theme, p: _Placement, graph: Graph) -> None:
    """The layer axis (row labels) and the token axis, as the canvas's axes draw them."""
    area, layout = p.area, p.layout
    (x0, y0), (sx, sy) = p.origin, p.scale
    fm = QFontMetricsF(font)
    painter.setFont(font)
    painter.setPen(QPen(QColor(theme.foreground), 1.0))
    painter.drawLine(QPointF(area.left(), area.top()), QPointF(area.left(), area.bottom()))
    painter.drawLine(QPointF(area.left(), area.bottom()), QPointF(area.right(), area.bottom()))
    h = fm.height()
    step = max(1, math.ceil(h / max(sy, 1e-9)))  # rows closer than a line of text: every k-th
    for row, text in p.rows[::step]:
        y = area.bottom() - (row - y0) * sy
        if area.top() <= y <= area.bottom():
            painter.drawText(QRectF(0, y - h / 2, area.left() - TICK_GAP[0], h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
    tokens = [token_text(graph, p) for p in range(len(layout.column_x))]
    for x, text in tick_texts(tokens, layout.column_x, layout.column_width, sx):
        cx = area.left() + (x - x0) * sx
        if area.left() <= cx <= area.right():
            w = fm.horizontalAdvance(text) + 2
            painter.drawText(QRectF(cx - w / 2, area.bottom() + TICK_GAP[1], w, h),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)


def node_pixels(graph: Graph, width: int, height: int,
                visible: np.ndarray | None = None) -> np.ndarray:
    """Where the sketch puts each node's centre in a ``width`` × ``height`` widget (tests)."""
    shown = np.ones(graph.n_nodes, bool) if visible is None else np.asarray(visible, bool)
    return _place(graph, width, height, shown, QFont()).px


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
