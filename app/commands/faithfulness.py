"""``circuitdesk faithfulness GRAPH (--model DIR --transcoders DIR | --onnx FILE)
[--thresholds 0.5,0.6,...] [--freeze attention|none|all] [--errors clean|respond]
[--ablation zero|mean:FILE] --json``.

Necessity and sufficiency of the pruned circuit at each node threshold, on the local model
(models/faithfulness.py): the faithfulness curve, with each quantity's definition. No Qt here.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ...graph import load_graph
from ...graph.errors import CircuitDeskError
from .export_onnx import add_onnx_option, open_model_backend
from .trace import add_model_arguments
from .verify import warn_if_not_reproduced


class FaithfulnessArgumentError(CircuitDeskError):
    """A malformed --thresholds or --ablation value (one line)."""


def register(sub: Any) -> None:
    p = sub.add_parser("faithfulness", help="necessity and sufficiency of the pruned circuit, "
                                            "over node thresholds")
    p.add_argument("graph")
    add_model_arguments(p)
    add_onnx_option(p)
    p.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9",
                   help="node thresholds to sweep, comma-separated (default: %(default)s)")
    p.add_argument("--edge-threshold", type=float, default=0.98)
    p.add_argument("--freeze", default="attention", metavar="attention|none|all")
    p.add_argument("--errors", default="clean", metavar="clean|respond",
                   help="clean (default): error nodes keep their clean values, only features "
                        "move; respond: the model's own MLPs run and errors follow the inputs")
    p.add_argument("--ablation", default="zero", metavar="zero|mean:FILE",
                   help="ablate to zero, or to each feature's mean activation over a text file "
                        "(computed once, cached next to the model)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def parse_thresholds(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise FaithfulnessArgumentError(f"--thresholds {text!r}: {exc}") from None
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise FaithfulnessArgumentError(f"--thresholds {text!r}: expected numbers in [0, 1]")
    return values


def mean_cache_dirs(model: str | None, onnx: str | None) -> list[Path]:
    """Where mean activations are cached: next to the model (or ONNX file), then the user cache."""
    where = Path(model) if model else Path(onnx) if onnx else None
    dirs = [] if where is None else [where.parent if where.suffix == ".onnx" else where]
    return [*dirs, Path.home() / ".cache" / "circuitdesk"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    from ...models.binding import graph_input_ids
    from ...models.faithfulness import cached_means, run_faithfulness, threshold_circuits
    from ...models.protocol import parse_errors, parse_freeze

    freeze = parse_freeze(args.freeze)
    errors = parse_errors(args.errors)
    thresholds = parse_thresholds(args.thresholds)
    if args.ablation != "zero" and not args.ablation.startswith("mean:"):
        raise FaithfulnessArgumentError(f"--ablation {args.ablation!r}: expected zero or mean:FILE")
    text = Path(args.ablation[5:]) if args.ablation.startswith("mean:") else None
    if text is not None and not text.is_file():
        raise FaithfulnessArgumentError(f"{text}: no such text file for mean ablation")
    graph = load_graph(args.graph)
    backend = open_model_backend(args)
    ids = graph_input_ids(backend, graph)
    means = None if text is None else cached_means(
        backend, text, mean_cache_dirs(args.model, args.onnx))
    circuits = threshold_circuits(graph, thresholds, args.edge_threshold)
    report = run_faithfulness(backend, graph, circuits, ids, freeze=freeze, errors=errors,
                              means=means, batch_size=args.batch_size)
    out = {"graph": args.graph, **_clean(report.to_json())}
    check = report.activation_check
    warn_if_not_reproduced(check)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"target {report.target_token!r} · freeze {report.freeze} · errors {report.errors} · "
          f"ablation {report.ablation} · {report.active_features} active features")
    print(f"clean logit {report.clean.logit:+.4f} (p={report.clean.prob:.3f}) · all ablated "
          f"{report.all_ablated.logit:+.4f} (p={report.all_ablated.prob:.3f})")
    if check is not None and check.ok:
        print(check.text())
    for p in report.points:
        print(f"threshold {p.threshold:g}: {p.size:5d} features · necessity removed "
              f"{p.necessity_removed:.3f} (rank {p.necessity.rank}) · sufficiency recovered "
              f"{p.sufficiency_recovered:.3f} (rank {p.sufficiency.rank}) · predicted "
              f"{p.predicted_direct:+.4f} direct, {p.predicted_total:+.4f} total")
    for name, text_ in out["definitions"].items():
        print(f"  {name}: {text_}")
    return 0
