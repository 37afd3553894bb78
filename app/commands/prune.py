"""``circuitdesk prune FILE [--node-threshold T] [--edge-threshold T] [--json] [-o OUT.json]``.

Prunes as circuit-tracer's ``prune_graph`` does and reports what is kept. ``replacement_score``
and ``completeness_score`` are the engine's ``compute_graph_scores`` of the whole graph; the
``pruned_*`` scores count the features that pruning drops as error (Neuronpedia's subgraph
score). No Qt here.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ...graph import load_graph
from ...graph.io.json_write import graph_to_json, write_json
from ...graph.model import Graph, NodeKind
from ...graph.analysis.prune import PruneResult, prune
from ...graph.analysis.scores import graph_scores


def register(sub: Any) -> None:
    p = sub.add_parser("prune", help="prune a graph as circuit-tracer does")
    p.add_argument("file")
    p.add_argument("--node-threshold", type=float, default=0.8)
    p.add_argument("--edge-threshold", type=float, default=0.98)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-o", "--output", metavar="OUT.json",
                   help="write the pruned graph as circuit-tracer/Neuronpedia JSON")
    p.set_defaults(func=run)


def pruned_graph_json(graph: Graph, result: PruneResult, node_threshold: float) -> dict[str, Any]:
    """The kept part as JSON, each node's ``influence`` set to its cumulative score.

    As the engine's ``create_graph_files``, nodes without a kept edge are left out, except
    embeddings and logits.
    """
    nodes = graph.nodes
    keep = result.node_mask.copy()
    used = np.zeros(graph.n_nodes, bool)
    used[graph.source[result.edge_mask & keep[graph.source] & keep[graph.target]]] = True
    used[graph.target[result.edge_mask & keep[graph.source] & keep[graph.target]]] = True
    used |= (nodes.kind == NodeKind.EMBEDDING) | (nodes.kind == NodeKind.LOGIT)
    keep &= used
    saved = nodes.influence
    nodes.influence = result.cumulative_scores.astype(np.float32)
    try:
        meta = dict(graph.metadata.raw)
        meta["node_threshold"] = node_threshold
        return graph_to_json(graph, node_mask=keep, edge_mask=result.edge_mask, metadata=meta)
    finally:
        nodes.influence = saved


def run(args: argparse.Namespace) -> int:
    for name in ("node_threshold", "edge_threshold"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise SystemExit(f"circuitdesk prune: --{name.replace('_', '-')} must be in [0, 1]")
    graph = load_graph(args.file)
    result = prune(graph, args.node_threshold, args.edge_threshold)
    whole = graph_scores(graph)
    pruned = graph_scores(graph, result.node_mask)
    nodes = graph.nodes
    kept_rows = np.flatnonzero(result.node_mask).tolist()
    report: dict[str, Any] = {
        "file": args.file,
        "node_threshold": args.node_threshold,
        "edge_threshold": args.edge_threshold,
        "nodes_kept": len(kept_rows),
        "edges_kept": int(result.edge_mask.sum()),
        "replacement_score": whole.replacement,
        "completeness_score": whole.completeness,
        "pruned_replacement_score": pruned.replacement,
        "pruned_completeness_score": pruned.completeness,
        "warnings": list(graph.warnings) + list(result.warnings),
        "kept": [{"node_id": nodes.file_ids[i], "kind": NodeKind(int(nodes.kind[i])).label,
                  "layer": int(nodes.layer[i]), "position": int(nodes.position[i]),
                  "feature": int(nodes.feature[i]) if nodes.feature[i] >= 0 else None}
                 for i in kept_rows],
    }
    if args.output:
        write_json(args.output, pruned_graph_json(graph, result, args.node_threshold))
        report["output"] = args.output
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for key, value in report.items():
            if key != "kept":
                print(f"{key:26} {value}")
    return 0
