"""The subgraph view: pinned nodes and supernodes with their own layered layout, draggable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF

from ...graph import document as cmd
from ...graph.document import Document
from ...graph.analysis.layout import node_rows
from ...graph.model import NodeKind
from ...graph.analysis.supernodes import Unit, aggregate_edges, subgraph_units
from ..canvas.graph_canvas import GLYPHS, NODE_SIZE
from ..canvas.edges import EdgeBatchItem, highlight_pen
from ..canvas.labels import short
from ..canvas.viewbox import CanvasViewBox

GROUP_RGB = (150, 110, 200)


def default_positions(doc: Document, units: list[Unit]) -> np.ndarray:
    """y = mean layer row of the unit's members; x = rank in its row by mean token position."""
    rows = node_rows(doc.graph)
    pos = doc.graph.nodes.position
    y = np.array([rows[list(u.rows)].mean() for u in units])
    x = np.zeros(len(units))
    by_row: dict[float, list[int]] = {}
    for k, yy in enumerate(np.round(y, 3).tolist()):
        by_row.setdefault(yy, []).append(k)
    for members in by_row.values():
        members.sort(key=lambda k: (pos[list(units[k].rows)].mean(), units[k].key))
        for rank, k in enumerate(members):
            x[k] = rank - (len(members) - 1) / 2
    return np.column_stack([x, y])


class SubgraphView(pg.PlotWidget):  # type: ignore[misc]
    """No cap on nodes; positions are saved in the document (``subgraph_positions``)."""

    def __init__(self, parent: object = None) -> None:
        self.vb = CanvasViewBox()
        super().__init__(parent=parent, viewBox=self.vb)
        self.vb.owner = self
        self.doc: Document | None = None
        self.units: list[Unit] = []
        self.xy = np.zeros((0, 2))
        self.setBackground("#ffffff")
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.hideAxis("bottom")
        plot.hideAxis("left")
        self._edges = [EdgeBatchItem(highlight_pen(s)) for s in (-1, 1)]
        for item in self._edges:
            plot.addItem(item)
        self._nodes = pg.ScatterPlotItem(size=NODE_SIZE + 4, pxMode=True, pen=pg.mkPen(50, 50, 50))
        self._nodes.setZValue(10)
        plot.addItem(self._nodes)
        self._texts: list[pg.TextItem] = []
        self._text_color = "#222222"

    def set_colors(self, background: str, text: str) -> None:
        self.setBackground(background)
        self._text_color = text
        for item in self._texts:
            item.setColor(text)

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
        su, tu, w = aggregate_edges(doc.graph, self.units)
        segs = np.concatenate([xy[su], xy[tu]], axis=1) if len(su) else np.zeros((0, 4))
        self._edges[0].set_segments(segs[w < 0])
        self._edges[1].set_segments(segs[w >= 0])
        kinds = doc.graph.nodes.kind
        symbols, brushes = [], []
        for unit in self.units:
            if unit.key.startswith("group:"):
                symbols.append("h")
                brushes.append(pg.mkBrush(*GROUP_RGB))
            else:
                symbol, rgb = GLYPHS[NodeKind(int(kinds[unit.rows[0]]))]
                symbols.append(symbol)
                brushes.append(pg.mkBrush(*rgb))
        self._nodes.setData(pos=xy, symbol=symbols, brush=brushes, data=list(range(len(self.units))))
        self._place_texts()
        if len(xy):
            self.getPlotItem().autoRange(padding=0.15)

    def _place_texts(self) -> None:
        plot = self.getPlotItem()
        while len(self._texts) < len(self.units):
            item = pg.TextItem(anchor=(0.5, 1.3), color=self._text_color)
            plot.addItem(item, ignoreBounds=True)
            self._texts.append(item)
        for k, item in enumerate(self._texts):
            if k < len(self.units):
                item.setText(short(self.units[k].label))
                item.setPos(*self.xy[k])
                item.show()
            else:
                item.hide()

    # ---- gestures (CanvasViewBox owner protocol)

    def node_at(self, scene_pos: QPointF, radius_px: float = 10.0) -> int | None:
        if not len(self.xy):
            return None
        p = self.vb.mapSceneToView(scene_pos)
        px = self.vb.viewPixelSize()
        d = np.hypot((self.xy[:, 0] - p.x()) / px[0], (self.xy[:, 1] - p.y()) / px[1])
        best = int(np.argmin(d))
        return best if d[best] <= radius_px else None

    def drag_node(self, index: int, view_pos: QPointF, phase: str) -> None:
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
