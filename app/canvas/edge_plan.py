"""What the canvas draws for a graph, masks and view state, as plain arrays.

:func:`plan_edges` is the numpy half of a canvas rebuild: visible nodes and edges, each edge's
share of its target's input, the edge-density choice, the style buckets and their segments.
On a raw engine graph (millions of links) it costs 100+ ms, so the window computes it in the
prune worker, next to the prune it depends on, and the canvas only applies the result; the
canvas's own rebuilds (a hide, a drag, a density change) call it on the GUI thread. It only
reads its inputs and touches no Qt object, so it is safe in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...graph.analysis.view import id_mask, shares_of, visible_masks
from ...graph.model import Graph
from .density import density_mask

N_BINS = 4
"""Magnitude bins per sign; together with the sign they make the style buckets."""

PREVIEW = 800
"""Edges drawn directly while the full image is being rendered: 3000 long lines took
50-140 ms of the GUI thread per frame; 800 strongest still show the structure."""
MAX_DRAWN_EDGES = 300_000
"""Past this many visible edges only the strongest (by share of their target's input) are drawn."""


def bucket_of(share: np.ndarray) -> np.ndarray:
    """Bucket index per edge: 0..N_BINS-1 negative (weak→strong), N_BINS.. positive."""
    mag = np.abs(share)
    # Shares are heavy-tailed; bin edges on a square-root scale keep the bins populated.
    level = np.minimum((np.sqrt(mag) * N_BINS).astype(np.int64), N_BINS - 1)
    return np.where(share >= 0, N_BINS + level, level)


def split_by_bucket(segments: np.ndarray, bucket: np.ndarray, n_buckets: int) -> list[np.ndarray]:
    """``[segments[bucket == b] for b in range(n_buckets)]`` with one sort instead of a mask
    per bucket (same rows, same order within each bucket)."""
    order = np.argsort(bucket, kind="stable")
    ends = np.cumsum(np.bincount(bucket, minlength=n_buckets))
    return np.split(segments[order], ends[:-1])


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan depends on, snapshotted on the GUI thread (arrays are not shared
    with anything that mutates them)."""

    xy: np.ndarray
    """Node positions, the user's drags applied."""
    hidden: frozenset[str]
    pinned: frozenset[str]
    chosen: frozenset[str]
    """Selected, clicked and pinned ids (for the "selected only" density)."""
    density: str
    node_mask: np.ndarray | None = None
    edge_mask: np.ndarray | None = None
    nodes_only: bool = False
    """Pruning is on but its first result has not arrived: draw no edges of a huge graph."""

    def with_masks(self, node_mask: np.ndarray | None, edge_mask: np.ndarray | None) -> PlanInputs:
        return replace(self, node_mask=node_mask, edge_mask=edge_mask, nodes_only=False)


@dataclass(frozen=True)
class EdgePlan:
    node_visible: np.ndarray
    edge_visible: np.ndarray
    n_edges_visible: int
    share: np.ndarray
    """Each edge's share of its target's visible input; 0 for edges not visible."""
    share_rows: np.ndarray
    """The rows of ``share`` that may be non-zero (to clear them cheaply next time)."""
    buckets: list[np.ndarray]
    """``[n, 4]`` segments per style bucket."""
    preview: np.ndarray
    """``[k, 4]`` segments of the strongest drawn edges."""
    edges_drawn: int
    edges_capped: bool


def plan_edges(graph: Graph, inputs: PlanInputs, share_buf: np.ndarray | None = None,
               share_rows: np.ndarray | None = None) -> EdgePlan:
    """The canvas's drawing data for ``graph`` under ``inputs``.

    Args:
        graph: The graph (its edge index need not be built).
        inputs: The snapshot to plan for.
        share_buf: A per-edge array of the previous plan of this graph to refill in place
            (a fresh 6.8M-float array per rebuild cost more than the shares themselves); only
            the GUI thread may pass one, because the canvas reads it.
        share_rows: The previous plan's ``share_rows`` (the rows of ``share_buf`` to clear).
    """
    nodes, edges = visible_masks(graph, hidden=inputs.hidden, pinned=inputs.pinned,
                                 node_mask=inputs.node_mask, edge_mask=inputs.edge_mask)
    if inputs.nodes_only:
        edges = np.zeros(graph.n_edges, bool)
    visible = np.flatnonzero(edges)
    if share_buf is not None and len(share_buf) == graph.n_edges:
        share = share_buf
        if share_rows is not None:
            share[share_rows] = 0.0
    else:
        share = np.zeros(graph.n_edges)
    share[visible] = shares_of(graph.target, graph.weight, visible, graph.n_nodes)
    drawn = density_mask(inputs.density, visible, share, graph.source, graph.target,
                         id_mask(graph, inputs.chosen))
    capped = drawn.size > MAX_DRAWN_EDGES
    if capped:  # keep the strongest; the status bar says so
        top = np.argpartition(-np.abs(share[drawn]), MAX_DRAWN_EDGES)[:MAX_DRAWN_EDGES]
        drawn = drawn[top]
    xy = inputs.xy
    segs = np.concatenate([xy[graph.source[drawn]], xy[graph.target[drawn]]], axis=1)
    k = min(PREVIEW, drawn.size)
    strongest = np.argpartition(-np.abs(share[drawn]), k - 1)[:k] if k else drawn[:0]
    return EdgePlan(
        node_visible=nodes, edge_visible=edges, n_edges_visible=int(visible.size),
        share=share, share_rows=visible,
        buckets=split_by_bucket(segs, bucket_of(share[drawn]), 2 * N_BINS),
        preview=segs[strongest], edges_drawn=int(drawn.size), edges_capped=capped)


def same_inputs(a: PlanInputs, b: PlanInputs) -> bool:
    """Whether a plan made for ``a`` is still right for ``b`` (masks compared by identity:
    the canvas keeps the very arrays of the prune result it applied)."""
    return (a.node_mask is b.node_mask and a.edge_mask is b.edge_mask
            and a.nodes_only == b.nodes_only and a.density == b.density
            and a.hidden == b.hidden and a.pinned == b.pinned and a.chosen == b.chosen
            and a.xy.shape == b.xy.shape and bool(np.array_equal(a.xy, b.xy)))
