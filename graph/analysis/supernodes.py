"""Units of the subgraph view: pinned nodes on their own and supernodes as one node each.

Edges between units are aggregated as Neuronpedia's subgraph does: every link whose
endpoints fall in two different units adds its weight to the link between the units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..document import ViewState
from ..model import Graph


@dataclass(frozen=True)
class Unit:
    """One node of the subgraph view."""

    key: str
    """Node id, or ``group:<name>`` for a supernode."""
    label: str
    rows: tuple[int, ...]


def subgraph_units(graph: Graph, state: ViewState) -> list[Unit]:
    """Supernodes first (in creation order), then pinned nodes not in any group."""
    units: list[Unit] = []
    grouped: set[str] = set()
    for s in state.supernodes:
        rows = tuple(graph.index_of(m) for m in s.members if graph.has_node(m) and m not in state.hidden)
        if rows:
            units.append(Unit(f"group:{s.name}", s.name, rows))
            grouped.update(s.members)
    for nid in sorted(state.pinned - grouped - state.hidden):
        if graph.has_node(nid):
            i = graph.index_of(nid)
            units.append(Unit(nid, state.labels.get(nid, graph.nodes.label[i]) or graph.nodes.file_ids[i], (i,)))
    return units


def sum_between(source: np.ndarray, target: np.ndarray, weight: np.ndarray, group: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges mapped onto groups (``group[node]``, -1 = none), parallel ones summed.

    Edges inside one group or touching a node in no group are dropped.
    """
    s, t = group[source], group[target]
    ok = (s >= 0) & (t >= 0) & (s != t)
    s, t, w = s[ok], t[ok], weight[ok].astype(np.float64)
    if not s.size:
        return s, t, w
    m = int(max(s.max(), t.max())) + 1
    keys, inv = np.unique(s * m + t, return_inverse=True)
    return keys // m, keys % m, np.bincount(inv, weights=w, minlength=keys.size)


def aggregate_edges(graph: Graph, units: list[Unit], edge_mask: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(source_unit, target_unit, summed_weight)`` for every pair of distinct linked units."""
    if not units:  # nothing pinned: skip touching every edge (millions in a raw .pt graph)
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    unit_of = np.full(graph.n_nodes, -1, dtype=np.int64)
    for k, unit in enumerate(units):
        unit_of[list(unit.rows)] = k
    keep = slice(None) if edge_mask is None else np.asarray(edge_mask, bool)
    return sum_between(graph.source[keep], graph.target[keep], graph.weight[keep], unit_of)
