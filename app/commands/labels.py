"""``circuitdesk labels import FILE [--scan MODEL] [--db PATH]``: keep feature labels for offline
use (graph/io/labels.py). FILE is a Neuronpedia explanation export (JSON, or JSONL / .jsonl.gz
batches) or a CSV / JSONL with layer, feature and label columns; graphs of the same model and
transcoder set show them when they open. No Qt here.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("labels", help="import feature labels (Neuronpedia exports, CSV, JSONL)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", parser_class=type(p))
    imp = verbs.add_parser("import", help="add the labels of a file to the label store")
    imp.add_argument("file")
    imp.add_argument("--scan", default="", help="the model these labels belong to, when the "
                     "file does not say (e.g. gemma-2-2b); empty: any graph")
    imp.add_argument("--db", default=None, help="label store (default: the user's data folder)")
    imp.set_defaults(func=run_import)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_import(args: argparse.Namespace) -> int:
    from ...graph.io.labels import LabelStore, default_label_store, read_label_file

    rows = read_label_file(args.file, scan=args.scan)
    store = LabelStore(args.db or default_label_store())
    n = store.add(rows)
    by = Counter((r.scan or "any model", r.source or "-") for r in rows)
    sets = ", ".join(f"{scan} / {source}: {k}" for (scan, source), k in sorted(by.items()))
    print(f"{store.path}: {n} labels imported ({sets})")
    return 0
