"""Write graphs as circuit-tracer / Neuronpedia JSON (FORMATS.md §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..model import FEATURE_TYPE_NAMES, Graph, NodeKind


def node_to_json(graph: Graph, i: int) -> dict[str, Any]:
    """The JSON object for node ``i``: the file's own, or one built from the columns."""
    n = graph.nodes
    base = dict(graph.raw_nodes[i]) if graph.raw_nodes is not None else {}
    kind = NodeKind(int(n.kind[i]))
    layer = int(n.layer[i])
    base.setdefault("node_id", n.file_ids[i])
    base.setdefault("feature", int(n.feature[i]) if kind == NodeKind.FEATURE else -1)
    base.setdefault("layer", "E" if kind == NodeKind.EMBEDDING else str(layer))
    base.setdefault("ctx_idx", int(n.position[i]))
    base.setdefault("feature_type", FEATURE_TYPE_NAMES[kind])
    prob = float(n.token_prob[i])
    base.setdefault("token_prob", prob if np.isfinite(prob) else 0.0)
    base.setdefault("is_target_logit", False)
    base.setdefault("run_idx", 0)
    base.setdefault("reverse_ctx_idx", 0)
    base.setdefault("jsNodeId", n.js_ids[i] or n.file_ids[i])
    base["clerp"] = n.label[i]
    for name, column in (("activation", n.activation), ("influence", n.influence)):
        value = float(column[i])
        if np.isfinite(value):
            base[name] = value
        elif name not in base:
            base[name] = None
    return base


def graph_to_json(
    graph: Graph,
    *,
    node_mask: np.ndarray | None = None,
    edge_mask: np.ndarray | None = None,
    qparams: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The graph (or the part the masks keep) as a circuit-tracer/Neuronpedia JSON object.

    Edges whose endpoints are not both kept are dropped whatever ``edge_mask`` says.
    """
    keep = np.ones(graph.n_nodes, bool) if node_mask is None else np.asarray(node_mask, bool)
    emask = np.ones(graph.n_edges, bool) if edge_mask is None else np.asarray(edge_mask, bool)
    emask = emask & keep[graph.source] & keep[graph.target]
    rows = np.flatnonzero(keep)
    fids = graph.nodes.file_ids
    uids = graph.nodes.ids
    shared = {f for f, u in zip(fids, uids) if f != u}
    meta = dict(graph.metadata.raw) if metadata is None else metadata
    if not meta:
        meta = {"slug": graph.metadata.slug, "scan": graph.metadata.scan,
                "prompt_tokens": graph.metadata.prompt_tokens, "prompt": graph.metadata.prompt}
    return {
        "metadata": meta,
        "qParams": graph.qparams if qparams is None else qparams,
        "nodes": [node_to_json(graph, int(i)) for i in rows],
        "links": [
            _link(fids, uids, shared, s, t, w)
            for s, t, w in zip(graph.source[emask].tolist(), graph.target[emask].tolist(),
                               graph.weight[emask].tolist())
        ],
    }


def _link(fids: list[str], uids: list[str], shared: set[str], s: int, t: int, w: float
          ) -> dict[str, Any]:
    """A link; where a node_id is shared by two kinds (FORMATS §3) our exact id rides along."""
    link: dict[str, Any] = {"source": fids[s], "target": fids[t], "weight": w}
    if fids[s] in shared:
        link["source_uid"] = uids[s]
    if fids[t] in shared:
        link["target_uid"] = uids[t]
    return link


def write_json(path: str | Path, obj: dict[str, Any]) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        data = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        # orjson writes at most 254 levels but reads 1,024: a value the file carried through
        # unchanged (a node field, metadata, qParams) may be deeper. Write it as null.
        data = orjson.dumps(_shallow(obj, MAX_WRITE_DEPTH), option=orjson.OPT_SERIALIZE_NUMPY)
    tmp.write_bytes(data)
    tmp.replace(target)


MAX_WRITE_DEPTH = 200
"""Values nested deeper than this are written as null (orjson's own limit is 254)."""


def _shallow(value: Any, limit: int) -> Any:
    """A copy of ``value`` with everything below ``limit`` levels replaced by None.

    Iterative, so it is safe on the 1,000-deep values that orjson accepts when reading.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        item, parent, key, depth = stack.pop()
        if isinstance(item, (list, dict)) and depth >= limit:
            parent[key] = None
        elif isinstance(item, list):
            copy: Any = [None] * len(item)
            parent[key] = copy
            stack.extend((v, copy, k, depth + 1) for k, v in enumerate(item))
        elif isinstance(item, dict):
            copy = dict.fromkeys(item)
            parent[key] = copy
            stack.extend((v, copy, k, depth + 1) for k, v in item.items())
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 1 << 63:
            parent[key] = float(item) if abs(item) < 1 << 1000 else None
        else:
            parent[key] = item
    return root[0]
