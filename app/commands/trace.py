"""``circuitdesk trace --model DIR --transcoders DIR --prompt TEXT -o OUT.pt [--json OUT.json]``.

Traces an attribution graph on a local replacement model as circuit-tracer's ``attribute``
does and saves it as an engine ``.pt`` (and optionally as pruned circuit-tracer JSON).
No Qt here; torch loads only when the backend opens.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ...graph.errors import CircuitDeskError


class TraceArgumentError(CircuitDeskError):
    """A bad ``trace`` argument (one line)."""


def add_device_arguments(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--dtype`` (both default to what suits the machine; the table is
    :mod:`circuitdesk.models.devices`, shared with the backends and the verify panel)."""
    from ...models.devices import DEFAULT_DTYPES, DTYPES

    defaults = ", ".join(f"{v} on {k}" for k, v in DEFAULT_DTYPES.items())
    p.add_argument("--device", default="auto", metavar="cpu|cuda[:N]|mps|auto",
                   help="where the model runs (default: a GPU when torch sees one, else cpu)")
    p.add_argument("--dtype", default=None, choices=DTYPES,
                   help=f"compute dtype of model and encoders (default: {defaults}); "
                        "decoders stay on disk, mapped")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--transcoders``, ``--backend``, ``--device``, ``--dtype``."""
    p.add_argument("--model", required=True, help="Hugging Face model folder (or cached hub id)")
    p.add_argument("--transcoders", required=True,
                   help="circuit-tracer transcoder folder (config.yaml + safetensors), or a "
                        "ref in its cache or the Hugging Face cache (gemma, llama, org/repo)")
    p.add_argument("--backend", default=None, help="model backend (default: best available)")
    add_device_arguments(p)


def register(sub: Any) -> None:
    p = sub.add_parser("trace", help="trace an attribution graph on a local model")
    add_model_arguments(p)
    p.add_argument("--prompt", required=True)
    p.add_argument("-o", "--output", required=True, metavar="OUT.pt")
    p.add_argument("--json", metavar="OUT.json", help="also write pruned circuit-tracer JSON")
    p.add_argument("--max-feature-nodes", type=int, default=None)
    p.add_argument("--max-n-logits", type=int, default=10)
    p.add_argument("--desired-logit-prob", type=float, default=0.95)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--node-threshold", type=float, default=0.8)
    p.add_argument("--edge-threshold", type=float, default=0.98)
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    if args.max_feature_nodes is not None and args.max_feature_nodes < 1:
        raise TraceArgumentError("--max-feature-nodes must be at least 1")
    if args.max_n_logits < 1 or args.batch_size < 1:
        raise TraceArgumentError("--max-n-logits and --batch-size must be at least 1")
    for name in ("desired_logit_prob", "node_threshold", "edge_threshold"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise TraceArgumentError(f"--{name.replace('_', '-')} must be in [0, 1]")
    if not args.prompt.strip():
        raise TraceArgumentError("--prompt is empty")
    for out in (args.output, args.json):
        if out and not Path(out).resolve().parent.is_dir():
            raise TraceArgumentError(f"{out}: folder does not exist")


def run(args: argparse.Namespace) -> int:
    from ...graph.analysis.prune import prune
    from ...graph.io.dense import graph_from_dense
    from ...graph.io.json_write import write_json
    from ...models.registry import open_backend
    from ...models.torch.pt_writer import write_pt
    from .prune import pruned_graph_json

    _check(args)
    t0 = time.perf_counter()
    backend = open_backend(args.backend, model_dir=args.model, transcoders_dir=args.transcoders,
                           device=args.device, dtype=args.dtype)
    t1 = time.perf_counter()
    data = backend.trace(args.prompt, max_feature_nodes=args.max_feature_nodes,
                         max_n_logits=args.max_n_logits,
                         desired_logit_prob=args.desired_logit_prob, batch_size=args.batch_size)
    t2 = time.perf_counter()
    write_pt(args.output, data)
    report: dict[str, Any] = {
        "output": args.output, "input_tokens": [int(t) for t in data.input_tokens],
        "active_features": len(data.active_features),
        "selected_features": len(data.selected_features),
        "nodes": int(data.adjacency.shape[0]),
        "logit_targets": [{"token": s, "id": int(i), "prob": float(p)} for s, i, p in zip(
            data.logit_strings, data.logit_tokens, data.logit_probabilities.tolist())],
        "load_s": round(t1 - t0, 3), "trace_s": round(t2 - t1, 3),
    }
    if args.json:
        graph = graph_from_dense(data)
        graph.metadata.raw.update(scan=data.scan, slug=Path(args.json).stem,
                                  transcoder_list=[], schema_version=1)
        result = prune(graph, args.node_threshold, args.edge_threshold)
        write_json(args.json, pruned_graph_json(graph, result, args.node_threshold))
        report["json"] = args.json
    print(json.dumps(report, ensure_ascii=False))
    return 0
