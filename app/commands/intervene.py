"""``circuitdesk intervene --model DIR --transcoders DIR --prompt TEXT --set L:P:F=V … --json``.

Runs circuit-tracer's ``feature_intervention`` semantics on a local replacement model and
prints the baseline and patched top-10 tokens at the last position, with each token's
change in logit and in mean-centred logit. No Qt here.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import numpy as np

from ...graph.errors import CircuitDeskError
from .export_onnx import add_onnx_option, open_model_backend
from .trace import add_model_arguments

_SET = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*:\s*(\d+)\s*=\s*(\S+)\s*$")


class InterveneArgumentError(CircuitDeskError):
    """A bad ``intervene`` argument (one line)."""


def register(sub: Any) -> None:
    p = sub.add_parser("intervene", help="set feature activations and compare the outputs")
    add_model_arguments(p)
    add_onnx_option(p)
    p.add_argument("--prompt", required=True)
    p.add_argument("--set", action="append", default=[], metavar="LAYER:POS:FEATURE=VALUE",
                   dest="sets", help="set a feature's activation (repeatable; POS counts BOS)")
    p.add_argument("--freeze", default="attention", metavar="attention|none|all|A-B")
    p.add_argument("--target", action="append", default=[], metavar="TOKEN|#ID",
                   help="also report this token (repeatable)")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def parse_set(text: str) -> tuple[int, int, int, float]:
    """``"LAYER:POS:FEATURE=VALUE"`` → a tuple; InterveneArgumentError when malformed."""
    m = _SET.match(text)
    if not m:
        raise InterveneArgumentError(f"--set {text!r}: expected LAYER:POS:FEATURE=VALUE")
    try:
        value = float(m.group(4))
    except ValueError:
        raise InterveneArgumentError(f"--set {text!r}: value is not a number") from None
    if not np.isfinite(value):
        raise InterveneArgumentError(f"--set {text!r}: value is not finite")
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), value


def _target_id(backend: Any, text: str) -> int:
    if text.startswith("#") and text[1:].isdigit():
        tid = int(text[1:])
    else:
        ids = backend.encode(text)
        if len(ids) != 1:
            raise InterveneArgumentError(f"--target {text!r} is {len(ids)} tokens, not one; "
                                         "use #ID")
        tid = int(ids[0])
    if not 0 <= tid < backend.vocab_size:
        raise InterveneArgumentError(f"--target {text!r}: id outside vocabulary "
                                     f"(size {backend.vocab_size})")
    return tid


def _rows(backend: Any, base: np.ndarray, patched: np.ndarray, ids: list[int]) -> list[dict[str, Any]]:
    def probs(x: np.ndarray) -> np.ndarray:
        e = np.exp(x.astype(np.float64) - x.max())
        return e / e.sum()

    pb, pp = probs(base), probs(patched)
    cb, cp = base - base.mean(), patched - patched.mean()
    names = backend.token_strings(ids)
    return [{"token": s, "id": int(i), "baseline_logit": float(base[i]),
             "baseline_prob": float(pb[i]), "patched_logit": float(patched[i]),
             "patched_prob": float(pp[i]), "delta_logit": float(patched[i] - base[i]),
             "delta_centred_logit": float(cp[i] - cb[i])} for s, i in zip(names, ids)]


def run(args: argparse.Namespace) -> int:
    from ...models.protocol import Intervention, parse_freeze

    sets = [Intervention(*parse_set(s)) for s in args.sets]
    freeze = parse_freeze(args.freeze)
    if args.top < 1:
        raise InterveneArgumentError("--top must be at least 1")
    backend = open_model_backend(args)
    targets = [_target_id(backend, t) for t in args.target]
    ids = backend.tokenize(args.prompt)
    base, patched = backend.intervene_batch(ids, [[], sets], freeze=freeze,
                                            return_activations=False)
    lb, lp = base.logits[-1], patched.logits[-1]
    top_b = [t.id for t in backend.top_tokens(lb, args.top)]
    top_p = [t.id for t in backend.top_tokens(lp, args.top)]
    report = {
        "prompt": args.prompt, "input_tokens": ids, "freeze": args.freeze,
        "interventions": [iv._asdict() for iv in sets],
        "baseline_top": _rows(backend, lb, lp, top_b),
        "patched_top": _rows(backend, lb, lp, top_p),
        "targets": _rows(backend, lb, lp, targets),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    for title, key in (("baseline", "baseline_top"), ("patched", "patched_top"),
                       ("targets", "targets")):
        if report[key]:
            print(f"{title}:")
        for r in report[key]:
            print(f"  {r['token']!r:>14} #{r['id']:<6} {r['baseline_logit']:9.4f} -> "
                  f"{r['patched_logit']:9.4f}  p {r['baseline_prob']:.4f} -> "
                  f"{r['patched_prob']:.4f}  dcentred {r['delta_centred_logit']:+.4f}")
    return 0
