"""Feature dashboards: building vs plain forward passes over the same token windows, one run.

    python benchmarks/bench_dashboards.py [--backend onnx|torch] [--max-tokens 3000]

On the bundled demo (its corpus, model and per-layer transcoders). The baseline runs the same
windows through the model with no activations asked for; the build also returns the feature
activations and folds them into the streaming state. Prints tokens per second of each and
the ratio build / forward (issue 19's aim: at most 1.5).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from circuitdesk.models.dashboards import build_dashboards, windows
from circuitdesk.models.locate import demo_dir
from circuitdesk.models.registry import open_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["torch", "onnx"], default="onnx")
    parser.add_argument("--max-tokens", type=int, default=3000)
    args = parser.parse_args()
    demo = demo_dir()
    if args.backend == "onnx":
        backend = open_backend("onnx", model_dir=demo / "transcoders-plt.onnx")
    else:
        backend = open_backend("torch", model_dir=demo / "model",
                               transcoders_dir=demo / "transcoders-plt")
    corpus = demo / "corpus.txt"
    runs = windows(backend, corpus, 64, args.max_tokens)
    tokens = sum(len(w) - 1 for w in runs)
    backend.intervene(runs[0], [], return_activations=False)  # warm-up
    t0 = time.perf_counter()
    for w in runs:
        backend.intervene(w, [], return_activations=False)
    forward = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build_dashboards(backend, corpus, Path(tmp) / "d.sqlite", max_tokens=args.max_tokens)
        build = time.perf_counter() - t0
    print(f"backend {args.backend}: {len(runs)} windows, {tokens} tokens, "
          f"{backend.n_layers} layers x {backend.d_transcoder} features")
    print(f"plain forward passes: {tokens / forward:9.0f} tokens/s ({forward:.2f} s)")
    print(f"dashboard build:      {tokens / build:9.0f} tokens/s ({build:.2f} s)")
    print(f"ratio build / forward: {build / forward:.2f}  (aim <= 1.5)")
    backend.close()


if __name__ == "__main__":
    main()
