"""Pruning with circuit-tracer's numbers (FORMATS.md §2, the engine's ``prune_graph``).

The engine builds, clones, normalises and fully sorts several N×N float32 matrices. Here:
the node-influence pass runs on |A| once; the edge pass runs only on the rows and columns of
the nodes that survived the node threshold (all other edge scores are zero); the edge threshold
comes from :func:`engine_threshold` (bucketed, no full sort); and the repeated dropping of
dangling nodes works on the list of kept edges. JSON graphs take the same steps on the edge
arrays. Masks and cumulative scores match the engine's (see tests/test_prune.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..cancel import NEVER, CancelToken, Progress, no_progress
from ..model import Graph, NodeKind
from .scores import (
    F32,
    CyclicGraphError,
    DenseOp,
    SparseOp,
    cumulative_shares,
    dag_part,
    engine_threshold,
    influence,
    logit_weights,
)


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` keeps.

    Attributes:
        node_mask: bool ``[N]``.
        edge_mask: bool ``[E]``, aligned with ``graph.source`` / ``target`` / ``weight``.
        cumulative_scores: float32 ``[N]``, FORMATS §2 step 7 (lower = more important).
        warnings: One-line notes (cycles ignored, no logits, ...).
    """

    node_mask: np.ndarray
    edge_mask: np.ndarray
    cumulative_scores: np.ndarray
    warnings: tuple[str, ...]


def prune(
    graph: Graph,
    node_threshold: float = 0.8,
    edge_threshold: float = 0.98,
    *,
    pinned: Iterable[int | str] = (),
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> PruneResult:
    """Keep the nodes and edges that carry ``node_threshold`` / ``edge_threshold`` of influence.

    Args:
        graph: Any graph; a ``.pt`` graph (with ``adjacency``) is pruned densely.
        node_threshold: Fraction of total node influence to keep, in [0, 1].
        edge_threshold: Fraction of total edge score to keep, in [0, 1].
        pinned: Node indices or ids always kept (treated like token and logit nodes).
        progress: Receives (fraction, phase).
        cancel: Checked between matrix products.

    Raises:
        ValueError: A threshold outside [0, 1], or a pinned node not in the graph.
        Cancelled: When ``cancel`` was set.
    """
    for name, value in (("node_threshold", node_threshold), ("edge_threshold", edge_threshold)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0.0 and 1.0, not {value}")
    n = graph.n_nodes
    warnings: list[str] = []
    w, outputs, notes = logit_weights(graph)
    warnings += notes
    kind = graph.nodes.kind
    fixed = outputs | (kind == NodeKind.EMBEDDING) | (kind == NodeKind.LOGIT)
    fixed[_pinned_rows(graph, pinned)] = True
    dense = graph.adjacency is not None and graph.adjacency.shape == (n, n)
    progress(0.0, "node influence")
    try:
        if not dense:
            raise CyclicGraphError  # the sparse path checks for cycles first
        node_infl, node_mask, kept = _dense_passes(graph, w, fixed, node_threshold,
                                                   edge_threshold, progress, cancel)
    except CyclicGraphError:
        # A cycle the dense series could not end (float32 underflow ends some): take the DAG
        # part on the edge arrays, as JSON graphs do.
        keep_e, notes = dag_part(graph, graph.source, graph.target)
        warnings += notes
        src, dst, wt = graph.source[keep_e], graph.target[keep_e], graph.weight[keep_e]
        node_infl = influence(SparseOp(n, src, dst, np.abs(wt).astype(F32)), w, cancel)
        node_mask = _node_mask(node_infl, fixed, node_threshold, progress, cancel)
        kept = _sparse_kept_edges(n, src, dst, wt, node_mask, w, edge_threshold, cancel)
    progress(0.85, "dangling nodes")
    all_edges, kept_dst, kept_src = kept
    if not all_edges:
        alive = _drop_dangling(kind, fixed, node_mask, kept_dst, kept_src)
        kept_dst, kept_src = kept_dst[alive], kept_src[alive]
    edge_mask = (np.ones(graph.n_edges, bool) if all_edges
                 else _edge_positions(graph, kept_dst, kept_src))
    progress(1.0, "done")
    return PruneResult(node_mask, edge_mask, cumulative_shares(node_infl), tuple(warnings))


def _node_mask(node_infl: np.ndarray, fixed: np.ndarray, fraction: float, progress: Progress,
               cancel: CancelToken) -> np.ndarray:
    cancel.check()
    progress(0.4, "node threshold")
    node_mask: np.ndarray = node_infl >= F32(engine_threshold(node_infl, node_infl.size, fraction))
    node_mask |= fixed
    progress(0.5, "edge influence")
    return node_mask


def _dense_passes(graph: Graph, w: np.ndarray, fixed: np.ndarray, node_threshold: float,
                  edge_threshold: float, progress: Progress, cancel: CancelToken
                  ) -> tuple[np.ndarray, np.ndarray, _KeptEdges]:
    """Node and edge passes on the engine's dense adjacency (CyclicGraphError on a cycle)."""
    assert graph.adjacency is not None
    node_infl = influence(DenseOp(np.abs(graph.adjacency)), w, cancel)
    node_mask = _node_mask(node_infl, fixed, node_threshold, progress, cancel)
    return node_infl, node_mask, _dense_kept_edges(graph, node_mask, w, edge_threshold, cancel)


def _pinned_rows(graph: Graph, pinned: Iterable[int | str]) -> list[int]:
    rows = []
    for p in pinned:
        if isinstance(p, str):
            try:
                rows.append(graph.index_of(p))
            except KeyError:
                raise ValueError(f"pinned node {p!r} is not in the graph") from None
        elif isinstance(p, (int, np.integer)) and 0 <= int(p) < graph.n_nodes:
            rows.append(int(p))
        else:
            raise ValueError(f"pinned node {p!r} is not a node index or id of this graph")
    return rows


_KeptEdges = tuple[bool, np.ndarray, np.ndarray]
"""(every entry kept — threshold 0, kept targets, kept sources)."""


def _dense_kept_edges(graph: Graph, node_mask: np.ndarray, w: np.ndarray, fraction: float,
                      cancel: CancelToken) -> _KeptEdges:
    """Steps 4–5 on the kept rows/columns only: dropped nodes' scores are zero in the engine."""
    assert graph.adjacency is not None
    n = graph.n_nodes
    rows = np.flatnonzero(node_mask)
    sub = np.abs(graph.adjacency[np.ix_(rows, rows)])
    op = DenseOp(sub)
    infl = influence(op, w[rows], cancel) + w[rows]
    scores = op.matrix
    scores *= infl[:, None]
    threshold = F32(engine_threshold(scores, n * n, fraction, cancel))
    if threshold <= 0:
        return True, np.empty(0, np.int64), np.empty(0, np.int64)
    t, s = np.nonzero(scores >= threshold)
    return False, rows[t], rows[s]


def _sparse_kept_edges(n: int, src: np.ndarray, dst: np.ndarray, wt: np.ndarray,
                       node_mask: np.ndarray, w: np.ndarray, fraction: float,
                       cancel: CancelToken) -> _KeptEdges:
    live = node_mask[src] & node_mask[dst]
    op = SparseOp(n, src, dst, np.where(live, np.abs(wt), 0).astype(F32))
    infl = influence(op, w, cancel) + w
    scores = (op.norm * infl[dst]).astype(F32)
    threshold = F32(engine_threshold(scores, n * n, fraction, cancel))
    if threshold <= 0:
        return True, np.empty(0, np.int64), np.empty(0, np.int64)
    hit = scores >= threshold
    return False, dst[hit], src[hit]


def _drop_dangling(kind: np.ndarray, fixed: np.ndarray, node_mask: np.ndarray,
                   kept_dst: np.ndarray, kept_src: np.ndarray) -> np.ndarray:
    """Step 6, in place on ``node_mask``; returns which kept edges survive.

    Feature and error nodes need a kept outgoing edge, features a kept incoming one; repeat
    until nothing changes (each round can strand new nodes).
    """
    n = node_mask.size
    needs_out = ((kind == NodeKind.FEATURE) | (kind == NodeKind.ERROR)) & ~fixed
    needs_in = (kind == NodeKind.FEATURE) & ~fixed
    alive = np.ones(kept_src.size, bool)
    for _ in range(n + 1):
        alive &= node_mask[kept_src] & node_mask[kept_dst]
        has_out = np.bincount(kept_src[alive], minlength=n) > 0
        has_in = np.bincount(kept_dst[alive], minlength=n) > 0
        new = node_mask & ~(needs_out & ~has_out) & ~(needs_in & ~has_in)
        if (new == node_mask).all():
            break
        node_mask &= new
    kept: np.ndarray = alive & node_mask[kept_src] & node_mask[kept_dst]
    return kept


def _edge_positions(graph: Graph, kept_dst: np.ndarray, kept_src: np.ndarray) -> np.ndarray:
    """Boolean mask over the graph's edges of the kept (target, source) pairs."""
    n = graph.n_nodes
    mask = np.zeros(graph.n_edges, bool)
    if kept_dst.size == 0:
        return mask
    key = kept_dst.astype(np.int64) * n + kept_src
    edge_key = graph.target.astype(np.int64) * n + graph.source
    order = None if np.all(edge_key[1:] > edge_key[:-1]) else np.argsort(edge_key, kind="stable")
    sorted_keys = edge_key if order is None else edge_key[order]
    pos = np.searchsorted(sorted_keys, key)
    pos = np.minimum(pos, sorted_keys.size - 1)
    found = sorted_keys[pos] == key
    idx = pos[found] if order is None else order[pos[found]]
    mask[idx] = True
    if order is not None:
        # Parallel edges share a key: keep all copies of a kept pair.
        mask |= np.isin(edge_key, key[found])
    return mask
