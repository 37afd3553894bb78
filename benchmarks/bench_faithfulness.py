"""A faithfulness sweep of 10 node thresholds vs 20 plain forward passes, in one run.

    python benchmarks/bench_faithfulness.py [--backend torch|onnx] [--errors clean|respond]
                                            [--reps 5]

On the bundled demo (capital-france_plt graph, its model and per-layer transcoders). The
sweep tests necessity and sufficiency of the pruned circuit at 10 thresholds: 21 intervention
sets (plus the clean run), sent through ``intervene_batch`` together. The baseline is what
running them one by one would cost: 20 plain ``intervene(ids, [])`` calls. Prints the median
times and the ratio sweep / baseline (issue 18's aim: at most 0.5).
"""

from __future__ import annotations

import argparse
import statistics
import time

from circuitdesk.graph import load_graph
from circuitdesk.models.binding import graph_input_ids
from circuitdesk.models.faithfulness import run_faithfulness, threshold_circuits
from circuitdesk.models.locate import demo_dir, find_model
from circuitdesk.models.registry import open_backend

THRESHOLDS = [0.45 + 0.05 * k for k in range(10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--errors", choices=["clean", "respond"], default="clean",
                        help="error nodes held at clean values (the default) or following the model")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    graph = load_graph(demo_dir() / "graphs" / "capital-france_plt.json")
    if args.backend == "onnx":
        backend = open_backend("onnx", model_dir=demo_dir() / "transcoders-plt.onnx")
    else:
        model_dir, tc_dir = find_model(graph)
        backend = open_backend("torch", model_dir=model_dir, transcoders_dir=tc_dir)
    ids = graph_input_ids(backend, graph)
    circuits = threshold_circuits(graph, THRESHOLDS)

    def sweep() -> None:
        run_faithfulness(backend, graph, circuits, ids, batch_size=32, errors=args.errors)

    def plain() -> None:
        for _ in range(20):
            backend.intervene(ids, [], return_activations=False)

    sweep(), plain()  # warm-up
    times: dict[str, list[float]] = {"sweep": [], "plain": []}
    for _ in range(args.reps):
        for name, fn in (("sweep", sweep), ("plain", plain)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    s, p = statistics.median(times["sweep"]), statistics.median(times["plain"])
    print(f"backend {args.backend}, errors {args.errors}: {len(circuits)} thresholds, circuit sizes "
          f"{[len(c.rows) for c in circuits]}")
    print(f"sweep (21 sets + clean, batched): {s * 1000:.1f} ms")
    print(f"20 plain forward passes:          {p * 1000:.1f} ms")
    print(f"ratio sweep / 20 passes: {s / p:.2f}  (aim <= 0.5)")
    backend.close()


if __name__ == "__main__":
    main()
