"""What is visible: the graph after pruning and the user's hand edits."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .model import Graph


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
    edges = np.ones(graph.n_edges, bool) if edge_mask is None else np.array(edge_mask, bool)
    edges &= nodes[graph.source] & nodes[graph.target]
    return nodes, edges
