"""onnxruntime backend vs torch backend on the same replacement model, in one run.

    python benchmarks/bench_onnx.py [--model DIR --transcoders DIR] [--k 64] [--reps 20]

Uses ``resources/demo`` (model + transcoders-plt) when it is there, else builds a random
demo-sized Llama (4 layers, d_model 64, 512 features) in a temp folder. Exports it to ONNX,
then times, for both backends on the same prompt: one intervention (clean run cached, as
in a verify session), one intervention on a fresh prompt (clean run included), and a sweep of
K single-feature ablations, also with the onnx backend's opt-in ``last_position_only``
(what a caller reading ``logits[-1]`` needs; torch still returns every position there).
Prints the times, ``onnx / torch`` ratios (goal ≤ 0.5) and the largest logit difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = {"demo": "The capital of France is Paris and the opposite of small is",
           "random": "the cat sat on the mat and the dog ran to the big red house"}


def _median_times(fns: list[Callable[[], object]], reps: int) -> list[float]:
    """Median time of each function, calls interleaved so load changes hit all alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def _models(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path, str]:
    if args.model and args.transcoders:
        return Path(args.model), Path(args.transcoders), "given"
    demo = ROOT / "resources" / "demo"
    if (demo / "model" / "config.json").is_file() and (demo / "transcoders-plt").is_dir():
        return demo / "model", demo / "transcoders-plt", "demo"
    from tests.models_util import build_model, build_transcoders

    build_model(tmp / "model", n_layers=4, d_model=64)
    build_transcoders(tmp / "plt", "plt", n_layers=4, d_model=64, n_features=512, jump=True)
    return tmp / "model", tmp / "plt", "random"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--transcoders")
    ap.add_argument("--k", type=int, default=64, help="ablations in the sweep")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    ap.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args()

    from circuitdesk.models.onnx.export import export_backend
    from circuitdesk.models.protocol import Intervention
    from circuitdesk.models.registry import open_backend

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model, tcs, what = _models(args, tmp)
        tb = open_backend("torch", model_dir=model, transcoders_dir=tcs)
        t0 = time.perf_counter()
        export_backend(tb, tmp / "bench.onnx")
        export_s = time.perf_counter() - t0
        ob = open_backend("onnx", model_dir=tmp / "bench.onnx", threads=args.threads)
        ids = tb.tokenize(PROMPTS.get(what, PROMPTS["demo"]))
        acts = tb.intervene(ids, []).activations
        hot = [Intervention(int(a), int(b), int(c), 0.0) for a, b, c in np.argwhere(acts > 0)]
        one = [hot[len(hot) // 2]]
        sweep = [[hot[i % len(hot)]] for i in range(args.k)]
        names = {"demo": "resources/demo (model + transcoders-plt)",
                 "random": "random demo-sized Llama (4 x 64, 512 features)"}
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        print(f"torch threads {torch.get_num_threads()}, onnxruntime threads "
              f"{args.threads or 'default'}")
        print(f"model: {names.get(what, f'{model} + {tcs}')}; {len(ids)} tokens; export {export_s:.2f} s; "
              f"file {(tmp / 'bench.onnx').stat().st_size / 1e6:.1f} MB")

        diff = max(np.abs(a.logits - b.logits).max() for a, b in zip(
            tb.intervene_batch(ids, sweep[:8]), ob.intervene_batch(ids, sweep[:8])))
        print(f"max |logit difference| over 8 ablations: {diff:.2e}")

        # Two prompts of the same length, alternated: every call misses the clean-run cache.
        alt = [ids, [*ids[:-1], ids[-2]]]
        turn = [0]

        def fresh(b: object) -> object:
            turn[0] ^= 1
            return b.intervene(alt[turn[0]], one, return_activations=False)  # type: ignore[attr-defined]

        def last_only(b: object) -> object:
            kw = {"last_position_only": True} if b is ob else {}
            return b.intervene_batch(ids, sweep, batch_size=64, **kw)  # type: ignore[attr-defined]

        rows = []
        for name, call in (
            ("one intervention", lambda b: b.intervene(ids, one, return_activations=False)),
            ("one intervention + activations", lambda b: b.intervene(ids, one)),
            ("one intervention, fresh clean run", fresh),
            (f"sweep of {args.k} ablations",
             lambda b: b.intervene_batch(ids, sweep, batch_size=64)),
            (f"sweep of {args.k}, onnx last pos only", last_only),
        ):
            t_torch, t_onnx = _median_times([partial(call, tb), partial(call, ob)], args.reps)
            rows.append((name, t_torch, t_onnx))
        for name, t_torch, t_onnx in rows:
            print(f"{name:>36}: torch {t_torch * 1e3:8.2f} ms  onnx {t_onnx * 1e3:8.2f} ms  "
                  f"ratio onnx/torch {t_onnx / t_torch:.2f}  (goal <= 0.5)")
        ob.close()
        tb.close()


if __name__ == "__main__":
    main()
