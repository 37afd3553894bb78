"""Influence, the engine's threshold search, and graph scores (FORMATS.md §2).

Numbers follow circuit-tracer's ``graph.py``: float32 throughout, rows normalised by
``|A| / max(row sum, 1e-10)``, influence as the power series ``wᵀ(Â + Â² + …)`` summed in float32,
cumulative sums taken in float64 and rounded to float32 (as torch's CPU ``cumsum`` does), and
thresholds compared in float32. Two interchangeable operators hold Â: :class:`DenseOp` on the
``.pt`` adjacency (BLAS matrix–vector products) and :class:`SparseOp` on the edge arrays
(``np.bincount``), so a JSON graph is never densified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..cancel import NEVER, CancelToken
from ..model import Graph, NodeKind

F32 = np.float32
BoolArray = npt.NDArray[np.bool_]
_EPS = F32(1e-10)
_CHUNK = 1 << 22


class CyclicGraphError(Exception):
    """Internal: the power series did not reach zero within N terms (the graph has a cycle)."""


class InfluenceOp(Protocol):
    """``v ↦ v @ Â`` for a row-normalised |adjacency|."""

    n: int

    def vecmat(self, v: np.ndarray) -> np.ndarray: ...


class DenseOp:
    """Â as a dense float32 matrix (rows are targets), as the engine holds it."""

    def __init__(self, absolute: np.ndarray) -> None:
        """Normalise ``absolute`` (= |A|, float32, C-order) in place."""
        row_sum = absolute.sum(axis=1, dtype=np.float64).astype(F32)
        absolute /= np.maximum(row_sum, _EPS)[:, None]
        self.matrix = absolute
        self.n = absolute.shape[0]

    def vecmat(self, v: np.ndarray) -> np.ndarray:
        rows = np.flatnonzero(v)
        if rows.size == 0:
            return np.zeros(self.n, F32)
        if rows.size > self.n // 2:
            return np.asarray(v @ self.matrix, dtype=F32)
        # Only rows where v is non-zero contribute; take them as a few contiguous slices so
        # BLAS reads no copy (the support of v is usually a handful of index runs).
        cuts = np.flatnonzero(np.diff(rows) > 64) + 1
        starts = rows[np.r_[0, cuts]]
        stops = rows[np.r_[cuts - 1, rows.size - 1]] + 1
        if starts.size > 32:
            return np.asarray(v[rows] @ self.matrix[rows], dtype=F32)
        out = np.zeros(self.n, F32)
        for a, b in zip(starts.tolist(), stops.tolist()):
            out += v[a:b] @ self.matrix[a:b]
        return out


class SparseOp:
    """Â on edge arrays: ``norm[e] = |w[e]| / max(row sum of target[e], 1e-10)``."""

    def __init__(self, n: int, source: np.ndarray, target: np.ndarray, abs_weight: np.ndarray
                 ) -> None:
        self.n = n
        self.source = source
        self.target = target
        row_sum = np.bincount(target, weights=abs_weight, minlength=n).astype(F32)
        self.norm = (abs_weight.astype(F32) / np.maximum(row_sum, _EPS)[target]).astype(F32)

    def vecmat(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.source, weights=v[self.target] * self.norm,
                           minlength=self.n).astype(F32)


def influence(op: InfluenceOp, w: np.ndarray, cancel: CancelToken = NEVER) -> np.ndarray:
    """``wᵀ(Â + Â² + …)`` summed until a term is all zero, as the engine's ``compute_influence``.

    Raises:
        CyclicGraphError: a term is still non-zero after ``n`` products (only a cycle does that).
    """
    current = op.vecmat(w)
    total = current.copy()
    for _ in range(op.n + 1):
        if not current.any():
            return total
        cancel.check()
        current = op.vecmat(current)
        total += current
    raise CyclicGraphError("influence did not vanish")


def engine_threshold(values: np.ndarray, n_total: int, fraction: float,
                     cancel: CancelToken = NEVER) -> float:
    """The engine's ``find_threshold`` over ``values`` plus ``n_total - len(values)`` zeros.

    The engine sorts every score, takes ``cumsum / sum`` and the first index reaching
    ``fraction``. Instead of sorting, scores are bucketed by the top 16 bits of their float32
    pattern (monotone for non-negative floats); only the bucket where the cumulative share
    crosses ``fraction`` is sorted.
    """
    flat = np.ascontiguousarray(values, dtype=F32).ravel()
    sums = np.zeros(1 << 16, np.float64)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start:start + _CHUNK]
        sums += np.bincount(chunk.view(np.int32) >> 16, weights=chunk, minlength=1 << 16)
        cancel.check()
    total = F32(sums.sum())
    if not total > 0:
        return _smallest(flat, n_total)
    target = F32(fraction)
    desc = sums[::-1]
    after = np.cumsum(desc)                      # share up to and including each bucket
    before = after - desc
    crossing = np.flatnonzero(((after.astype(F32) / total) >= target) & (desc > 0))
    for pos in crossing[:4].tolist():            # rounding may defer the crossing a bucket
        key = (1 << 16) - 1 - pos
        chosen = flat[(flat.view(np.int32) >> 16) == key]
        chosen = -np.sort(-chosen)
        share = (np.cumsum(chosen, dtype=np.float64) + before[pos]).astype(F32) / total
        hit = int(np.searchsorted(share, target, side="left"))
        if hit < chosen.size:
            return float(chosen[hit])
    return _smallest(flat, n_total)


def _smallest(flat: np.ndarray, n_total: int) -> float:
    # The engine clamps the index to the last (smallest) score.
    if n_total > flat.size or flat.size == 0:
        return 0.0
    return float(flat.min())


def cumulative_shares(node_influence: np.ndarray) -> np.ndarray:
    """FORMATS §2 step 7: each node's cumulative share of influence at its descending rank."""
    order = np.argsort(-node_influence, kind="stable")
    ranked = node_influence[order]
    total = F32(ranked.sum(dtype=np.float64))
    shares = np.cumsum(ranked, dtype=np.float64).astype(F32) / total if total > 0 else \
        np.full(ranked.size, np.nan, F32)
    out = np.zeros_like(node_influence, dtype=F32)
    out[order] = shares
    return out


def logit_weights(graph: Graph) -> tuple[np.ndarray, BoolArray, list[str]]:
    """The engine's ``w`` (logit probabilities at logit rows) and which nodes are outputs.

    JSON logit nodes carry ``token_prob``, which is the engine's ``logit_probabilities`` as
    written; it is used as is (the engine does not renormalise). Without logit nodes the sinks
    (nodes with inputs but no outgoing edge) get equal weight, with a warning.
    """
    n = graph.n_nodes
    w = np.zeros(n, F32)
    is_logit = graph.kind_mask(NodeKind.LOGIT)
    if is_logit.any():
        # Probabilities are in [0, 1] on a valid graph; clipping keeps w non-negative anyway,
        # since a negative weight breaks the bucketed threshold search.
        probs = np.clip(np.nan_to_num(graph.nodes.token_prob[is_logit].astype(F32), nan=0.0,
                                      posinf=1.0, neginf=0.0), 0.0, 1.0)
        if probs.any():
            w[is_logit] = probs
            return w, is_logit, []
        w[is_logit] = F32(1.0 / is_logit.sum())
        return w, is_logit, ["logit nodes have no token_prob; weighted them equally"]
    has_out = np.bincount(graph.source, minlength=n) > 0
    has_in = np.bincount(graph.target, minlength=n) > 0
    sinks = has_in & ~has_out
    if not sinks.any():
        return w, sinks, ["no logit nodes and no sinks: every influence is zero"]
    w[sinks] = F32(1.0 / sinks.sum())
    return w, sinks, [f"no logit nodes; weighted the {int(sinks.sum())} sink node(s) equally"]


@dataclass(frozen=True)
class GraphScores:
    """circuit-tracer's ``compute_graph_scores`` (or Neuronpedia's subgraph score)."""

    replacement: float
    completeness: float


def graph_scores(graph: Graph, node_mask: np.ndarray | None = None, *,
                 cancel: CancelToken = NEVER) -> GraphScores:
    """Replacement and completeness score of the whole graph or of the features a mask keeps.

    Without ``node_mask`` this is the engine's ``compute_graph_scores``. With it, feature nodes
    outside the mask are merged into the error node at their (layer, position), as Neuronpedia's
    subgraph score does: their outgoing weights are added to that error node's, and their own
    edges removed (features without such an error node are just removed). Other kinds are
    always kept. A NaN score (nothing reaches the outputs) is reported as 0, as Neuronpedia does.
    """
    n = graph.n_nodes
    kind = graph.nodes.kind
    w, _, _ = logit_weights(graph)
    if node_mask is None and graph.adjacency is not None:
        op: InfluenceOp = DenseOp(np.abs(graph.adjacency))
        err_cols = kind == NodeKind.ERROR
        err_share = op.matrix[:, err_cols].sum(axis=1, dtype=np.float64)  # type: ignore[attr-defined]
    else:
        src, dst, wt = _scored_edges(graph, node_mask)
        op = SparseOp(n, src, dst, np.abs(wt))
        is_err = (kind == NodeKind.ERROR)[src]
        err_share = np.bincount(dst[is_err], weights=op.norm[is_err], minlength=n)
    try:
        node_infl = influence(op, w, cancel)
    except CyclicGraphError:
        if graph.extra.get(_DAG_KEY, False):  # already the DAG part: cannot happen, but
            return GraphScores(0.0, 0.0)        # never recurse twice
        src, dst, wt = _scored_edges(graph, node_mask)
        keep, _ = dag_part(graph, src, dst)
        dag = _with_edges(graph, src[keep], dst[keep], wt[keep])
        dag.extra = {**graph.extra, _DAG_KEY: True}
        return graph_scores(dag, None, cancel=cancel)
    token = float(node_infl[kind == NodeKind.EMBEDDING].sum(dtype=np.float64))
    error = float(node_infl[kind == NodeKind.ERROR].sum(dtype=np.float64))
    output = (node_infl + w).astype(np.float64)
    # No token or error influence (a subgraph of features only) or no output weight: the
    # ratios are undefined, and reported as 0 as Neuronpedia does.
    replacement = token / (token + error) if token + error > 0 else 0.0
    total = float(output.sum())
    completeness = float(((1.0 - err_share) * output).sum() / total) if total > 0 else 0.0
    return GraphScores(replacement if np.isfinite(replacement) else 0.0,
                       completeness if np.isfinite(completeness) else 0.0)


_DAG_KEY = "_scores_dag"
"""Marks the DAG-only copy that a cyclic graph is scored on, so the retry happens once."""


def _scored_edges(graph: Graph, node_mask: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge arrays with unkept features merged into their error nodes (duplicates summed)."""
    src, dst, wt = graph.source, graph.target, graph.weight.astype(F32)
    if node_mask is None:
        return src, dst, wt
    n, nodes = graph.n_nodes, graph.nodes
    dropped = (nodes.kind == NodeKind.FEATURE) & ~np.asarray(node_mask, bool)
    err_of = np.full(n, -1, np.int64)
    errors = np.flatnonzero(nodes.kind == NodeKind.ERROR)
    where = {(int(nodes.layer[e]), int(nodes.position[e])): int(e) for e in errors}
    for f in np.flatnonzero(dropped).tolist():
        err_of[f] = where.get((int(nodes.layer[f]), int(nodes.position[f])), -1)
    new_src = np.where(dropped[src], err_of[src], src)
    alive = (new_src >= 0) & ~dropped[dst]
    # Merged columns add signed weights before |.|, as Neuronpedia's adjacency update does.
    keys = dst[alive] * n + new_src[alive]
    uniq, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=wt[alive], minlength=uniq.size).astype(F32)
    return uniq % n, uniq // n, summed


def _with_edges(graph: Graph, src: np.ndarray, dst: np.ndarray, wt: np.ndarray) -> Graph:
    from dataclasses import replace

    return replace(graph, source=src, target=dst, weight=wt, adjacency=None, _index=None)


def dag_part(graph: Graph, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Which edges form a DAG, and warnings about the rest.

    Self-loops are ignored. Remaining cycles: nodes are ordered by peeling (Kahn), the nodes
    left on cycles by (layer, position, index), and edges among them that go backwards in that
    order are ignored, so the power series always ends.
    """
    n = graph.n_nodes
    keep = src != dst
    notes = [f"{int((~keep).sum())} self-loop edge(s) ignored for influence"] if (~keep).any() \
        else []
    s, d = src[keep], dst[keep]
    order = np.argsort(s, kind="stable")
    indptr = np.searchsorted(s[order], np.arange(n + 1))
    indeg = np.bincount(d, minlength=n)
    done = np.zeros(n, bool)
    frontier = np.flatnonzero(indeg == 0)
    while frontier.size:
        done[frontier] = True
        starts = indptr[frontier]
        lengths = indptr[frontier + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            break
        # Positions of all out-edges of the frontier in source-sorted order, without a loop.
        offsets = np.repeat(starts - np.r_[0, lengths.cumsum()[:-1]], lengths)
        idx = order[offsets + np.arange(total)]
        indeg -= np.bincount(d[idx], minlength=n)
        frontier = np.flatnonzero((indeg == 0) & ~done)
    if done.all():
        return keep, notes
    rank = np.zeros(n, np.int64)
    stuck = np.flatnonzero(~done)
    by = np.lexsort((stuck, graph.nodes.position[stuck], graph.nodes.layer[stuck]))
    rank[stuck[by]] = np.arange(stuck.size)
    back = keep & ~done[src] & ~done[dst] & (rank[src] >= rank[dst])
    notes.append(f"graph has cycles: {int(back.sum())} edge(s) among {stuck.size} node(s) "
                 "ignored for influence")
    return keep & ~back, notes
