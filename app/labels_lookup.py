"""Find a graph's automatic labels and dashboards on the loader's worker thread (no widgets)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..graph.model import Graph

log = logging.getLogger(__name__)


def find_labels(graph: Graph, store: str | Path | None, models: Mapping[str, tuple[str, str]],
                dbs: Mapping[str, str]) -> tuple[dict[str, str], Any]:
    """(node id → automatic label, the dashboards file or None); never raises: labels are a
    help, and a damaged label file must not stop the graph from opening.

    ``store``: the imported-labels file; None for the default one."""
    from ..graph.io.labels import default_label_store
    from ..models.labels import automatic_labels, dashboards_for

    try:
        store = store if store is not None else default_label_store()
        db = dashboards_for(graph, models, dbs)  # found once: it labels and it is shown
        return automatic_labels(graph, store, db), db
    except Exception:  # noqa: BLE001 - logged; the graph opens without automatic labels
        log.warning("automatic labels for %s could not be read", graph.metadata.slug,
                    exc_info=True)
        return {}, None
