"""``circuitdesk dashboards (--model DIR --transcoders DIR | --onnx FILE) --corpus PATH [-o DB]
[--top-k 20] [--max-tokens N]``: feature dashboards offline (models/dashboards.py).

Streams the corpus (.txt, .jsonl or a folder of them) through the replacement model and writes
one SQLite file, by default next to the transcoders (else in ~/.cache/circuitdesk). Run it again
after an interruption and it resumes. No Qt here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .export_onnx import add_onnx_option, open_model_backend
from .trace import add_model_arguments


def register(sub: Any) -> None:
    p = sub.add_parser("dashboards", help="build feature dashboards and automatic labels offline")
    add_model_arguments(p)
    add_onnx_option(p)
    p.add_argument("--corpus", required=True, help="a .txt or .jsonl file, or a folder of them")
    p.add_argument("-o", "--output", default=None, help="dashboards file (default: next to the "
                   "transcoders, else ~/.cache/circuitdesk)")
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--window", type=int, default=64, help="tokens per context window")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...models.dashboards import build_dashboards, default_db_path

    backend = open_model_backend(args)
    out = args.output or default_db_path(args.transcoders or args.onnx)

    def progress(fraction: float, phase: str) -> None:
        print(f"\r{phase}: {fraction:6.1%}", end="", file=sys.stderr, flush=True)

    db = build_dashboards(backend, args.corpus, out, top_k=args.top_k, window=args.window,
                          max_tokens=args.max_tokens, progress=progress)
    meta = db.meta()
    print(file=sys.stderr)
    print(f"{out}: {meta['windows']} windows, {meta['n_tokens']} tokens, "
          f"{len(db.labels())} features labelled")
    return 0
