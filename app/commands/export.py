"""``circuitdesk export FILE --svg OUT.svg [--png OUT.png] [--pdf OUT.pdf] …``: a publication figure.

SVG needs nothing beyond graph/; Qt is imported only when a PNG or PDF is asked for,
with an offscreen QGuiApplication created here when none runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ...graph import load_graph
from ...graph.document import ViewState
from ...graph.io.session import state_from_qparams
from ...graph.analysis.prune import prune
from ...graph.errors import CircuitDeskError, GraphLoadError
from ...graph.figure import FigureOptions, build_figure
from ...graph.model import Graph
from ...graph.figure.svg_writer import write_svg


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write a figure of a graph as SVG, PNG and/or PDF")
    p.add_argument("file", help="graph file (.json or .pt)")
    p.add_argument("--svg", metavar="OUT.svg")
    p.add_argument("--png", metavar="OUT.png")
    p.add_argument("--pdf", metavar="OUT.pdf")
    p.add_argument("--dpi", type=float, default=300.0, help="PNG resolution (default 300; "
                   "the figure is laid out at 96 px per inch)")
    p.add_argument("--width", type=int, default=1200, help="figure width in px at 96 DPI")
    p.add_argument("--height", type=int, default=800, help="figure height in px at 96 DPI")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--no-labels", action="store_true", help="no node labels")
    p.add_argument("--all-labels", action="store_true",
                   help="label every visible node (up to --max-labels)")
    p.add_argument("--max-labels", type=int, default=60)
    p.add_argument("--no-legend", action="store_true")
    p.add_argument("--transparent", action="store_true", help="no background")
    p.add_argument("--title", default="")
    p.add_argument("--full-logit-labels", action="store_true",
                   help='label logits with the whole clerp (Output " Paris" (p=0.987))')
    p.add_argument("--subgraph", action="store_true",
                   help="only the pinned nodes and supernodes (of --session, else of the "
                   "graph file's own qParams, as the app opens it)")
    p.add_argument("--arrows", action="store_true", help="arrowheads on edges")
    p.add_argument("--max-logit-labels", type=int, default=12,
                   help="label at most this many logits, most probable first (default 12)")
    p.add_argument("--node-threshold", type=float, default=None)
    p.add_argument("--edge-threshold", type=float, default=None)
    p.add_argument("--session", metavar="SESSION.json",
                   help="take pins, supernodes, labels from this file's qParams (default: "
                   "the graph file's own)")
    p.set_defaults(func=run)


def read_session(path: str | Path, graph: Graph) -> ViewState:
    """The view state stored in a session file: a graph JSON whose ``qParams`` has
    ``pinnedIds`` / ``supernodes`` (by node_id or jsNodeId) and optionally our own
    namespaced state. Kept in one place so a richer session format only changes this."""
    import orjson

    p = Path(path)
    try:
        obj = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise GraphLoadError(p, exc.strerror or str(exc)) from None
    except orjson.JSONDecodeError as exc:
        raise GraphLoadError(p, f"not a JSON session file ({exc})") from None
    qparams = obj.get("qParams") if isinstance(obj, dict) else None
    if not isinstance(qparams, dict):
        raise GraphLoadError(p, "no 'qParams' object to take pins and supernodes from")
    return state_from_qparams(graph, qparams)


def prune_masks(graph: Graph, node_threshold: float | None, edge_threshold: float | None,
                pinned: frozenset[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Masks from graph/prune.py when thresholds are given (or the graph is a dense .pt)."""
    if node_threshold is None and edge_threshold is None and graph.adjacency is None:
        return None, None
    for name, value in (("node", node_threshold), ("edge", edge_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise CircuitDeskError(f"--{name}-threshold {value} is outside [0, 1]")
    result = prune(graph, 0.8 if node_threshold is None else node_threshold,
                   0.98 if edge_threshold is None else edge_threshold, pinned=tuple(pinned))
    for warning in result.warnings:
        print(f"circuitdesk export: note: {warning}", file=sys.stderr)
    return result.node_mask, result.edge_mask


def run(args: argparse.Namespace) -> int:
    outputs = {fmt: getattr(args, fmt) for fmt in ("svg", "png", "pdf") if getattr(args, fmt)}
    if not outputs:
        raise CircuitDeskError("nothing to write: give --svg, --png and/or --pdf")
    if args.width <= 0 or args.height <= 0 or args.dpi <= 0:
        raise CircuitDeskError("--width, --height and --dpi must be positive")
    graph = load_graph(args.file)
    state = read_session(args.session, graph) if args.session else state_from_qparams(graph)
    if args.subgraph and not (state.pinned or state.supernodes):
        raise CircuitDeskError("--subgraph: nothing is pinned or grouped (pin nodes in the app "
                               "and save the session, then pass it with --session)")
    node_t, edge_t = args.node_threshold, args.edge_threshold
    if node_t is None and edge_t is None and state.pruning:  # the session's own pruning
        node_t, edge_t = state.node_threshold, state.edge_threshold
    node_mask, edge_mask = prune_masks(graph, node_t, edge_t, state.pinned)
    options = FigureOptions(
        width=args.width, height=args.height, theme=args.theme, labels=not args.no_labels,
        all_labels=args.all_labels, max_labels=args.max_labels, transparent=args.transparent,
        legend=not args.no_legend, title=args.title,
        short_logit_labels=not args.full_logit_labels, arrows=args.arrows,
        max_logit_labels=args.max_logit_labels, scope="subgraph" if args.subgraph else "graph")
    fig = build_figure(graph, state=state, options=options, node_mask=node_mask,
                       edge_mask=edge_mask)
    for note in fig.notes:
        print(f"circuitdesk export: note: {note}", file=sys.stderr)
    if "svg" in outputs:
        try:
            write_svg(fig, outputs["svg"])
        except OSError as exc:
            raise CircuitDeskError(f"{outputs['svg']}: {exc.strerror or exc}") from None
    if "png" in outputs or "pdf" in outputs:
        from ..figure_png import write_figure  # Qt only now

        for fmt in ("png", "pdf"):
            if fmt in outputs:
                write_figure(fig, outputs[fmt], fmt, dpi=args.dpi)
    shown = sum(1 for t in fig.texts if t.role == "label")
    for fmt, path in outputs.items():
        print(f"wrote {path} ({len(fig.nodes)} nodes, {fig.n_edges} edges, {shown} labels)")
    return 0
