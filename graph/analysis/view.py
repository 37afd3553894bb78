"""What is visible: the graph after pruning and the user's hand edits."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..model import Graph


def id_mask(graph: Graph, ids: Iterable[str]) -> np.ndarray:
    """Boolean node mask of the given unique ids (unknown ids ignored)."""
    mask = np.zeros(graph.n_nodes, dtype=bool)
    for nid in ids:
        if graph.has_node(nid):
            mask[graph.index_of(nid)] = True
    return mask


def visible_masks(
    graph: Graph,
    *,
    hidden: Iterable[str] = (),
    pinned: Iterable[str] = (),
    node_mask: np.ndarray | None = None,
    edge_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and edges to show.

    Args:
        graph: The graph.
        hidden: Ids the user dropped by hand; always hidden.
        pinned: Ids that stay visible whatever pruning says.
        node_mask: Nodes kept by pruning (None = all).
        edge_mask: Edges kept by pruning (None = all).
    """
    nodes = np.ones(graph.n_nodes, bool) if node_mask is None else np.array(node_mask, bool)
    nodes |= id_mask(graph, pinned)
    nodes &= ~id_mask(graph, hidden)
    if edge_mask is None:
        if nodes.all():
            return nodes, np.ones(graph.n_edges, bool)
        return nodes, nodes[graph.source] & nodes[graph.target]
    # Check only the edges pruning kept: a raw engine graph has millions, pruning keeps a few
    # percent, and this runs on the GUI thread at every prune result.
    kept = np.flatnonzero(edge_mask)
    edges = np.zeros(graph.n_edges, bool)
    edges[kept[nodes[graph.source[kept]] & nodes[graph.target[kept]]]] = True
    return nodes, edges


def input_share(target: np.ndarray, weight: np.ndarray, n_nodes: int | None = None,
                edges: np.ndarray | None = None) -> np.ndarray:
    """Each edge's share of its target's input: weight / sum |incoming weights|.

    Only ``edges`` (indices; default: all) count and get a share; the others, and edges
    into a target with no input, get 0.
    """
    share = np.zeros(weight.shape[0])
    live = np.arange(weight.shape[0]) if edges is None else edges
    share[live] = shares_of(target, weight, live, n_nodes)
    return share


def shares_of(target: np.ndarray, weight: np.ndarray, edges: np.ndarray,
              n_nodes: int | None = None) -> np.ndarray:
    """:func:`input_share` of ``edges`` only, as an array aligned with ``edges``."""
    if not edges.size:
        return np.zeros(0)
    t, w = target[edges], weight[edges].astype(np.float64)
    total = np.bincount(t, weights=np.abs(w), minlength=n_nodes or 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(total[t] > 0, w / total[t], 0.0)
    return out
