"""``circuitdesk verify GRAPH --model DIR --transcoders DIR [--freeze ...] --json``.

Ablates (or scales) every kept feature of the graph on the local model and prints, for each,
the graph's predicted change of the target logit beside the observed one, with a verdict and a
summary. No Qt here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np

from ...graph import load_graph
from ...graph.model import NodeKind
from ...graph.analysis.prune import prune
from .export_onnx import add_onnx_option, open_model_backend
from .trace import add_model_arguments


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="compare the graph's predicted effects with the model's")
    p.add_argument("graph")
    add_model_arguments(p)
    add_onnx_option(p)
    p.add_argument("--node-threshold", type=float, default=None)
    p.add_argument("--edge-threshold", type=float, default=None)
    p.add_argument("--freeze", default="attention", metavar="attention|none|all")
    p.add_argument("--mode", choices=["ablate", "scale"], default="ablate")
    p.add_argument("--factor", type=float, default=0.0, help="with --mode scale: k × activation")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def warn_if_not_reproduced(check: Any) -> None:
    """One stderr line when the model did not reproduce the graph's activations (the numbers
    are printed all the same: the warning says what they may be about)."""
    if check is not None and not check.ok:
        print(f"circuitdesk: warning: {check.text()}", file=sys.stderr)


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def run(args: argparse.Namespace) -> int:
    from ...models.binding import graph_input_ids
    from ...models.protocol import parse_freeze
    from ...models.verify import feature_claims, run_verification

    freeze = parse_freeze(args.freeze)
    graph = load_graph(args.graph)
    node_mask = edge_mask = None
    if args.node_threshold is not None or args.edge_threshold is not None:
        result = prune(graph, 0.8 if args.node_threshold is None else args.node_threshold,
                       0.98 if args.edge_threshold is None else args.edge_threshold)
        node_mask, edge_mask = result.node_mask, result.edge_mask
    backend = open_model_backend(args)
    ids = graph_input_ids(backend, graph)
    rows = np.flatnonzero((graph.nodes.kind == NodeKind.FEATURE)
                          & (True if node_mask is None else node_mask))
    report = run_verification(backend, graph, feature_claims(graph, rows), ids, mode=args.mode,
                              factor=args.factor, freeze=freeze, edge_mask=edge_mask,
                              batch_size=args.batch_size)
    summary = report.summary()
    out = {
        "graph": args.graph, "target": report.target_token, "freeze": args.freeze,
        "mode": args.mode, "factor": args.factor if args.mode == "scale" else 0.0,
        "results": [{"node_id": graph.nodes.file_ids[graph.index_of(r.key)], "label": r.label,
                     "predicted": _num(r.predicted), "predicted_direct": _num(r.predicted_direct),
                     "predicted_total": _num(r.predicted_total), "observed": r.observed,
                     "verdict": r.verdict} for r in report.rows],
        "summary": {"n": summary.n, "correlation": _num(summary.correlation),
                    "sign_agreement": _num(summary.sign_agreement), "verdicts": summary.verdicts},
        "activation_check": None if report.activation_check is None
        else report.activation_check.as_json(),
    }
    check = report.activation_check
    warn_if_not_reproduced(check)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        if check is not None and check.ok:
            print(check.text())
        for r in out["results"]:
            print(f"{r['node_id']:>20}  predicted {r['predicted'] or float('nan'):+.4f}  "
                  f"observed {r['observed']:+.4f}  {r['verdict']}")
        s = out["summary"]
        print(f"{s['n']} claims · correlation {s['correlation']} · sign agreement "
              f"{s['sign_agreement']} · {s['verdicts']}", file=sys.stdout)
    return 0
