"""``circuitdesk info FILE [--json]``: what a graph file holds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ...graph import load_graph


def register(sub: Any) -> None:
    p = sub.add_parser("info", help="summarise a graph file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def summary(path: str) -> dict[str, Any]:
    g = load_graph(path)
    return {
        "file": path,
        "format": g.format,
        "nodes": g.n_nodes,
        "links": g.n_edges,
        "layers": len(g.layers),
        "positions": g.n_positions,
        "feature_types": g.kind_counts(),
        "prompt": g.metadata.prompt,
        "model": g.metadata.model,
        "scan": g.metadata.scan,
        "transcoder_set": g.metadata.transcoder_set,
        "warnings": list(g.warnings),
    }


def run(args: argparse.Namespace) -> int:
    info = summary(args.file)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            print(f"{key:15} {value}")
    return 0
