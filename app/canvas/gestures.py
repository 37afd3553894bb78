"""Mouse and keyboard on the graph canvas: click, hover, drag, rubber band, arrow walk.

A mixin of :class:`~circuitdesk.app.canvas.graph_canvas.GraphCanvas`: it reads the canvas's derived
drawing data (``xy``, ``node_visible``, ``edge_visible``) and writes only through document
commands.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QKeyEvent

from ...graph import document as cmd
from ...graph.document import Document
from ...graph.figure.labels import node_label
from ...graph.model import NodeKind
from ..throttle import throttled


class CanvasGestures:
    """Gesture handlers; the canvas provides the attributes used here."""

    _doc: Document | None
    xy: np.ndarray
    node_visible: np.ndarray
    edge_visible: np.ndarray
    hovered: int | None
    search_hits: list[int]
    _hover_item: Any
    _drag_item: Any
    _band: Any
    tooltip: Any
    node_hovered: Any


    def _on_scene_click(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._doc is None:  # type: ignore[attr-defined]
            return
        hit = self.node_at(event.scenePos())  # type: ignore[attr-defined]
        mods = event.modifiers()  # type: ignore[attr-defined]
        if hit is None:
            cmd.click(self._doc, None)
            return
        nid = self._doc.graph.nodes.ids[hit]
        if mods & Qt.KeyboardModifier.ControlModifier:
            cmd.toggle_pin(self._doc, nid)
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            cmd.select(self._doc, [nid], add=True)
        else:
            cmd.click(self._doc, nid)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self._hover_at(scene_pos)

    @throttled(30)
    def _hover_at(self, scene_pos: QPointF) -> None:
        hit = self.node_at(scene_pos)
        if hit == self.hovered:
            return
        self.set_hovered(hit)

    def set_hovered(self, row: int | None) -> None:
        self.hovered = row
        if row is None or self._doc is None:
            self._hover_item.setData(pos=np.zeros((0, 2)))
            self.tooltip.hide()
        else:
            self._hover_item.setData(pos=self.xy[[row]])
            self.tooltip.setHtml(tooltip_html(self._doc, row))
            self.tooltip.setPos(float(self.xy[row, 0]), float(self.xy[row, 1]))
            self.tooltip.show()
        if self._doc is not None and self._doc.state.clicked is None:
            self._update_clicked()  # type: ignore[attr-defined]  # hover shows the node's edges
        self._show_hovered()  # type: ignore[attr-defined]
        self.node_hovered.emit(-1 if row is None else row)

    def drag_node(self, index: int, view_pos: QPointF, phase: str, free: bool = False) -> None:
        """Live preview while dragging; one undoable move when the drag ends.

        The node stays in its layer row (only x follows the mouse) unless ``free``
        (Alt held; Shift+drag is the rubber band), so the picture never misstates a node's layer.
        """
        if self._doc is None:
            return
        x, y = view_pos.x(), view_pos.y()
        if not free:
            y = float(self.xy[index, 1])
        self._drag_item.setData(pos=np.array([[x, y]]))
        if phase == "finish":
            self._drag_item.setData(pos=np.zeros((0, 2)))
            cmd.move_nodes(self._doc, {self._doc.graph.nodes.ids[index]: (x, y)})

    def rubber_band(self, rect: QRectF, add: bool, final: bool) -> None:
        if self._doc is None:
            return
        if not final:
            self._band.setRect(rect)
            self._band.show()
            return
        self._band.hide()
        x, y = self.xy[:, 0], self.xy[:, 1]
        inside = (self.node_visible & (x >= rect.left()) & (x <= rect.right())
                  & (y >= rect.top()) & (y <= rect.bottom()))
        ids = [self._doc.graph.nodes.ids[i] for i in np.flatnonzero(inside)]
        cmd.select(self._doc, ids, add=add)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._doc is None:
            super().keyPressEvent(event)
            return
        key = event.key()
        if key == Qt.Key.Key_F and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.reset_view()  # type: ignore[attr-defined]
        elif key == Qt.Key.Key_Escape:
            cmd.click(self._doc, None)
            self.search_hits = []
            self._update_overlays()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Left):
            self.walk(outgoing=key in (Qt.Key.Key_Up, Qt.Key.Key_Right))
        else:
            super().keyPressEvent(event)

    def walk(self, *, outgoing: bool) -> int | None:
        """Click the clicked node's strongest visible output (or input); returns the new row."""
        doc = self._doc
        if doc is None or doc.state.clicked is None:
            return None
        graph = doc.graph
        c = graph.index_of(doc.state.clicked)
        edges = graph.edges_of(c, inputs=not outgoing, outputs=outgoing)
        edges = edges[self.edge_visible[edges]]
        if not edges.size:
            return None
        best = edges[np.argmax(np.abs(graph.weight[edges]))]
        row = int(graph.target[best] if outgoing else graph.source[best])
        cmd.click(doc, graph.nodes.ids[row])
        return row

    def set_search_hits(self, rows: list[int]) -> None:
        self.search_hits = rows
        self._update_overlays()
        self.center_on([r for r in rows if self.node_visible[r]])


def tooltip_html(doc: Document, row: int) -> str:
    """Label, kind, layer, position, activation and influence of node ``row``."""
    n = doc.graph.nodes
    kind = NodeKind(int(n.kind[row])).label
    tokens = doc.graph.metadata.prompt_tokens
    pos = int(n.position[row])
    token = tokens[pos] if pos < len(tokens) else ""
    layer = "E" if n.kind[row] == NodeKind.EMBEDDING else int(n.layer[row])
    lines = [f"<b>{escape(node_label(doc.graph, doc.state, row))}</b>",
             f"{kind} · layer {layer} · pos {pos} {escape(repr(token))}"]
    if n.feature[row] >= 0:
        lines.append(f"feature {int(n.feature[row])}")
    for name, value in (("activation", n.activation[row]), ("influence", n.influence[row]),
                        ("p", n.token_prob[row])):
        if np.isfinite(value):
            lines.append(f"{name} {float(value):.4g}")
    return "<br>".join(lines)
