"""The layer × token layout researchers know from the circuit-tracer and Neuronpedia viewers.

x is the token position; nodes sharing a (row, position) cell spread across the cell,
the most influential in the middle. y is the row: embeddings at the bottom (row 0),
transcoder layer ``l`` at row ``l + 1``, logits on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Graph, NodeKind

CELL_SPAN = 0.8
"""Share of a position's width that a cell's nodes spread over."""


@dataclass(frozen=True)
class Layout:
    """Node coordinates plus what the axes need.

    Attributes:
        xy: ``[N, 2]`` float64 coordinates in layout units (1 = one position / one row).
        row_labels: ``{row: label}`` for the layer axis.
        n_positions: Number of token positions (x ticks 0 … n-1).
    """

    xy: np.ndarray
    row_labels: dict[int, str]
    n_positions: int
    column_x: np.ndarray
    """x of each token position's column centre (the token axis ticks)."""
    column_width: np.ndarray
    """Width of each position's column: wider where a cell holds more nodes."""


def node_rows(graph: Graph) -> np.ndarray:
    """Row of each node: 0 embeddings, then one row per occupied layer (ascending), logits on top.

    Layers with no node get no row, so a pruned graph that lives in layers 18-25 is not
    squeezed above 18 empty rows.
    """
    kind = graph.nodes.kind
    layer = graph.nodes.layer
    inner = (kind == NodeKind.FEATURE) | (kind == NodeKind.ERROR)
    occupied = np.asarray(graph.layers, dtype=np.int64)
    rows = np.zeros(graph.n_nodes, dtype=np.int64)
    rows[inner] = np.searchsorted(occupied, layer[inner]) + 1
    rows[kind == NodeKind.LOGIT] = len(occupied) + 1
    return rows


def row_layers(graph: Graph) -> dict[int, int]:
    """``{row: layer}`` for the rows of transcoder layers."""
    return {k + 1: v for k, v in enumerate(graph.layers)}


def default_layout(graph: Graph) -> Layout:
    """:func:`layer_layout` of ``graph``, computed once (the load worker warms it) and shared:
    its arrays are read-only, so a caller that wants to move nodes copies them."""

    def make() -> Layout:
        layout = layer_layout(graph)
        layout.xy.setflags(write=False)
        layout.column_x.setflags(write=False)
        return layout

    result: Layout = graph.memo("layer_layout", make)
    return result


def layer_layout(graph: Graph) -> Layout:
    """Compute the default layout; deterministic for a given graph."""
    n = graph.n_nodes
    rows = node_rows(graph)
    pos = graph.nodes.position.astype(np.int64)
    xy = np.zeros((n, 2), dtype=np.float64)
    xy[:, 1] = rows
    n_pos = max(graph.n_positions, 1)
    column_x, width = _columns(rows, pos, n_pos)
    if n:
        # Within each cell order nodes by kind then by influence rank (errors last).
        infl = np.nan_to_num(graph.nodes.influence.astype(np.float64), nan=1.0)
        order = np.lexsort((np.arange(n), infl, graph.nodes.kind, pos, rows))
        cell_key = rows[order] * (int(pos.max()) + 1) + pos[order]
        starts = np.r_[0, np.flatnonzero(np.diff(cell_key)) + 1]
        counts = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, counts)
        size = np.repeat(counts, counts)
        offset = np.where(size > 1, (rank + 0.5) / size - 0.5, 0.0) * CELL_SPAN
        xy[order, 0] = column_x[pos[order]] + offset * width[pos[order]]
    labels = {0: "Emb"}
    labels.update({r: f"L{layer}" for r, layer in row_layers(graph).items()})
    if (graph.nodes.kind == NodeKind.LOGIT).any():
        labels[int(rows.max(initial=0))] = "Logit"
    return Layout(xy=xy, row_labels=labels, n_positions=n_pos, column_x=column_x,
                  column_width=width)


def _columns(rows: np.ndarray, pos: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """Column widths grow with the square root of the busiest cell at that position."""
    busiest = np.ones(n_pos)
    if rows.size:
        # Count occupied cells only: a dense rows × positions table costs memory per empty cell.
        col = np.clip(pos, 0, n_pos - 1)
        cells, counts = np.unique(rows * n_pos + col, return_counts=True)
        np.maximum.at(busiest, cells % n_pos, counts.astype(np.float64))
    width = np.sqrt(busiest)
    width = width / width.mean()
    centres = np.cumsum(width) - width / 2
    return centres, width
