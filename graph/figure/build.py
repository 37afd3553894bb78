"""A publication figure of an attribution graph, described as plain data (no Qt).

:func:`build_figure` turns a graph, the user's view state and a layout into a
:class:`~.figure_style.Figure` in pixels: the layer × token layout, glyphs by node
kind, edges coloured by their share of the target's input and batched into a few
style buckets, supernodes drawn as one box with member-to-member weights summed
(as Neuronpedia does), pinned nodes outlined, labels, the token and layer axes and
a legend. ``graph/svg_writer.py`` and ``app/figure_png.py`` draw it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..document import Document, ViewState
from .options import FigureOptions
from .edges import edge_buckets
from .labels import LogitLabels, add_logit_labels, add_node_labels, place_logit_labels
from .parts import (
    Mapper,
    add_axes,
    build_legend,
    group_glyphs,
    node_glyphs,
    plot_area,
)
from .style import THEMES, Figure
from ..analysis.layout import Layout, layer_layout
from ..model import Graph, NodeKind
from ..analysis.view import id_mask, visible_masks


def build_figure(
    source: Document | Graph,
    *,
    state: ViewState | None = None,
    layout: Layout | None = None,
    options: FigureOptions | None = None,
    node_mask: np.ndarray | None = None,
    edge_mask: np.ndarray | None = None,
) -> Figure:
    """Describe the figure of a graph as the user sees it.

    Args:
        source: A document (its graph and state are used) or a bare graph.
        state: View state (pins, selection, hidden nodes, supernodes, positions and
            labels); defaults to the document's, or an empty one.
        layout: Node coordinates; defaults to :func:`~.layout.layer_layout`.
        options: Size, theme, labels and scope.
        node_mask: Nodes kept by pruning (None = all).
        edge_mask: Edges kept by pruning (None = all).

    Raises:
        ValueError: For an unknown theme or scope, a non-positive size, or scope
            ``"view"`` without a ``view_rect``.
    """
    opts = options or FigureOptions()
    if isinstance(source, Document):
        graph, state = source.graph, state or source.state
    else:
        graph = source
    state = state or ViewState()
    if opts.theme not in THEMES:
        raise ValueError(f"unknown theme {opts.theme!r} (use {', '.join(THEMES)})")
    if opts.width <= 0 or opts.height <= 0:
        raise ValueError(f"figure size {opts.width}x{opts.height} must be positive")
    theme = THEMES[opts.theme]
    layout = layout or layer_layout(graph)
    xy = _positions(graph, layout, state)
    nodes, edges = _visible(graph, state, opts, node_mask, edge_mask)
    if opts.compact_rows and opts.scope != "view":
        layout, xy = compact_rows(layout, xy, nodes)
    rect = _view_rect(layout, opts)
    # The x mapping does not depend on the headroom: place the logit labels first, then
    # give the plot exactly the room their stacked rows take.
    _, probe = plot_area(graph, layout, rect, opts, theme)
    logit_labels = _place_logits(graph, state, nodes, probe, xy, opts)
    fig, mapper = plot_area(graph, layout, rect, opts, theme, logit_labels.headroom)
    pxy = mapper.to_px(xy)
    groups = [(s.name, np.flatnonzero(id_mask(graph, s.members) & nodes))
              for s in state.supernodes]
    groups = [(name, rows) for name, rows in groups if rows.size]
    display, plain = _display_index(graph.n_nodes, nodes, groups)
    group_items = group_glyphs(groups, pxy, state, graph, theme, opts.font_size, fig.plot_rect)
    shown = nodes & ~_grouped(graph.n_nodes, groups)
    fig.nodes = node_glyphs(graph, state, shown, pxy, layout, mapper, theme)
    fig.nodes += [g for g, _ in group_items]
    fig.texts += [t for _, t in group_items]
    centres = np.vstack([pxy[plain]] + [[(g.x, g.y)] for g, _ in group_items])
    fig.edges = edge_buckets(graph, edges, display, centres, _half_sizes(graph, plain, fig),
                             fig.plot_rect, theme, arrows=opts.arrows)
    add_axes(fig, graph, layout, mapper, opts, theme)
    if opts.labels:
        index = {nid: k for k, nid in enumerate(graph.nodes.ids)}
        heights = {index[g.node_id]: g.h for g in fig.nodes if g.node_id in index}
        add_logit_labels(fig, logit_labels, pxy, heights, opts, theme)
        add_node_labels(fig, graph, state, shown, pxy, opts, theme)
    if opts.legend:
        fig.legend = build_legend(fig, opts, theme)
    return fig


def _place_logits(graph: Graph, state: ViewState, nodes: np.ndarray, mapper: Mapper,
                  xy: np.ndarray, opts: FigureOptions) -> LogitLabels:
    """Stack the labels of the visible logits in view, most probable first."""
    if not opts.labels:
        return LogitLabels()
    grouped = {m for s in state.supernodes for m in s.members}
    pxy = mapper.to_px(xy)
    logits = np.flatnonzero(nodes & (graph.nodes.kind == NodeKind.LOGIT) & mapper.inside(pxy))
    logits = np.array([i for i in logits.tolist() if graph.nodes.ids[i] not in grouped], int)
    prob = np.nan_to_num(graph.nodes.token_prob[logits].astype(np.float64), nan=0.0)
    order = logits[np.argsort(-prob, kind="stable")].tolist()
    x, _, w, _ = mapper.plot
    return place_logit_labels(graph, state, order, pxy[:, 0], (x, x + w), opts)


def _half_sizes(graph: Graph, plain: np.ndarray, fig: Figure) -> np.ndarray:
    """Half width and height of each drawn item's glyph, in display order."""
    size = {g.node_id: (g.w / 2, g.h / 2) for g in fig.nodes}
    ids = graph.nodes.ids
    rows = [size.get(ids[i], (0.0, 0.0)) for i in plain.tolist()]
    rows += [(g.w / 2, g.h / 2) for g in fig.nodes if g.kind == "supernode"]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _positions(graph: Graph, layout: Layout, state: ViewState) -> np.ndarray:
    xy = np.array(layout.xy, dtype=np.float64, copy=True)
    for nid, (x, y) in state.positions.items():
        if graph.has_node(nid):
            xy[graph.index_of(nid)] = (x, y)
    return xy


def _visible(graph: Graph, state: ViewState, opts: FigureOptions, node_mask: np.ndarray | None,
             edge_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    members = {m for s in state.supernodes for m in s.members}
    keep = set(state.pinned) | members
    if opts.scope == "subgraph":
        node_mask = id_mask(graph, keep)
    elif opts.scope not in ("graph", "view"):
        raise ValueError(f"unknown scope {opts.scope!r} (use graph, view or subgraph)")
    return visible_masks(graph, hidden=state.hidden, pinned=keep, node_mask=node_mask,
                         edge_mask=edge_mask)


def _view_rect(layout: Layout, opts: FigureOptions) -> tuple[float, float, float, float]:
    if opts.scope == "view":
        if opts.view_rect is None:
            raise ValueError("scope 'view' needs a view_rect")
        x0, y0, x1, y1 = opts.view_rect
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    top = max(layout.row_labels, default=0)
    if layout.xy.size:
        top = max(top, int(np.ceil(layout.xy[:, 1].max())))
    right = float(layout.column_x[-1] + layout.column_width[-1] / 2) if layout.column_x.size else 1.0
    return 0.0, -0.5, right, top + 0.5


def compact_rows(layout: Layout, xy: np.ndarray, nodes: np.ndarray) -> tuple[Layout, np.ndarray]:
    """Close up rows that hold no visible node (a graph pruned to layers 18-25 would
    otherwise leave most of the figure empty); rows keep their order and labels."""
    rows = np.unique(np.round(xy[nodes, 1]).astype(np.int64)) if nodes.any() else np.zeros(1, int)
    if rows.size == int(rows.max()) - int(rows.min()) + 1 and rows.min() == 0:
        return layout, xy
    new_xy = xy.copy()
    new_xy[:, 1] = np.interp(xy[:, 1], rows.astype(np.float64), np.arange(rows.size, dtype=float))
    labels = {k: layout.row_labels[int(r)] for k, r in enumerate(rows.tolist())
              if int(r) in layout.row_labels}
    return replace(layout, xy=new_xy, row_labels=labels), new_xy


def _grouped(n: int, groups: list[tuple[str, np.ndarray]]) -> np.ndarray:
    mask = np.zeros(n, bool)
    for _, rows in groups:
        mask[rows] = True
    return mask


def _display_index(n: int, nodes: np.ndarray, groups: list[tuple[str, np.ndarray]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Row of each node among the drawn items (ungrouped nodes, then groups; -1 = hidden),
    and the ungrouped visible node rows in that order."""
    plain = np.flatnonzero(nodes & ~_grouped(n, groups))
    display = np.full(n, -1, dtype=np.int64)
    display[plain] = np.arange(plain.size)
    for g, (_, rows) in enumerate(groups):
        display[rows] = plain.size + g
    return display, plain
