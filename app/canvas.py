"""The graph canvas: layer × token layout, nodes by kind, batched edges, zoom and pan.

Reads everything from the :class:`Document` and redraws when it says so; the
only state kept here is derived drawing data (coordinates, buckets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter

from ..graph.document import Document
from ..graph.layout import Layout, layer_layout
from ..graph.model import NodeKind
from ..graph.view import id_mask, visible_masks
from .edges import N_BINS, EdgeBatchItem, bucket_of, bucket_pen, input_share

GLYPHS: dict[NodeKind, tuple[str, tuple[int, int, int]]] = {
    NodeKind.FEATURE: ("o", (130, 130, 130)),
    NodeKind.ERROR: ("d", (190, 190, 190)),
    NodeKind.EMBEDDING: ("s", (106, 168, 79)),
    NodeKind.LOGIT: ("s", (230, 145, 56)),
}
"""Symbol and fill per kind: circle feature, diamond error, square embedding/logit."""

NODE_SIZE = 9
PIN_COLOR = (200, 30, 120)
SELECT_COLOR = (20, 20, 20)


@dataclass(frozen=True)
class Theme:
    background: str
    foreground: str
    dark: bool


LIGHT = Theme("#ffffff", "#333333", False)
DARK = Theme("#1e1f22", "#d0d0d0", True)


class GraphCanvas(pg.PlotWidget):  # type: ignore[misc]
    """Draws the document's graph; emits ``node_clicked(index, modifiers)`` on clicks.

    ``set_prune_masks`` takes the current pruning result; hidden and pinned ids come
    from the document's state.
    """

    node_clicked = Signal(int, object)
    background_clicked = Signal()

    def __init__(self, doc: Document | None = None, parent: object = None) -> None:
        super().__init__(parent=parent)
        self._doc: Document | None = None
        self._theme = LIGHT
        self._prune_nodes: np.ndarray | None = None
        self._prune_edges: np.ndarray | None = None
        self.layout_: Layout | None = None
        self.xy = np.zeros((0, 2))
        self.node_visible = np.zeros(0, bool)
        self.edge_visible = np.zeros(0, bool)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showGrid(x=False, y=False)
        self.setAntialiasing(False)
        self._edge_items = [EdgeBatchItem(bucket_pen(b)) for b in range(2 * N_BINS)]
        # weakest first so the strongest edges are drawn on top
        order = [b for level in range(N_BINS) for b in (level, N_BINS + level)]
        for z, b in enumerate(order):
            self._edge_items[b].setZValue(z)
            plot.addItem(self._edge_items[b])
        self._node_items: dict[NodeKind, pg.ScatterPlotItem] = {}
        for z, (kind, (symbol, rgb)) in enumerate(GLYPHS.items()):
            item = pg.ScatterPlotItem(symbol=symbol, size=NODE_SIZE, pen=pg.mkPen(60, 60, 60, 200),
                                      brush=pg.mkBrush(*rgb), pxMode=True)
            item.setZValue(100 + z)
            plot.addItem(item)
            self._node_items[kind] = item
        self._pin_item = pg.ScatterPlotItem(symbol="o", size=NODE_SIZE + 7, brush=None,
                                            pen=pg.mkPen(*PIN_COLOR, width=2), pxMode=True)
        self._sel_item = pg.ScatterPlotItem(symbol="o", size=NODE_SIZE + 11, brush=None,
                                            pen=pg.mkPen(*SELECT_COLOR, width=2), pxMode=True)
        for z, item in enumerate((self._pin_item, self._sel_item)):
            item.setZValue(200 + z)
            plot.addItem(item)
        self.scene().sigMouseClicked.connect(self._on_scene_click)
        self.set_theme(LIGHT)
        if doc is not None:
            self.set_document(doc)

    # ---------------------------------------------------------------- wiring

    def set_document(self, doc: Document) -> None:
        if self._doc is not None:
            self._doc.state_changed.disconnect(self._on_state_changed)
            self._doc.graph_replaced.disconnect(self._on_graph_replaced)
        self._doc = doc
        doc.state_changed.connect(self._on_state_changed)
        doc.graph_replaced.connect(self._on_graph_replaced)
        self._on_graph_replaced()

    def detach(self) -> None:
        if self._doc is not None:
            self._doc.state_changed.disconnect(self._on_state_changed)
            self._doc.graph_replaced.disconnect(self._on_graph_replaced)
            self._doc = None

    def set_prune_masks(self, node_mask: np.ndarray | None, edge_mask: np.ndarray | None) -> None:
        self._prune_nodes, self._prune_edges = node_mask, edge_mask
        self.rebuild()

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setBackground(theme.background)
        plot = self.getPlotItem()
        for name in ("bottom", "left"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(theme.foreground))
            axis.setTextPen(pg.mkPen(theme.foreground))
        for b, item in enumerate(self._edge_items):
            item.set_pen(bucket_pen(b, theme.dark))

    def _on_graph_replaced(self) -> None:
        self._prune_nodes = self._prune_edges = None
        assert self._doc is not None
        self.layout_ = layer_layout(self._doc.graph)
        self._set_axes()
        self.rebuild()
        self.reset_view()

    def _on_state_changed(self, changed: frozenset[str]) -> None:
        if changed & {"hidden", "positions", "pinned"}:
            self.rebuild()
        elif changed & {"selected", "clicked"}:
            self._update_overlays()

    # ---------------------------------------------------------------- drawing

    def _set_axes(self) -> None:
        assert self._doc is not None and self.layout_ is not None
        tokens = self._doc.graph.metadata.prompt_tokens
        n = self.layout_.n_positions
        names = [tokens[i] if i < len(tokens) else str(i) for i in range(n)]
        plot = self.getPlotItem()
        ticks = [(float(x), repr(t)[1:-1]) for x, t in zip(self.layout_.column_x, names)]
        plot.getAxis("bottom").setTicks([ticks])
        rows = sorted(self.layout_.row_labels.items())
        plot.getAxis("left").setTicks([[(r, lab) for r, lab in rows]])

    def node_positions(self) -> np.ndarray:
        """Layout coordinates with the user's dragged positions applied."""
        assert self._doc is not None and self.layout_ is not None
        xy = self.layout_.xy.copy()
        graph = self._doc.graph
        for nid, (x, y) in self._doc.state.positions.items():
            if graph.has_node(nid):
                xy[graph.index_of(nid)] = (x, y)
        return xy

    def rebuild(self) -> None:
        """Recompute visible nodes and edge buckets; called when graph, layout or masks change."""
        if self._doc is None or self.layout_ is None:
            return
        graph, state = self._doc.graph, self._doc.state
        self.xy = self.node_positions()
        self.node_visible, self.edge_visible = visible_masks(
            graph, hidden=state.hidden, pinned=state.pinned,
            node_mask=self._prune_nodes, edge_mask=self._prune_edges)
        src, dst, w = graph.source, graph.target, graph.weight.astype(np.float64)
        share = input_share(dst, np.where(self.edge_visible, w, 0.0), graph.n_nodes)
        bucket = bucket_of(share)
        segs = np.concatenate([self.xy[src], self.xy[dst]], axis=1)
        for b, item in enumerate(self._edge_items):
            item.set_segments(segs[self.edge_visible & (bucket == b)])
        kind = graph.nodes.kind
        for k, item in self._node_items.items():
            rows = np.flatnonzero(self.node_visible & (kind == k))
            item.setData(pos=self.xy[rows], data=rows)
        self._update_overlays()

    def _update_overlays(self) -> None:
        if self._doc is None:
            return
        graph, state = self._doc.graph, self._doc.state
        pinned = id_mask(graph, state.pinned) & self.node_visible
        selected = id_mask(graph, state.selected) & self.node_visible
        self._pin_item.setData(pos=self.xy[pinned])
        self._sel_item.setData(pos=self.xy[selected])

    def reset_view(self) -> None:
        if self.layout_ is None or not len(self.xy):
            return
        top = max(self.layout_.row_labels) if self.layout_.row_labels else 1
        cx, cw = self.layout_.column_x, self.layout_.column_width
        self.getPlotItem().setRange(xRange=(float(cx[0] - cw[0] / 2), float(cx[-1] + cw[-1] / 2)),
                                    yRange=(-0.6, top + 0.6), padding=0)

    # ---------------------------------------------------------------- picking

    def node_at(self, scene_pos: QPointF, radius_px: float = 8.0) -> int | None:
        """Index of the visible node nearest to ``scene_pos`` within ``radius_px``, else None."""
        rows = np.flatnonzero(self.node_visible)
        if not rows.size:
            return None
        vb = self.getPlotItem().getViewBox()
        p = vb.mapSceneToView(scene_pos)
        px = vb.viewPixelSize()  # data units per pixel (x, y)
        d = np.hypot((self.xy[rows, 0] - p.x()) / px[0], (self.xy[rows, 1] - p.y()) / px[1])
        best = int(np.argmin(d))
        return int(rows[best]) if d[best] <= radius_px else None

    def _on_scene_click(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        hit = self.node_at(event.scenePos())  # type: ignore[attr-defined]
        if hit is None:
            self.background_clicked.emit()
        else:
            self.node_clicked.emit(hit, event.modifiers())  # type: ignore[attr-defined]

    def view_point(self, index: int) -> QPoint:
        """Widget (viewport) coordinates of node ``index``, for tests and tooltips."""
        vb = self.getPlotItem().getViewBox()
        scene = vb.mapViewToScene(QPointF(*self.xy[index]))
        return self.mapFromScene(scene)

    def render_image(self) -> QImage:
        """The canvas as drawn now, as an ARGB32 premultiplied image."""
        image = QImage(self.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(self._theme.background))
        painter = QPainter(image)
        self.render(painter)
        painter.end()
        return image
