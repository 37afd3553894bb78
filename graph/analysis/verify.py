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
class Paths:
    """The graph's edges prepared for path sums: one topological order and each target's
    incoming edges (see :func:`paths_of`); shared by every prediction on the same edges."""

    order: np.ndarray | None
    """None when the edges have a cycle (no defined path sum)."""
    incoming: dict[int, tuple[np.ndarray, np.ndarray]]


def paths_of(graph: Graph, edge_mask: np.ndarray | None = None) -> Paths:
    """Prepare the edges in ``edge_mask`` (default: all) once for many :func:`predict` calls."""
    keep = np.ones(graph.n_edges, bool) if edge_mask is None else np.asarray(edge_mask, bool)
    src, dst = graph.source[keep], graph.target[keep]
    order = _topological(graph.n_nodes, src, dst)
    w = graph.weight.astype(np.float64)[keep]
    return Paths(order, _by_target(graph.n_nodes, src, dst, w) if order is not None else {})


def predict(graph: Graph, sources: Sequence[int], fraction: float | np.ndarray = -1.0,
            edge_mask: np.ndarray | None = None, paths: Paths | None = None) -> Prediction:
    """Predicted effect of setting ``sources`` to ``(1 + fraction) ×`` their activation.

    ``fraction = -1`` is an ablation (an array gives each source its own). The direct effect
    uses every edge the graph has (the engine's adjacency for a ``.pt`` graph); the total
    effect only the edges in ``edge_mask`` (default: all), i.e. the paths of the current pruned
    graph. Pass ``paths`` (from :func:`paths_of` on the same mask) when predicting many times.
    """
    n = graph.n_nodes
    x = np.zeros(n)  # fractional change of each node's activation
    fixed = np.zeros(n, bool)
    x[list(sources)] = fraction
    fixed[list(sources)] = True
    all_w = graph.weight.astype(np.float64)
    direct = np.bincount(graph.target, weights=all_w * x[graph.source], minlength=n)
    kind = graph.nodes.kind
    act = graph.nodes.activation.astype(np.float64)
    passes = (kind == NodeKind.FEATURE) & ~fixed  # nodes that pass a change on
    paths = paths or paths_of(graph, edge_mask)
    if paths.order is None:  # cycles: no defined path sum
        return Prediction(direct, np.full(n, np.nan))
    total = np.zeros(n)
    unknown = np.zeros(n, bool)
    for t in paths.order:
        rows = paths.incoming.get(int(t))
        if rows is None:
            continue
        s_idx, weights = rows
        total[t] = float(np.dot(weights, x[s_idx]))
        unknown[t] = bool(unknown[s_idx].any())
        if passes[t] and total[t] != 0.0:
            if np.isfinite(act[t]) and act[t] != 0.0:
                x[t] = total[t] / act[t]
            else:
                unknown[t] = True
    total[unknown] = np.nan
    return Prediction(direct, total)


def _by_target(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray
               ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(dst, kind="stable")
    d, s, ww = dst[order], src[order], w[order]
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]]) if d.size else np.zeros(0, int)
    ends = np.r_[starts[1:], d.size]
    return {int(d[a]): (s[a:b], ww[a:b]) for a, b in zip(starts, ends)}


def _topological(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Kahn's order of the nodes; None when the edges have a cycle (self-loops included)."""
    indeg = np.bincount(dst, minlength=n)
    out_order = np.argsort(src, kind="stable")
    s_sorted, d_sorted = src[out_order], dst[out_order]
    starts = np.searchsorted(s_sorted, np.arange(n))
    ends = np.searchsorted(s_sorted, np.arange(n), side="right")
    queue = [int(i) for i in np.flatnonzero(indeg == 0)]
    out: list[int] = []
    indeg = indeg.copy()
    while queue:
        u = int(queue.pop())
        out.append(u)
        targets = d_sorted[starts[u]:ends[u]]
        if targets.size:
            np.subtract.at(indeg, targets, 1)
            queue.extend(int(t) for t in np.unique(targets) if indeg[t] == 0)
    return np.array(out) if len(out) == n else None


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
