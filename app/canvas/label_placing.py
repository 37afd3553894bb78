"""Which nodes the canvas labels, with what text, and where (a mixin of the canvas).

Order of priority: every visible logit (left to right: the room above the top row is
sized for them), clicked, selected, pinned, the first search hits: these always try to show, going further out with a leader line when
their neighbourhood is full. Then visible feature nodes in view that carry a label
(a ``clerp`` or the user's), most influential first, fill the room that is left, so
more of them appear as the user zooms in. :meth:`drawn_report` lists what was drawn,
in the canvas widget's pixels, for ``circuitdesk screenshot --report``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF

from ...graph.document import Document, display_label
from ...graph.figure.labels import logit_label, node_label
from ...graph.model import NodeKind
from .fitting import logit_headroom_px
from .labels import MAX_LABELS, PlacedLabel, place_labels, short, text_sizes

SEARCH_LABELS = 12
"""Search hits labelled (the first ones, in node order)."""


def canvas_text(doc: Document, row: int) -> str:
    """What a node is called on the canvas: logits by their token, others by clerp/label."""
    graph, state = doc.graph, doc.state
    if graph.nodes.kind[row] == NodeKind.LOGIT:
        return short(logit_label(graph, state, row))
    # the user's label, the clerp or an automatic label (dashboards, imported), else a fallback
    return short(display_label(doc, row).strip() or node_label(graph, state, row))


class LabelPlacing:
    """Label placement for :class:`~.graph_canvas.GraphCanvas`."""

    _doc: Document | None
    xy: np.ndarray
    node_visible: np.ndarray
    hovered: int | None
    search_hits: list[int]
    glyph_px: float
    labels: Any
    vb: Any
    placed_labels: list[PlacedLabel]

    def _label_order(self) -> tuple[list[int], int]:
        """Rows to label in priority order, and how many of them must show."""
        assert self._doc is not None
        graph, state = self._doc.graph, self._doc.state
        vis = self.node_visible
        must: dict[int, None] = {}
        logits = np.flatnonzero(vis & (graph.nodes.kind == NodeKind.LOGIT))
        # left to right: each label then stacks one level above its left neighbour's,
        # so no leader line crosses another label (see labels.place_labels)
        for r in logits[np.argsort(self.xy[logits, 0], kind="stable")].tolist():
            must.setdefault(r, None)
        if state.clicked and graph.has_node(state.clicked) and vis[graph.index_of(state.clicked)]:
            must.setdefault(graph.index_of(state.clicked), None)
        ids = sorted(state.selected) + sorted(state.pinned)
        for nid in ids:
            if graph.has_node(nid) and vis[graph.index_of(nid)]:
                must.setdefault(graph.index_of(nid), None)
        for r in self.search_hits[:SEARCH_LABELS]:  # search results, by name
            if vis[r]:
                must.setdefault(r, None)
        (x0, x1), (y0, y1) = self.vb.viewRange()
        in_view = ((self.xy[:, 0] >= x0) & (self.xy[:, 0] <= x1)
                   & (self.xy[:, 1] >= y0) & (self.xy[:, 1] <= y1))
        named = np.array([bool(t.strip()) for t in graph.nodes.label], bool)
        if state.labels or self._doc.auto_labels:
            named |= np.isin(np.array(graph.nodes.ids, dtype=object),
                             [*state.labels, *self._doc.auto_labels])
        cand = np.flatnonzero(vis & in_view & named & (graph.nodes.kind == NodeKind.FEATURE))
        rank = np.nan_to_num(graph.nodes.influence[cand].astype(np.float64), nan=2.0)
        rest = [r for r in cand[np.argsort(rank, kind="stable")].tolist() if r not in must]
        return list(must) + rest[:MAX_LABELS], len(must)

    def _scene_xy(self, xy: np.ndarray) -> np.ndarray:
        self.vb.childTransform()  # brings a lazily updated view transform up to date
        tf = self.vb.childGroup.sceneTransform()
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([tf.m11() * x + tf.m21() * y + tf.dx(),
                                tf.m12() * x + tf.m22() * y + tf.dy()])

    def _update_labels(self) -> None:
        """Place every label for the current view (the hovered one goes on top of these)."""
        if self._doc is None or not len(self.xy) or len(self.node_visible) != len(self.xy):
            return
        rows, n_must = self._label_order()
        self._base_labels = self._place(rows, np.arange(len(rows)) < n_must,
                                        np.vstack([self.glyph_boxes(), self._widget_boxes()]))
        self._show_hovered()

    def _place(self, rows: list[int], must: np.ndarray, obstacles: np.ndarray
               ) -> list[PlacedLabel]:
        assert self._doc is not None
        texts = [canvas_text(self._doc, r) for r in rows]
        anchors = self._scene_xy(self.xy[rows]) if rows else np.zeros((0, 2))
        half = self.glyph_px / 2
        r = self.vb.sceneBoundingRect()
        bounds = (r.left() + 1, r.top() + 1, r.right() - 1, r.bottom() - 1)
        boxes = place_labels(anchors, text_sizes(texts, self.labels.font),
                             np.full(len(rows), half), must, obstacles, bounds)
        placed = []
        for k, row in enumerate(rows):
            if np.isnan(boxes[k, 0]):
                continue
            off = boxes[k] - np.r_[anchors[k], anchors[k]]
            gap = max(off[0], -off[2], off[1], -off[3])  # how far the box is from the node
            placed.append(PlacedLabel(texts[k], row, (float(self.xy[row, 0]), float(self.xy[row, 1])),
                                      tuple(float(v) for v in off), gap > half + 4,
                                      glyph_radius=half))
        return placed

    def _show_hovered(self) -> None:
        """The base labels plus the hovered node's; base labels it would cover step aside.

        Hovering re-places one label, not all of them: a hover stays one cheap frame.
        """
        base = getattr(self, "_base_labels", [])
        placed = list(base)
        row = self.hovered
        if row is not None and self._doc is not None and not any(p.row == row for p in base):
            obstacles = np.vstack([self.glyph_boxes(), self._widget_boxes()])
            mine = self._place([row], np.ones(1, bool), obstacles)
            if mine:
                box = self._boxes(mine)[0]
                others = self._boxes(base)
                clear = ~((others[:, 0] < box[2]) & (box[0] < others[:, 2])
                          & (others[:, 1] < box[3]) & (box[1] < others[:, 3]))
                placed = [p for p, ok in zip(base, clear.tolist()) if ok] + mine
        self.placed_labels = placed
        self.labels.set_labels(placed, self.vb.viewRect())

    def _boxes(self, labels: list[PlacedLabel]) -> np.ndarray:
        """Scene boxes (x0, y0, x1, y1) of placed labels."""
        if not labels:
            return np.zeros((0, 4))
        a = self._scene_xy(np.array([p.anchor for p in labels]))
        return np.array([p.offset for p in labels]) + np.column_stack([a, a])

    def _widget_boxes(self) -> np.ndarray:
        """Scene boxes of the widgets floating over the canvas (the edge-density chooser)."""
        box = self.__dict__.get("density_box")
        if box is None or not box.isVisible():
            return np.zeros((0, 4))
        p = self.mapToScene(box.geometry().topLeft())  # type: ignore[attr-defined]
        return np.array([[p.x() - 4, p.y() - 4, p.x() + box.width() + 4, p.y() + box.height() + 4]])

    def glyph_boxes(self) -> np.ndarray:
        """``[n, 4]`` scene-pixel boxes of the visible glyphs in view."""
        vis = np.flatnonzero(self.node_visible)
        if not vis.size:
            return np.zeros((0, 4))
        p = self._scene_xy(self.xy[vis])
        r = self.vb.sceneBoundingRect()
        inside = ((p[:, 0] >= r.left()) & (p[:, 0] <= r.right())
                  & (p[:, 1] >= r.top()) & (p[:, 1] <= r.bottom()))
        p = p[inside]
        h = self.glyph_px / 2
        return np.column_stack([p[:, 0] - h, p[:, 1] - h, p[:, 0] + h, p[:, 1] + h])

    def headroom_px(self) -> float:
        """Room above the top row for the labels of the output logits, px."""
        return 0.0 if self._doc is None else logit_headroom_px(self._doc.graph)

    def drawn_report(self) -> dict[str, Any]:
        """Nodes and labels drawn, in this widget's pixels (``screenshot --report``)."""
        if self._doc is None:
            return {"nodes": [], "labels": []}
        origin = self.mapFromScene(QPointF(0, 0))  # type: ignore[attr-defined]
        ox, oy = origin.x(), origin.y()
        graph = self._doc.graph
        vis = np.flatnonzero(self.node_visible)
        p = self._scene_xy(self.xy[vis]) if vis.size else np.zeros((0, 2))
        r = self.vb.sceneBoundingRect()
        h = self.glyph_px / 2
        kinds = graph.nodes.kind
        nodes = [{"id": graph.nodes.ids[i], "kind": NodeKind(int(kinds[i])).label,
                  "rect": [x - h + ox, y - h + oy, 2 * h, 2 * h]}
                 for i, (x, y) in zip(vis.tolist(), p.tolist())
                 if r.left() <= x <= r.right() and r.top() <= y <= r.bottom()]
        labels = []
        for lab in self.placed_labels:
            a = self._scene_xy(np.array([lab.anchor]))[0]
            x0, y0, x1, y1 = lab.offset
            labels.append({"text": lab.text,
                           "node": None if lab.row is None else graph.nodes.ids[lab.row],
                           "rect": [a[0] + x0 + ox, a[1] + y0 + oy, x1 - x0, y1 - y0]})
        return {"nodes": nodes, "labels": labels,
                "canvas": [r.left() + ox, r.top() + oy, r.width(), r.height()]}
