"""The subgraph view: pinned nodes and supernodes laid out like the exported figure.

x is the token position (the graph's own columns), y the layer row; a supernode sits at
its members' mean and is drawn as a labelled box. Links between units are summed
(as Neuronpedia does) and drawn with width and colour by weight. Labels are placed
with the canvas's greedy placer, so none overlap. Dragging moves a unit freely, and the
position is remembered in the document (``subgraph_positions``), hence in the session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPen

from ...graph import document as cmd
from ...graph.analysis.layout import layer_layout, node_rows
from ...graph.analysis.supernodes import Unit, aggregate_edges, subgraph_units
from ...graph.document import Document
from ...graph.model import NodeKind
from ..canvas.edges import EdgeBatchItem
from ..canvas.labels import LabelPainter, PlacedLabel, place_labels, short, text_sizes
from ..canvas.palette import GLYPHS, NODE_SIZE, blended, share_rgb
from ..canvas.viewbox import CanvasViewBox

GROUP_RGB = (150, 110, 200)
WIDTHS = (1.0, 1.8, 2.8, 4.0)
"""Pen width per weight bin (weakest to strongest) of the summed links."""


def default_positions(doc: Document, units: list[Unit]) -> np.ndarray:
    """As the exported figure: x = mean token column of the unit's members, y = its layer row
    with empty rows left out; units that would land on one spot are spread sideways."""
    graph = doc.graph
    layout = layer_layout(graph)
    rows = node_rows(graph)
    pos = np.clip(graph.nodes.position, 0, layout.n_positions - 1)
    xy = np.array([[layout.column_x[pos[list(u.rows)]].mean(), rows[list(u.rows)].mean()]
                   for u in units]).reshape(-1, 2)
    if len(xy):
        levels = np.unique(np.round(xy[:, 1], 3))
        xy[:, 1] = np.searchsorted(levels, np.round(xy[:, 1], 3))  # compact rows
    key = np.round(xy * np.array([2.0, 1.0]))  # same half column and row: one spot
    for spot in np.unique(key, axis=0):
        same = np.flatnonzero((key == spot).all(axis=1))
        if same.size > 1:
            xy[same, 0] += (np.arange(same.size) - (same.size - 1) / 2) * 0.35
    return xy


class SubgraphView(pg.PlotWidget):  # type: ignore[misc]
    """No cap on nodes; positions are saved in the document (``subgraph_positions``)."""

    def __init__(self, parent: object = None) -> None:
        self.vb = CanvasViewBox()
        super().__init__(parent=parent, viewBox=self.vb)
        self.vb.owner = self
        self.doc: Document | None = None
        self.units: list[Unit] = []
        self.xy = np.zeros((0, 2))
        self.placed: list[PlacedLabel] = []
        self.setBackground("#ffffff")
        self.setAntialiasing(True)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.hideAxis("bottom")
        plot.hideAxis("left")
        self._edges: list[EdgeBatchItem] = []
        for sign in (-1.0, 1.0):
            for k, width in enumerate(WIDTHS):
                r, g, b = share_rgb(np.array([sign * (k + 1) / len(WIDTHS)]))[0].tolist()
                pen = QPen(QColor(r, g, b))
                pen.setCosmetic(True)
                pen.setWidthF(width)
                item = EdgeBatchItem(pen)
                item.antialias = True
                item.setZValue(k)
                plot.addItem(item)
                self._edges.append(item)
        self._nodes = pg.ScatterPlotItem(size=NODE_SIZE + 4, pxMode=True, pen=pg.mkPen(50, 50, 50))
        self._nodes.setZValue(10)
        plot.addItem(self._nodes)
        self.labels = LabelPainter()
        self.labels.setZValue(20)
        plot.addItem(self.labels, ignoreBounds=True)
        self.vb.sigTransformChanged.connect(self._place_texts)
        self.hint = pg.TextItem("Pin nodes (Ctrl+click, P) or group them (G) to see them here",
                                color="#888888", anchor=(0.5, 0.5))
        plot.addItem(self.hint, ignoreBounds=True)

    def set_colors(self, background: str, text: str) -> None:
        self.setBackground(background)
        self.labels.set_colors(text, background, QColor(background).lightness() < 128)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        doc.state_changed.connect(self._on_changed)
        doc.graph_replaced.connect(self.rebuild)
        self.rebuild()

    def _on_changed(self, changed: frozenset[str]) -> None:
        if changed & {"pinned", "supernodes", "hidden", "labels", "subgraph_positions"}:
            self.rebuild()

    def rebuild(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.units = subgraph_units(doc.graph, doc.state)
        xy = default_positions(doc, self.units) if self.units else np.zeros((0, 2))
        for k, unit in enumerate(self.units):
            if unit.key in doc.state.subgraph_positions:
                xy[k] = doc.state.subgraph_positions[unit.key]
        self.xy = xy
        self._set_edges(*aggregate_edges(doc.graph, self.units))
        kinds = doc.graph.nodes.kind
        single = [k for k, u in enumerate(self.units) if not self.is_group(k)]
        symbols, brushes = [], []
        for k in single:  # a supernode is drawn as its labelled box (the label layer)
            symbol, rgb = GLYPHS[NodeKind(int(kinds[self.units[k].rows[0]]))]
            symbols.append(symbol)
            brushes.append(pg.mkBrush(*rgb))
        self._nodes.setData(pos=xy[single].reshape(-1, 2), symbol=symbols, brush=brushes,
                            size=NODE_SIZE + 3, data=single)
        if len(xy):
            self.fit()
        self._place_texts()

    def is_group(self, k: int) -> bool:
        return self.units[k].key.startswith("group:")

    def _set_edges(self, su: np.ndarray, tu: np.ndarray, w: np.ndarray) -> None:
        segs = np.concatenate([self.xy[su], self.xy[tu]], axis=1) if len(su) else np.zeros((0, 4))
        mag = np.abs(w) / max(float(np.abs(w).max(initial=0.0)), 1e-12)
        level = np.minimum((np.sqrt(mag) * len(WIDTHS)).astype(int), len(WIDTHS) - 1)
        for k, item in enumerate(self._edges):
            sign, lvl = divmod(k, len(WIDTHS))
            pick = (level == lvl) & ((w >= 0) if sign else (w < 0))
            item.set_segments(segs[pick])

    def fit(self) -> None:
        """Show every unit with room for its label."""
        x0, y0 = self.xy.min(axis=0)
        x1, y1 = self.xy.max(axis=0)
        self.getPlotItem().setRange(xRange=(x0 - 0.6, x1 + 0.6), yRange=(y0 - 0.8, y1 + 0.8),
                                    padding=0.05)

    def refresh_view(self) -> None:
        self._place_texts()

    def _scene_xy(self, xy: np.ndarray) -> np.ndarray:
        self.vb.childTransform()  # brings a lazily updated view transform up to date
        tf = self.vb.childGroup.sceneTransform()
        return np.column_stack([tf.m11() * xy[:, 0] + tf.m21() * xy[:, 1] + tf.dx(),
                                tf.m12() * xy[:, 0] + tf.m22() * xy[:, 1] + tf.dy()])

    def _place_texts(self, *_: object) -> None:
        self.hint.setVisible(not self.units)
        if not self.units:
            c = self.vb.viewRect().center()
            self.hint.setPos(c.x(), c.y())
        if self.doc is None or not self.units:
            self.placed = []
            self.labels.set_labels([], self.vb.viewRect())
            return
        texts = [short(u.label, 30) for u in self.units]
        anchors = self._scene_xy(self.xy)
        sizes = text_sizes(texts, self.labels.font)
        group = np.array([self.is_group(k) for k in range(len(self.units))])
        radii = np.full(len(texts), (NODE_SIZE + 3) / 2)
        glyphs = np.column_stack([anchors - radii[:, None], anchors + radii[:, None]])[~group]
        r = self.vb.sceneBoundingRect()
        order = np.r_[np.flatnonzero(group), np.flatnonzero(~group)]  # boxes before labels
        boxes = np.full((len(texts), 4), np.nan)
        boxes[order] = place_labels(anchors[order], sizes[order], radii[order],
                                    np.ones(len(texts), bool), glyphs,
                                    (r.left() + 1, r.top() + 1, r.right() - 1, r.bottom() - 1),
                                    centred=group[order])
        fill = blended(GROUP_RGB, self.backgroundBrush().color(), 0.35)
        self.placed = []
        for k, unit in enumerate(self.units):
            if np.isnan(boxes[k, 0]):
                continue
            off = boxes[k] - np.r_[anchors[k], anchors[k]]
            inside = off[0] <= 0 <= off[2] and off[1] <= 0 <= off[3]
            gap = max(off[0], -off[2], off[1], -off[3])
            self.placed.append(PlacedLabel(texts[k], k, tuple(self.xy[k].tolist()),
                                           tuple(float(v) for v in off),
                                           not inside and gap > radii[k] + 4,
                                           fill if group[k] else None, float(radii[k])))
        self.labels.set_labels(self.placed, self.vb.viewRect())

    def drawn_report(self) -> dict[str, Any]:
        """Units and labels drawn, in this widget's pixels (``screenshot --report``)."""
        origin = self.mapFromScene(QPointF(0, 0))
        ox, oy = origin.x(), origin.y()
        r = self.vb.sceneBoundingRect()
        p = self._scene_xy(self.xy) if len(self.xy) else np.zeros((0, 2))
        h = (NODE_SIZE + 3) / 2
        nodes = [{"id": u.key, "kind": "supernode" if self.is_group(k) else "node",
                  "rect": [x - h + ox, y - h + oy, 2 * h, 2 * h]}
                 for k, (u, (x, y)) in enumerate(zip(self.units, p.tolist()))]
        labels = []
        for lab in self.placed:
            a = self._scene_xy(np.array([lab.anchor]))[0]
            x0, y0, x1, y1 = lab.offset
            labels.append({"text": lab.text, "node": self.units[int(lab.row or 0)].key,
                           "rect": [a[0] + x0 + ox, a[1] + y0 + oy, x1 - x0, y1 - y0]})
        return {"canvas": [r.left() + ox, r.top() + oy, r.width(), r.height()],
                "nodes": nodes, "labels": labels}

    # ---- gestures (CanvasViewBox owner protocol)

    def node_at(self, scene_pos: QPointF, radius_px: float = 10.0) -> int | None:
        if not len(self.xy):
            return None
        p = self.vb.mapSceneToView(scene_pos)
        px = self.vb.viewPixelSize()
        d = np.hypot((self.xy[:, 0] - p.x()) / px[0], (self.xy[:, 1] - p.y()) / px[1])
        best = int(np.argmin(d))
        return best if d[best] <= radius_px else None

    def drag_node(self, index: int, view_pos: QPointF, phase: str, free: bool = True) -> None:
        if phase == "finish" and self.doc is not None:
            cmd.move_subgraph_nodes(self.doc, {self.units[index].key: (view_pos.x(), view_pos.y())})

    def rubber_band(self, rect: QRectF, add: bool, final: bool) -> None:
        if not final or self.doc is None:
            return
        inside = [u for u, (x, y) in zip(self.units, self.xy.tolist()) if rect.contains(QPointF(x, y))]
        ids = [self.doc.graph.nodes.ids[r] for u in inside for r in u.rows]
        cmd.select(self.doc, ids, add=add)

    def mouseDoubleClickEvent(self, ev: object) -> None:  # pragma: no cover - convenience
        hit = self.node_at(self.mapToScene(ev.position().toPoint()))  # type: ignore[attr-defined]
        if hit is not None and self.doc is not None:
            cmd.click(self.doc, self.doc.graph.nodes.ids[self.units[hit].rows[0]])
        super().mouseDoubleClickEvent(ev)


def unit_point(view: SubgraphView, k: int) -> QPointF:
    """Widget coordinates of unit ``k`` (tests)."""
    return QPointF(view.mapFromScene(view.vb.mapViewToScene(QPointF(*view.xy[k]))))


__all__ = ["SubgraphView", "default_positions", "unit_point"]
