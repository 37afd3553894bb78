"""Find nodes by label, node id, layer or prompt token."""

from __future__ import annotations

import re

import numpy as np

from ..model import Graph, NodeKind

_LAYER = re.compile(r"^(?:l|layer\s*)(\d+)$", re.IGNORECASE)


def search(graph: Graph, query: str, labels: list[str] | None = None) -> list[int]:
    """Rows matching ``query``, in node order.

    ``L5`` / ``layer 5`` selects layer 5; a query equal to a node id (ours, the file's or
    a jsNodeId) selects that node; otherwise a case-insensitive substring of the label,
    the node id, or the node's prompt token matches.
    """
    q = query.strip()
    if not q:
        return []
    n = graph.nodes
    m = _LAYER.match(q)
    if m:
        inner = (n.kind == NodeKind.FEATURE) | (n.kind == NodeKind.ERROR)
        return np.flatnonzero(inner & (n.layer == int(m.group(1)))).tolist()
    exact = [i for i, (a, b, c) in enumerate(zip(n.ids, n.file_ids, n.js_ids)) if q in (a, b, c)]
    if exact:
        return exact
    low = q.lower()
    texts = labels if labels is not None else n.label
    tokens = [t.lower() for t in graph.metadata.prompt_tokens]
    token_pos = {p for p, t in enumerate(tokens) if low == t.strip() or low == t}
    return [
        i for i in range(graph.n_nodes)
        if low in texts[i].lower() or low in n.ids[i].lower() or int(n.position[i]) in token_pos
    ]
