"""The graph canvas: layer × token layout, batched edges, nodes by kind, and the interactions.

Reads everything from the :class:`Document` and writes only through its command
functions; what it keeps is derived drawing data (coordinates, masks, buckets).
Edges are one cached layer of eight buckets (sign × strength, weakest drawn first).
While the user pans or zooms the cached image is moved with the view, and the full
set is redrawn when the view rests, so interactive frames stay cheap.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsRectItem

from ...graph.analysis.layout import Layout, default_layout
from ...graph.analysis.view import id_mask
from ...graph.document import Document
from ...graph.model import Graph, NodeKind
from ..throttle import throttled
from .density import DensityBox, remember, remembered
from .edge_plan import MAX_DRAWN_EDGES, N_BINS, EdgePlan, PlanInputs, plan_edges, same_inputs
from .edges import (
    EdgeBatchItem,
    EdgeLayer,
    bucket_pen,
    highlight_pen,
)
from .fitting import ViewFitting
from .gestures import CanvasGestures
from .label_placing import LabelPlacing
from .labels import LabelPainter
from .palette import GLYPHS, LIGHT, NODE_SIZE, PIN_COLOR, SELECT_COLOR, Theme, share_rgb
from .scatter import UniformScatter
from .token_axis import TokenAxis
from .viewbox import CanvasViewBox

# pyqtgraph drops mouse moves closer than 10 ms apart, final resting position included;
# we throttle hover ourselves (with a trailing call), so let every event through.
pg.setConfigOptions(mouseRateLimit=0)

LOD_MIN_EDGES = 5_000
"""Below this many visible edges every edge is drawn at every zoom."""


class GraphCanvas(LabelPlacing, ViewFitting, CanvasGestures, pg.PlotWidget):  # type: ignore[misc]
    """Draws the document's graph and turns gestures into document commands.

    Signals:
        node_hovered(int): row under the cursor, -1 for none.
    """

    node_hovered = Signal(int)

    def __init__(self, doc: Document | None = None, parent: object = None) -> None:
        self.vb = CanvasViewBox()
        self.token_axis = TokenAxis()
        super().__init__(parent=parent, viewBox=self.vb, axisItems={"bottom": self.token_axis})
        self.vb.owner = self
        self.settings: object | None = None
        """Where the edge density is remembered per file (the window sets its QSettings)."""
        self.density = "all"
        self._fit_pending = False
        self.density_box = DensityBox(self)
        self.density_box.density_chosen.connect(self.set_edge_density)
        self._doc: Document | None = None
        self._theme = LIGHT
        self._prune_nodes: np.ndarray | None = None
        self._prune_edges: np.ndarray | None = None
        self.layout_: Layout | None = None
        self.xy = np.zeros((0, 2))
        self.node_visible = np.zeros(0, bool)
        self.edge_visible = np.zeros(0, bool)
        self.share = np.zeros(0)
        self._share_graph: Graph | None = None
        self._share_rows = np.zeros(0, np.int64)
        self.n_edges_visible = 0
        self.edges_capped = False
        self.edges_drawn = 0
        self.hovered: int | None = None
        self.search_hits: list[int] = []
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        self.setAntialiasing(True)  # glyphs and label boxes; the edge image sets its own
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build_items(plot)
        self.labels = LabelPainter()
        self.labels.setZValue(300)
        plot.addItem(self.labels, ignoreBounds=True)
        self.base_xy = np.zeros((0, 2))
        self.glyph_px = float(NODE_SIZE)
        self.placed_labels: list = []
        # Labels are placed once per event-loop turn: opening a graph rebuilds, fits the view
        # and then applies the first prune, and each placed every label again (~30 ms each).
        self._labels_timer = QTimer(self)
        self._labels_timer.setSingleShot(True)
        self._labels_timer.setInterval(0)
        self._labels_timer.timeout.connect(self._update_labels)
        self.tooltip = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(255, 255, 240, 235),
                                   border=pg.mkPen(120, 120, 120), color="#111111")
        self.tooltip.setZValue(400)
        self.tooltip.hide()
        plot.addItem(self.tooltip, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._on_scene_click)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.vb.sigTransformChanged.connect(self._on_range_changed)
        self.vb.interacting.connect(self._on_interacting)
        self.set_theme(LIGHT)
        if doc is not None:
            self.set_document(doc)

    def _build_items(self, plot: pg.PlotItem) -> None:
        self.edge_layer = EdgeLayer(2 * N_BINS)
        self.edge_layer.setZValue(0)
        plot.addItem(self.edge_layer)
        self._hl_items = [EdgeBatchItem(highlight_pen(s)) for s in (-1, 1)]
        for z, item in enumerate(self._hl_items):
            # 40 smooth 2.5 px lines across the view took 40 ms a frame: hover must stay cheap
            item.antialias = False
            item.setZValue(20 + z)
            plot.addItem(item)
        self._node_items: dict[NodeKind, pg.ScatterPlotItem] = {}
        for z, (kind, (symbol, rgb)) in enumerate(GLYPHS.items()):
            item = UniformScatter(symbol=symbol, size=NODE_SIZE, pen=pg.mkPen(60, 60, 60, 200),
                                  brush=pg.mkBrush(*rgb), pxMode=True)
            item.setZValue(100 + z)
            plot.addItem(item)
            self._node_items[kind] = item

        def ring(size: int, color: tuple[int, ...], width: float = 2) -> pg.ScatterPlotItem:
            return UniformScatter(symbol="o", size=size, brush=None,
                                  pen=pg.mkPen(*color, width=width), pxMode=True)

        self._neigh_item = pg.ScatterPlotItem(size=NODE_SIZE, pxMode=True, pen=pg.mkPen(40, 40, 40))
        self._pin_item = ring(NODE_SIZE + 7, PIN_COLOR)
        self._sel_item = ring(NODE_SIZE + 11, SELECT_COLOR)
        self._search_item = ring(NODE_SIZE + 15, (0, 160, 60), 2.5)
        self._hover_item = ring(NODE_SIZE + 5, (0, 0, 0, 160), 1.5)
        self._drag_item = ring(NODE_SIZE + 3, (0, 0, 0), 2)
        for z, item in enumerate((self._neigh_item, self._pin_item, self._sel_item,
                                  self._search_item, self._hover_item, self._drag_item)):
            item.setZValue(150 + z)
            plot.addItem(item)
        self._band = QGraphicsRectItem()
        self._band.setPen(pg.mkPen(30, 90, 200, width=1, style=Qt.PenStyle.DashLine))
        self._band.setBrush(pg.mkBrush(30, 90, 200, 40))
        self._band.setZValue(500)
        self._band.hide()
        plot.addItem(self._band, ignoreBounds=True)

    # ---------------------------------------------------------------- wiring

    @property
    def doc(self) -> Document | None:
        return self._doc

    def set_document(self, doc: Document) -> None:
        self.detach()
        self._doc = doc
        doc.state_changed.connect(self._on_state_changed)
        doc.graph_replaced.connect(self._on_graph_replaced)
        self._on_graph_replaced()

    def detach(self) -> None:
        if self._doc is not None:
            self._doc.state_changed.disconnect(self._on_state_changed)
            self._doc.graph_replaced.disconnect(self._on_graph_replaced)
            self._doc = None

    def set_prune_masks(self, node_mask: np.ndarray | None, edge_mask: np.ndarray | None,
                        planned: tuple[PlanInputs, EdgePlan] | None = None) -> None:
        """Draw what pruning kept; ``planned`` is the drawing data the prune worker made for
        these masks (used unless the view state changed since)."""
        if self._doc is not None and node_mask is not None and len(node_mask) != self._doc.graph.n_nodes:
            return  # a result for a graph that is no longer open
        self._prune_nodes, self._prune_edges = node_mask, edge_mask
        self.rebuild(planned)
        if self.hovered is not None and not self.node_visible[self.hovered]:
            self.set_hovered(None)  # its node was pruned away: no tooltip left behind
        if self._fit_pending and node_mask is not None:
            self._fit_pending = False  # the first prune of a new graph: show what it kept
            self.reset_view()

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.setBackground(theme.background)
        plot = self.getPlotItem()
        for name in ("bottom", "left"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(theme.foreground))
            axis.setTextPen(pg.mkPen(theme.foreground))
        self.edge_layer.set_pens(self._bucket_pens())
        self.labels.set_colors(theme.foreground, theme.background, theme.dark)

    def _bucket_pens(self) -> list:
        return [bucket_pen(b, QColor(self._theme.background)) for b in range(2 * N_BINS)]

    @property
    def theme(self) -> Theme:
        return self._theme

    def _on_graph_replaced(self) -> None:
        self._prune_nodes = self._prune_edges = None
        if self.hovered is not None:  # it described a node of the previous graph
            self._hover_item.setData(pos=np.zeros((0, 2)))
        self.hovered = None
        self.tooltip.hide()
        self.search_hits = []
        self._base_labels, self.placed_labels = [], []  # the previous graph's, until placed anew
        self.labels.set_labels([], self.vb.viewRect())
        assert self._doc is not None
        self.layout_ = default_layout(self._doc.graph)
        self._fit_pending = True
        self.density = remembered(self.settings, self._doc.path)
        self.density_box.show_mode(self.density)
        self._set_axes()
        self.base_xy = self.layout_.xy
        self.xy = self.layout_.xy.copy()
        self.node_visible = np.ones(self._doc.graph.n_nodes, bool)
        self._fit_rect(self._layout_rect())
        self.base_xy = self._spread()
        self.rebuild()
        self.reset_view()

    def set_edge_density(self, mode: str) -> None:
        """Draw all edges, the strongest N %, or the selected nodes' only; remembered per file."""
        self.density = mode
        self.density_box.show_mode(mode)
        if self._doc is not None:
            remember(self.settings, self._doc.path, mode)
        self.rebuild()

    def resizeEvent(self, ev: object) -> None:
        super().resizeEvent(ev)
        box = self.__dict__.get("density_box")  # pyqtgraph resizes during __init__
        plot = self.getPlotItem()  # None once the widget is being closed
        if box is None or plot is None:
            return
        box.adjustSize()
        left = int(plot.getAxis("left").width())  # top-left: the logits sit right
        box.move(left + 8, 4)

    def leaveEvent(self, ev: object) -> None:
        """The cursor left the canvas: no hovered node, no tooltip."""
        super().leaveEvent(ev)
        self._hover_at.cancel()  # a throttled move still pending would show it again
        if self.hovered is not None:
            self.set_hovered(None)

    def _on_state_changed(self, changed: frozenset[str]) -> None:
        doc = self._doc
        if changed & {"selected", "clicked"} and self.hovered is not None and doc is not None \
                and doc.state.clicked != doc.graph.nodes.ids[self.hovered]:
            self.set_hovered(None)  # another node was selected: the tooltip is not about it
        if changed & {"hidden", "positions", "pinned"} or (
                self.density == "selected" and changed & {"selected", "clicked"}):
            self.rebuild()
        elif changed & {"selected", "clicked", "labels"}:
            self._update_overlays()

    # ---------------------------------------------------------------- drawing

    def _set_axes(self) -> None:
        assert self._doc is not None and self.layout_ is not None
        self.token_axis.set_columns(self._doc.graph, self.layout_.column_x)
        plot = self.getPlotItem()
        plot.getAxis("left").setTicks([sorted(self.layout_.row_labels.items())])

    def node_positions(self) -> np.ndarray:
        """Layout coordinates with the user's dragged positions applied."""
        assert self._doc is not None and self.layout_ is not None
        xy = self.base_xy.copy()
        graph = self._doc.graph
        for nid, (x, y) in self._doc.state.positions.items():
            if graph.has_node(nid):
                xy[graph.index_of(nid)] = (x, y)
        return xy

    def plan_inputs(self) -> PlanInputs | None:
        """What a rebuild depends on, snapshotted for :func:`plan_edges` (None: no graph)."""
        if self._doc is None or self.layout_ is None:
            return None
        graph, state = self._doc.graph, self._doc.state
        if len(self.base_xy) != graph.n_nodes:
            return None  # the graph was just replaced; _on_graph_replaced rebuilds
        chosen = state.selected | state.pinned | ({state.clicked} if state.clicked else set())
        return PlanInputs(
            xy=self.node_positions(), hidden=frozenset(state.hidden),
            pinned=frozenset(state.pinned), chosen=frozenset(chosen), density=self.density,
            node_mask=self._prune_nodes, edge_mask=self._prune_edges,
            # a raw engine graph: nodes only until the first prune result arrives
            nodes_only=bool(state.pruning and self._prune_nodes is None
                            and graph.n_edges > MAX_DRAWN_EDGES))

    def rebuild(self, planned: tuple[PlanInputs, EdgePlan] | None = None) -> None:
        """Recompute visible nodes and edge buckets; called when graph, layout or masks change.

        ``planned`` is a plan made off the GUI thread with the inputs it was made for; it is
        used when those are still what the canvas would plan for now.
        """
        inputs = self.plan_inputs()
        if inputs is None:
            return
        graph = self._doc.graph  # type: ignore[union-attr]
        if planned is not None and same_inputs(planned[0], inputs):
            plan = planned[1]
        else:
            plan = plan_edges(graph, inputs, self.share if self._share_graph is graph else None,
                              self._share_rows)
        self._share_graph = graph
        self.xy = inputs.xy
        self.node_visible, self.edge_visible = plan.node_visible, plan.edge_visible
        self.n_edges_visible = plan.n_edges_visible
        self.share, self._share_rows = plan.share, plan.share_rows
        self.edges_capped, self.edges_drawn = plan.edges_capped, plan.edges_drawn
        self.edge_layer.set_buckets(plan.buckets, self._bucket_pens(), self._bucket_order(),
                                    plan.preview,
                                    bucket_pen(2 * N_BINS - 1, QColor(self._theme.background)))
        kind = graph.nodes.kind
        self._update_glyph_size()
        for k, item in self._node_items.items():
            rows = np.flatnonzero(self.node_visible & (kind == k))
            item.setData(pos=self.xy[rows])
        self._update_overlays()

    def _on_interacting(self, active: bool) -> None:
        """While the view moves, show the cached edge image; full quality once it rests."""
        self.edge_layer.set_frozen(active)

    def _update_overlays(self) -> None:
        if self._doc is None or not len(self.xy):
            return
        graph, state = self._doc.graph, self._doc.state
        pinned = id_mask(graph, state.pinned) & self.node_visible
        selected = id_mask(graph, state.selected) & self.node_visible
        self._pin_item.setData(pos=self.xy[pinned])
        self._sel_item.setData(pos=self.xy[selected])
        hits = [h for h in self.search_hits if self.node_visible[h]]
        self._search_item.setData(pos=self.xy[hits])
        self._update_clicked()
        self.labels_soon()

    def labels_soon(self) -> None:
        """Place the labels when the event being handled is done (once, however many
        changes it made)."""
        self._labels_timer.start()

    def refresh_view(self) -> None:
        """Glyph sizes, labels and edge detail for the current view, now (not throttled)."""
        self._labels_timer.stop()
        self._update_axis()
        self._update_glyph_size()
        self._update_labels()
        self.edge_layer.set_order(self._bucket_order())

    def _update_clicked(self) -> None:
        """Highlight the clicked (else the hovered) node's edges; colour its neighbours by share."""
        assert self._doc is not None
        graph, clicked = self._doc.graph, self._doc.state.clicked
        c = graph.index_of(clicked) if clicked is not None and graph.has_node(clicked) else self.hovered
        if c is None or not self.node_visible[c]:
            for item in self._hl_items:
                item.set_segments(np.zeros((0, 4)))
            self._neigh_item.setData(pos=np.zeros((0, 2)))
            return
        edges = graph.edges_of(c)
        edges = edges[self.edge_visible[edges]] if len(self.edge_visible) == graph.n_edges \
            else edges[:0]
        segs = np.concatenate([self.xy[graph.source[edges]], self.xy[graph.target[edges]]], axis=1)
        share = self.share[edges]
        self._hl_items[0].set_segments(segs[share < 0])
        self._hl_items[1].set_segments(segs[share >= 0])
        other = np.where(graph.source[edges] == c, graph.target[edges], graph.source[edges])
        rgb = share_rgb(share)
        brushes = [pg.mkBrush(*c_) for c_ in rgb.tolist()]
        self._neigh_item.setData(pos=self.xy[other], brush=brushes)

    def _update_axis(self) -> None:
        if self.layout_ is not None:
            self.token_axis.refresh(tuple(self.vb.viewRange()[0]), max(self.vb.width(), 1.0),
                                    self.layout_.column_width)

    @throttled(60)
    def _on_range_changed(self, *_: object) -> None:
        self._update_axis()
        self._update_glyph_size()
        self.labels_soon()
        self.edge_layer.set_order(self._bucket_order())

    def _bucket_order(self) -> list[int]:
        """Weakest first; zoomed out past the whole graph, the weakest levels are left out so
        many edges stay readable (level of detail). Zooming back in brings them back."""
        skip = 0
        if self.layout_ is not None and self.layout_.row_labels and len(self.xy):
            rows_in_view = self.vb.viewRange()[1][1] - self.vb.viewRange()[1][0]
            zoomed_out = rows_in_view / (max(self.layout_.row_labels) + 1.2)
            if self.n_edges_visible > LOD_MIN_EDGES:
                skip = 2 if zoomed_out > 3.0 else 1 if zoomed_out > 1.5 else 0
        return [b for level in range(skip, N_BINS) for b in (level, N_BINS + level)]

    def center_on(self, rows: list[int]) -> None:
        if not rows:
            return
        (x0, x1), (y0, y1) = self.vb.viewRange()
        cx, cy = self.xy[rows].mean(axis=0)
        self.vb.translateBy(x=cx - (x0 + x1) / 2, y=cy - (y0 + y1) / 2)

    # ---------------------------------------------------------------- picking

    def node_at(self, scene_pos: QPointF, radius_px: float = 8.0) -> int | None:
        """Index of the visible node nearest to ``scene_pos`` within ``radius_px``, else None."""
        rows = np.flatnonzero(self.node_visible)
        if not rows.size:
            return None
        p = self.vb.mapSceneToView(scene_pos)
        px = self.vb.viewPixelSize()  # data units per pixel (x, y)
        d = np.hypot((self.xy[rows, 0] - p.x()) / px[0], (self.xy[rows, 1] - p.y()) / px[1])
        best = int(np.argmin(d))
        return int(rows[best]) if d[best] <= radius_px else None

    def view_point(self, index: int) -> QPoint:
        """Widget (viewport) coordinates of node ``index``, for tests and tooltips."""
        scene = self.vb.mapViewToScene(QPointF(*self.xy[index]))
        return self.mapFromScene(scene)

    def closeEvent(self, event: object) -> None:
        QThreadPool.globalInstance().waitForDone(10000)  # no edge render outlives the canvas
        super().closeEvent(event)
