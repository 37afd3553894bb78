"""What the graph predicts an intervention does, and how to judge the model's answer.

Edges are direct effects: ``A[t, s]`` is what source ``s`` (activation × decoder) adds to
target ``t``'s pre-activation (features) or demeaned logit (logits). Scaling a feature's
activation by ``(1 + x)`` therefore moves each target by ``x · A[t, s]`` directly. Through
the graph, a feature target whose pre-activation moves by ``δ`` (active, slope 1 for ReLU and
JumpReLU) scales its own activation by ``1 + δ / a_t`` and passes that on along its edges:
the *total* effect sums this over every path of the (pruned) graph. Error and embedding
nodes are fixed inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..model import Graph, NodeKind

CONFIRM_RATIO = 0.5
"""Same sign and at least this share of the predicted size → "confirmed"."""
NOISE = 1e-6


@dataclass(frozen=True)
class Prediction:
    """Predicted change of every node when ``sources`` are scaled by ``1 + fraction``.

    Attributes:
        direct: ``[N]`` change from the sources' own edges only.
        total: ``[N]`` change summed over all paths of the graph (NaN where a feature on the
            way has no known activation).
    """

    direct: np.ndarray
    total: np.ndarray


@dataclass(frozen=True)
class Level:
    """Nodes of one topological level that have incoming edges, with those edges grouped by
    target: ``targets[i]``'s edges are ``sources[starts[i]:starts[i + 1]]``."""

    targets: np.ndarray
    sources: np.ndarray
    weights: np.ndarray
    starts: np.ndarray


@dataclass(frozen=True)
class Paths:
    """The graph's edges prepared for path sums: levels of a topological order, each with its
    targets' incoming edges (see :func:`paths_of`); shared by every prediction on the same
    edges."""

    levels: tuple[Level, ...] | None
    """None when the edges have a cycle (no defined path sum)."""


def paths_of(graph: Graph, edge_mask: np.ndarray | None = None) -> Paths:
    """Prepare the edges in ``edge_mask`` (default: all) once for many :func:`predict` calls.

    All edges are prepared once per graph (kept in ``graph.memo``, as a sweep or a verify
    run asks again each time); a mask, which changes with every pruning, is not kept.
    """
    if edge_mask is None:
        paths: Paths = graph.memo("verify_paths", lambda: _paths(graph, None))
        return paths
    return _paths(graph, edge_mask)


def _paths(graph: Graph, edge_mask: np.ndarray | None) -> Paths:
    keep = np.ones(graph.n_edges, bool) if edge_mask is None else np.asarray(edge_mask, bool)
    src, dst = graph.source[keep], graph.target[keep]
    level = _levels(graph.n_nodes, src, dst)
    if level is None:
        return Paths(None)
    w = graph.weight.astype(np.float64)[keep]
    order = np.lexsort((dst, level[dst]))  # by target level, then target; stable within
    s, d, ww = src[order], dst[order], w[order]
    lv = level[d]
    out = []
    for value in np.unique(lv):
        a, b = np.searchsorted(lv, [value, value + 1])
        dd = d[a:b]
        starts = np.flatnonzero(np.r_[True, dd[1:] != dd[:-1]])
        out.append(Level(dd[starts], s[a:b], ww[a:b], starts))
    return Paths(tuple(out))


def predict(graph: Graph, sources: Sequence[int], fraction: float | np.ndarray = -1.0,
            edge_mask: np.ndarray | None = None, paths: Paths | None = None) -> Prediction:
    """Predicted effect of setting ``sources`` to ``(1 + fraction) ×`` their activation.

    ``fraction = -1`` is an ablation (an array gives each source its own). The direct effect
    uses every edge the graph has (the engine's adjacency for a ``.pt`` graph); the total
    effect only the edges in ``edge_mask`` (default: all), i.e. the paths of the current pruned
    graph. Pass ``paths`` (from :func:`paths_of` on the same mask) when predicting many times.
    """
    return predict_many(graph, [sources], [fraction], paths or paths_of(graph, edge_mask))[0]


def predict_many(graph: Graph, sources: Sequence[Sequence[int] | np.ndarray],
                 fractions: Sequence[float | np.ndarray], paths: Paths) -> list[Prediction]:
    """:func:`predict` for several independent source sets at once (one pass over the
    levels, every set a column), e.g. the circuits of a faithfulness sweep."""
    n, c = graph.n_nodes, len(sources)
    x = np.zeros((n, c))  # fractional change of each node's activation, per set
    fixed = np.zeros((n, c), bool)
    for j, (rows, fraction) in enumerate(zip(sources, fractions)):
        x[list(rows), j] = fraction
        fixed[list(rows), j] = True
    # Direct effects come only from edges out of a source: a few hundred of the graph's edges.
    out = np.any(fixed, axis=1)[graph.source]
    src, dst = graph.source[out], graph.target[out]
    w = graph.weight[out].astype(np.float64)
    direct = [np.bincount(dst, weights=w * x[src, j], minlength=n) for j in range(c)]
    if paths.levels is None:  # cycles: no defined path sum
        return [Prediction(d, np.full(n, np.nan)) for d in direct]
    act = graph.nodes.activation.astype(np.float64)
    usable = np.isfinite(act) & (act != 0.0)
    safe = np.where(usable, act, 1.0)
    passes = (graph.nodes.kind == NodeKind.FEATURE)[:, None] & ~fixed  # pass a change on
    total = np.zeros((n, c))
    unknown = np.zeros((n, c), bool)
    for lv in paths.levels:
        t = lv.targets
        total[t] = np.add.reduceat(lv.weights[:, None] * x[lv.sources], lv.starts, axis=0)
        unknown[t] = np.logical_or.reduceat(unknown[lv.sources], lv.starts, axis=0)
        moved = passes[t] & (total[t] != 0.0)
        x[t] = np.where(moved & usable[t, None], total[t] / safe[t, None], x[t])
        unknown[t] |= moved & ~usable[t, None]
    total[unknown] = np.nan
    return [Prediction(direct[j], total[:, j]) for j in range(c)]


def _levels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Each node's level in Kahn's order (sources 0; a node comes after all its inputs),
    one vectorised step per level; None when the edges have a cycle (self-loops included)."""
    indeg = np.bincount(dst, minlength=n)
    level = np.full(n, -1, dtype=np.int64)
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        out = np.zeros(n, bool)
        out[frontier] = True
        hit = dst[out[src]]  # targets of the frontier's edges, once per edge
        indeg = indeg - np.bincount(hit, minlength=n)
        hit = np.unique(hit)
        frontier = hit[indeg[hit] == 0]
        depth += 1
    return level if (level >= 0).all() else None


def verdict(predicted: float, observed: float, tolerance: float = NOISE) -> str:
    """``confirmed`` / ``weaker than predicted`` / ``contradicted`` / ``no effect predicted``."""
    if not np.isfinite(predicted):
        return "no prediction"
    if abs(predicted) <= tolerance:
        return "no effect predicted" if abs(observed) <= max(tolerance, 1e-3) else "unpredicted effect"
    if np.sign(observed) != np.sign(predicted) and abs(observed) > tolerance:
        return "contradicted"
    if abs(observed) >= CONFIRM_RATIO * abs(predicted):
        return "confirmed"
    return "weaker than predicted"


@dataclass(frozen=True)
class Summary:
    n: int
    correlation: float
    sign_agreement: float
    verdicts: dict[str, int]


def summarise(predicted: Sequence[float], observed: Sequence[float]) -> Summary:
    """Pearson correlation and share of sign agreements over rows with a prediction."""
    p = np.asarray(predicted, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(o)
    p, o = p[ok], o[ok]
    counts: dict[str, int] = {}
    for a, b in zip(p.tolist(), o.tolist()):
        v = verdict(a, b)
        counts[v] = counts.get(v, 0) + 1
    if p.size >= 2 and p.std() > 0 and o.std() > 0:
        corr = float(np.corrcoef(p, o)[0, 1])
    else:
        corr = float("nan")
    signed = np.abs(p) > NOISE
    agree = float((np.sign(p[signed]) == np.sign(o[signed])).mean()) if signed.any() else float("nan")
    return Summary(int(p.size), corr, agree, counts)
