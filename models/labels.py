"""Labels for the feature nodes a graph file leaves unlabelled, found offline: imported
labels (graph/io/labels.py) first, then the automatic labels of the model's feature
dashboards (models/dashboards.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..graph.io.dashboards import DashboardDB
from ..graph.io.labels import LabelStore
from ..graph.model import Graph
from .locate import find_model, graph_key
from .protocol import ModelLoadError


def dashboards_for(graph: Graph, remembered_models: Mapping[str, tuple[str, str]] | None = None,
                   remembered_dbs: Mapping[str, str] | None = None) -> DashboardDB | None:
    """The graph's dashboards file: the one chosen for its model, else the one next to its
    transcoders (or in the user's cache); None when there is none."""
    from .dashboards import default_db_path

    chosen = (remembered_dbs or {}).get(graph_key(graph))
    if chosen and Path(chosen).is_file():
        return DashboardDB(chosen)
    try:
        _, tc_dir = find_model(graph, dict(remembered_models or {}))
    except ModelLoadError:
        return None
    path = default_db_path(tc_dir)
    return DashboardDB(path) if path.is_file() else None


def automatic_labels(graph: Graph, store: str | Path | None,
                     db: DashboardDB | None = None) -> dict[str, str]:
    """Node id → label for feature nodes without a label in the file, from the imported label
    ``store`` and the dashboards file ``db`` (see :func:`dashboards_for`)."""
    found: dict[int, str] = {}
    if db is not None:
        found.update(db.labels_for(graph))
    if store is not None and Path(store).is_file():
        found.update(LabelStore(store).for_graph(graph))  # imported labels win
    n = graph.nodes
    return {n.ids[r]: text for r, text in found.items() if not n.label[r]}
