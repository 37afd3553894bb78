"""Fuzz load_graph and everything after it with generated bad inputs (issue 14).

    python benchmarks/fuzz_load.py --inputs 10000 --seed 1

Each input is a mutated JSON graph (hostile values in node, link, metadata and qParams fields),
a bit-flipped, cut or spliced JSON or ``.pt`` file, a ``.pt`` re-saved with a hostile field
(meta, sparse, quantized and nested tensors, huge ids, wrong dtypes, long names) or a hand-made
archive whose declared sizes lie. Every input is loaded; a loaded graph then goes through
prune, scores, layout, session restore and SVG export (tests/badinput.py ``pipeline``).

Prints how many inputs loaded, how many were refused with our error, how many refusals came
from the last-resort net in load_graph ("a bug in CircuitDesk"), and every other exception type
by stage, with the index of its first input (rerun with ``--only INDEX`` to reproduce it).
Not run in CI: 10,000 inputs take several minutes on two cores.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson
from circuitdesk.graph.errors import GraphLoadError
from circuitdesk.graph.io.load import load_graph

from tests import badinput as bi

FIXTURE_JSON = sorted(bi.DATA.glob("*.json"))
FIXTURE_PT = sorted(bi.DATA.glob("*.pt"))


class Outcome(NamedTuple):
    kind: str  # "loaded", "refused", "net", "escape-load", "escape-after"
    detail: str


def _engine_classes() -> tuple[type, type]:
    """Classes pickled under circuit-tracer's qualified names, as real files have them."""
    targets = types.ModuleType("circuit_tracer.attribution.targets")
    mapping = types.ModuleType("circuit_tracer.utils.tl_nnsight_mapping")
    logit = NamedTuple("LogitTarget", [("token_str", str), ("vocab_idx", Any)])
    logit.__module__ = targets.__name__
    config = type("UnifiedConfig", (), {"__module__": mapping.__name__})
    targets.LogitTarget, mapping.UnifiedConfig = logit, config  # type: ignore[attr-defined]
    for name in ("circuit_tracer", "circuit_tracer.attribution", "circuit_tracer.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[targets.__name__], sys.modules[mapping.__name__] = targets, mapping
    return logit, config


class PtMaker:
    """Re-saves the .pt fixture with one field replaced by a hostile value."""

    def __init__(self) -> None:
        import torch
        from circuitdesk.graph.io.pt_io import _torch_load

        self.torch = torch
        self.logit_cls, self.config_cls = _engine_classes()
        self.base = _torch_load(torch, FIXTURE_PT[-1])  # ct050 (current layout)

    def _config(self, **changes: Any) -> Any:
        cfg = self.config_cls()
        cfg.__dict__.update(self.base["cfg"].__dict__)
        cfg.__dict__.update(changes)
        return cfg

    def make(self, path: Path, rng: random.Random) -> None:
        torch = self.torch
        d = dict(self.base)
        d["cfg"] = self._config()
        d["logit_targets"] = [self.logit_cls(t.token_str, t.vocab_idx) for t in d["logit_targets"]]
        key = rng.choice(["adjacency_matrix", "active_features", "selected_features",
                          "activation_values", "input_tokens", "logit_probabilities",
                          "logit_targets", "cfg", "scan", "input_string"])
        d[key] = self._hostile(key, d[key], rng)
        try:
            torch.save(d, path)
        except (RecursionError, RuntimeError, TypeError, ValueError):  # cannot be pickled
            d[key] = "x"
            torch.save(d, path)

    def _hostile(self, key: str, value: Any, rng: random.Random) -> Any:
        torch = self.torch
        if key == "cfg":
            field = rng.choice(["n_layers", "tokenizer_name", "model_name", "d_vocab"])
            return self._config(**{field: bi.hostile_value(rng) if rng.random() < 0.5 else
                                   rng.choice(["x" * 5000, "a\0b", 1 << 80, -3, 0, 10**6])})
        if key == "logit_targets":
            vocab = rng.choice([1 << 63, 1 << 64, -(1 << 70), -1, 10**30, 5])
            return [self.logit_cls("x", vocab)] * len(value)
        if key in ("scan", "input_string"):
            return bi.hostile_value(rng)
        t = value if isinstance(value, torch.Tensor) else torch.zeros(3)
        options = [
            lambda: t.to("meta"),
            lambda: t.float().to_sparse() if t.dim() else t,
            lambda: torch.quantize_per_tensor(t.float(), 0.1, 0, torch.quint8),
            lambda: torch.nested.nested_tensor([t.float().flatten(), t.float().flatten()[:1]]),
            lambda: t.to(torch.complex64),
            lambda: t.float() + 0.5,
            lambda: t.to(torch.float16),
            lambda: t * 0 - (1 << 40) if not t.is_floating_point() else t * 1e30,
            lambda: t.flatten(),
            lambda: t.unsqueeze(0),
            lambda: t[: max(t.shape[0] - 1, 0)] if t.dim() else t,
            lambda: torch.full_like(t.float(), float("nan")),
            lambda: torch.full_like(t.float(), -0.5),
            lambda: torch.zeros(1).expand(1000),
            lambda: bi.hostile_value(rng),
        ]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rng.choice(options)()


class _Payload:
    """Creates ``marker`` (or ``marker``.npy) if anything ever calls what it pickles."""

    def __init__(self, how: str, marker: Path) -> None:
        self.how, self.marker = how, str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        import builtins
        import os
        import subprocess

        import numpy as np

        m = self.marker
        return {
            "system": (os.system, (f"touch {m}",)),
            "eval": (builtins.eval, (f"open({m!r}, 'w').close()",)),
            "exec": (builtins.exec, (f"open({m!r}, 'w').close()",)),
            "open": (builtins.open, (m, "w")),
            "subprocess": (subprocess.call, (["touch", m],)),
            "numpy": (np.save, (m, np.zeros(1))),
        }[self.how]


def hostile_pt(path: Path, rng: random.Random, marker: Path, pt: PtMaker | None) -> None:
    """A real-looking graph (or bare pickle) with a code-running payload somewhere in it."""
    import pickle

    payload = _Payload(rng.choice(["system", "eval", "exec", "open", "subprocess", "numpy"]),
                       marker)
    if pt is None or rng.random() < 0.2:
        path.write_bytes(pickle.dumps({"cfg": payload}, protocol=rng.choice([2, 4, 5])))
        return
    d = dict(pt.base)
    d["cfg"] = pt._config()
    d["logit_targets"] = [pt.logit_cls(t.token_str, t.vocab_idx) for t in d["logit_targets"]]
    where = rng.choice(["cfg", "top", "logit_targets", "scan", "nested"])
    if where == "logit_targets":
        d[where] = [*d[where], payload]
    elif where == "nested":
        d["scan"] = [[{"x": payload}]]
    else:
        d[where if where != "top" else "extra"] = payload
    pt.torch.save(d, path)


def crafted_pt(path: Path, rng: random.Random) -> None:
    """A hand-made archive whose pickle declares sizes the records do not hold."""
    n = rng.choice([2, 1000, 100_000])
    kind = rng.choice(["FloatStorage", "ByteStorage", "LongStorage", "HalfStorage"])
    declared = rng.choice([n * n, 4, 10**10, 1 << 40])
    storage = bi.Storage("0", declared, kind, rng.choice(["cpu", "cpu", "meta", "cuda:0"]))
    stride = rng.choice([None, (0, 0), (n, 1), (1 << 40, 1)])
    tensor = bi.TensorSpec(storage, (n, n), stride, offset=rng.choice([0, 0, 5, 1 << 50]))
    obj = {"adjacency_matrix": tensor, "active_features": tensor, "input_tokens": tensor}
    bi.craft_pt(path, obj, {"0": b"\0" * rng.choice([0, 16, 4096])})


def input_kind(rng: random.Random) -> str:
    return rng.choices(["json", "json_fixture", "json_bytes", "pt_bytes", "pt_field",
                        "pt_crafted", "qparams", "pt_hostile"], [33, 8, 10, 18, 12, 5, 9, 5])[0]


def make_input(i: int, seed: int, folder: Path, pt: PtMaker | None,
               docs: dict[str, Any]) -> tuple[Path, Any]:
    """Write input ``i`` of the run; returns its path and the qParams to restore with."""
    rng = random.Random(f"{seed}:{i}")
    kind = input_kind(rng)
    qparams = None
    path = folder / f"in{i % 50}.json"
    if kind == "json":
        data = bi.to_json_bytes(bi.mutate_doc(docs["mini"], rng, rng.randint(1, 3)))
    elif kind == "json_fixture":
        name = rng.choice(sorted(k for k in docs if k != "mini"))
        data = bi.to_json_bytes(bi.mutate_doc(docs[name], rng, rng.randint(1, 2)))
    elif kind == "json_bytes":
        data = bi.mutate_bytes(bi.to_json_bytes(docs["mini"]), rng)
    elif kind == "qparams":
        name = rng.choice(sorted(docs))
        data = bi.to_json_bytes(docs[name])
        q = bi.mutate_doc({"qParams": {"circuitdesk": {}}}, rng, rng.randint(1, 4))
        qparams = q.get("qParams") if isinstance(q, dict) else q
    else:
        path = folder / f"in{i % 50}.pt"
        if kind == "pt_bytes" or pt is None:
            data = bi.mutate_bytes(rng.choice(FIXTURE_PT).read_bytes(), rng)
        elif kind == "pt_field":
            pt.make(path, rng)
            return path, None
        elif kind == "pt_hostile":
            hostile_pt(path, rng, folder / "PWNED", pt)
            return path, None
        else:
            crafted_pt(path, rng)
            return path, None
    path.write_bytes(data)
    return path, qparams


def run_one(path: Path, qparams: Any) -> Outcome:
    try:
        graph = load_graph(path)
    except GraphLoadError as exc:
        if "bug in CircuitDesk" in str(exc):
            return Outcome("net", f"{type(exc.__cause__).__name__}: {exc}")
        return Outcome("refused", type(exc).__name__)
    except Exception as exc:
        return Outcome("escape-load", f"{type(exc).__name__}: {_tail(exc)}")
    try:
        bi.pipeline(graph, qparams)
    except Exception as exc:
        return Outcome("escape-after", f"{type(exc).__name__}: {_tail(exc)}")
    return Outcome("loaded", "")


def _tail(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    try:
        text = str(exc)[:160]
    except Exception:
        text = ""
    return f"{text} [{where}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", type=int, default=None, help="run input INDEX only, verbosely")
    args = ap.parse_args(argv)
    try:
        pt: PtMaker | None = PtMaker()
    except ImportError:
        pt = None
    docs = {"mini": bi.mini_doc()}
    docs.update({p.stem: orjson.loads(p.read_bytes()) for p in FIXTURE_JSON})
    counts: collections.Counter[str] = collections.Counter()
    escapes: dict[str, tuple[int, str]] = {}
    indices = [args.only] if args.only is not None else range(args.inputs)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in indices:
            path, qparams = make_input(i, args.seed, Path(tmp), pt, docs)
            outcome = run_one(path, qparams)
            if any(Path(tmp).glob("PWNED*")):  # a payload ran: the worst outcome of all
                outcome = Outcome("escape-load", f"PAYLOAD EXECUTED by {path.name}")
                for f in Path(tmp).glob("PWNED*"):
                    f.unlink()
            counts[outcome.kind] += 1
            counts["kind " + input_kind(random.Random(f"{args.seed}:{i}"))] += 1
            if outcome.kind.startswith("escape") or outcome.kind == "net":
                key = f"{outcome.kind} {outcome.detail.split(':')[0]}"
                counts[key] += 1
                escapes.setdefault(key, (i, outcome.detail))
            if args.only is not None:
                print(path, outcome)
    total = sum(counts[k] for k in ("loaded", "refused", "net", "escape-load", "escape-after"))
    print(f"inputs {total}  seed {args.seed}  {time.perf_counter() - t0:.0f} s")
    for k in ("loaded", "refused", "net", "escape-load", "escape-after"):
        print(f"  {k:13s} {counts[k]}")
    print("  by kind: " + ", ".join(f"{k[5:]} {v}" for k, v in sorted(counts.items())
                                     if k.startswith("kind ")))
    for key, (i, detail) in sorted(escapes.items()):
        print(f"  {key}: {counts[key]} (first: input {i}) {detail[:200]}")
    return 1 if any(k.startswith(("escape", "net")) for k in escapes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
