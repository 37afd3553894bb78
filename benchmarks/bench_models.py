"""Speed of the torch model backend, as ratios against baselines measured in the same run.

    python benchmarks/bench_models.py [--model DIR --transcoders DIR] [--k 32]
        [--ct-python /path/to/python-with-circuit-tracer]

Without ``--model`` a tiny seeded Llama + cross-layer transcoder is built in a temp folder
(``resources/demo`` is used when it holds a model). Prints: load time; one intervention /
one plain forward (goal ≤ 1.3×); a batched sweep of K single-feature ablations / K plain
forwards (goal ≤ 0.25×); tracing time; and, when a Python with circuit-tracer is given (or
``$CIRCUITDESK_CT_PYTHON`` is set), the engine's times and the max differences.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_time(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _build(tmp: Path, d_model: int, n_layers: int, n_features: int, arch: str = "llama"
           ) -> tuple[Path, Path]:
    from tests.models_util import build_model, build_transcoders

    build_model(tmp / "model", arch=arch, n_layers=n_layers, d_model=d_model)
    # circuit-tracer maps only these hooks for Gemma (utils/tl_nnsight_mapping.py).
    hooks = ({"input_hook": "hook_resid_mid", "output_hook": "hook_mlp_out"}
             if arch.startswith("gemma") else {})
    build_transcoders(tmp / "clt", "clt", n_layers=n_layers, d_model=d_model,
                      n_features=n_features, jump=True, **hooks)
    return tmp / "model", tmp / "clt"


def _demo() -> tuple[Path, Path] | None:
    demo = ROOT / "resources" / "demo"
    model = demo / "model"
    tcs = sorted(p.parent for p in demo.glob("*/config.yaml"))
    if (model / "config.json").is_file() and tcs:
        return model, tcs[0]
    return None


def _compare(ct_python: str, model: Path, tcs: Path, backend: object, ids: list[int],
             ivs: list[list[float]], tmp: Path) -> dict[str, float]:
    from circuitdesk.models.protocol import Intervention

    req = {"ids": ids, "max_feature_nodes": None, "batch_size": 512, "interventions": ivs,
           "freezes": ["attention", "none", "all"]}
    (tmp / "req.json").write_text(json.dumps(req))
    out = tmp / "ref.npz"
    subprocess.run([ct_python, str(ROOT / "benchmarks" / "ct_reference.py"), str(model),
                    str(tcs), str(tmp / "req.json"), str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref = np.load(out)
    g = backend.trace(ids)  # type: ignore[attr-defined]
    res: dict[str, float] = {
        "engine_load_s": float(ref["load_s"]), "engine_trace_s": float(ref["trace_s"]),
        "same_tokens": float(list(ref["engine_ids"]) == list(g.input_tokens)),
        "same_active_features": float(np.array_equal(ref["active_features"], g.active_features)),
    }
    if res["same_active_features"]:
        res["max_diff_adjacency"] = float(np.abs(ref["adjacency"] - g.adjacency).max())
        res["max_abs_adjacency"] = float(np.abs(ref["adjacency"]).max())
    for mode in req["freezes"]:
        r = backend.intervene(ids, [Intervention(*iv) for iv in ivs],  # type: ignore[attr-defined]
                              freeze=mode)
        res[f"max_diff_logits_{mode}"] = float(np.abs(ref[f"logits_{mode}"] - r.logits).max())
        res[f"max_diff_acts_{mode}"] = float(np.abs(ref[f"acts_{mode}"] - r.activations).max())
        res[f"engine_intervene_{mode}_s"] = float(ref[f"time_{mode}"])
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--transcoders")
    ap.add_argument("--prompt", default="the cat sat on the mat and the dog ran to the big "
                    "red house in the old town")
    ap.add_argument("--k", type=int, default=32, help="ablations in the sweep")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--features", type=int, default=256)
    ap.add_argument("--arch", default=None, choices=["llama", "llama3", "gemma2", "gemma3", "qwen3"],
                    help="build a tiny random model of this architecture (not the demo)")
    ap.add_argument("--ct-python", default=os.environ.get("CIRCUITDESK_CT_PYTHON"))
    args = ap.parse_args()

    import torch
    from circuitdesk.models.protocol import Intervention
    from circuitdesk.models.registry import open_backend

    # One thread: on a shared, busy CPU two OpenMP threads wait on each other (20 ms per tiny
    # matmul seen here), which would drown the ratios in scheduling noise.
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.model and args.transcoders:
            model, tcs = Path(args.model), Path(args.transcoders)
        else:
            model, tcs = ((None if args.arch else _demo())
                          or _build(tmp, args.d_model, args.layers, args.features,
                                    args.arch or "llama"))
        t0 = time.perf_counter()
        b = open_backend("torch", model_dir=model, transcoders_dir=tcs)
        load_s = time.perf_counter() - t0
        ids = b.tokenize(args.prompt)
        t = torch.tensor([ids])
        rm = b.rm  # type: ignore[attr-defined]

        def plain() -> object:
            with torch.no_grad():
                return rm.forward(t, None)

        base = b.intervene(ids, [])
        layer, pos, feat = (int(x) for x in np.argwhere(base.activations > 0)[-1])
        one = [Intervention(layer, pos, feat, 0.0)]
        forward_s = _median_time(plain, args.reps)
        iv_s = _median_time(lambda: b.intervene(ids, one, return_activations=False), args.reps)

        def cold() -> object:  # first call on a prompt: the clean run rides along as row 0
            b._clean = None  # type: ignore[attr-defined]
            return b.intervene(ids, one, return_activations=False)

        iv_cold_s = _median_time(cold, args.reps)
        active = np.argwhere(base.activations > 0)[: args.k]
        sweep = [[Intervention(int(l), int(p), int(f), 0.0)] for l, p, f in active]
        k = len(sweep)
        sweep_s = _median_time(lambda: b.intervene_batch(ids, sweep, batch_size=k), 3)
        k_forward_s = forward_s * k
        t0 = time.perf_counter()
        graph = b.trace(ids)
        trace_s = time.perf_counter() - t0
        report: dict[str, object] = {
            "model": str(model), "transcoders": str(tcs), "n_pos": len(ids),
            "n_layers": b.n_layers, "d_transcoder": b.d_transcoder,
            "torch_threads": torch.get_num_threads(),
            "load_s": round(load_s, 3), "forward_ms": round(forward_s * 1e3, 3),
            "intervention_ms": round(iv_s * 1e3, 3),
            "intervention_over_forward": round(iv_s / forward_s, 3),
            "intervention_cold_over_forward": round(iv_cold_s / forward_s, 3),
            "sweep_k": k, "sweep_ms": round(sweep_s * 1e3, 3),
            "sweep_over_k_forwards": round(sweep_s / k_forward_s, 3),
            "trace_s": round(trace_s, 3), "active_features": len(graph.active_features),
        }
        if args.ct_python:
            ivs = [[layer, pos, feat, 0.0], [0, 2, 3, 2.5]]
            report["circuit_tracer"] = _compare(args.ct_python, model, tcs, b, ids, ivs, tmp)
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
