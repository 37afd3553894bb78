"""Time load_graph on JSON against a bare ``orjson.loads`` of the same bytes.

    python benchmarks/bench_load.py

Uses the largest JSON fixture in tests/data and synthetic 5k-node / 100k-link and 10k-node /
400k-link files written to a temporary folder. Prints the best of a few runs and the ratio (goal:
at most 1.5x), and the longest time the GIL was held during each (graph/io/json_slices.py).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from circuitdesk.graph.io.load import load_graph

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def synthetic(path: Path, n_nodes: int = 5000, n_links: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    nodes = [{"node_id": f"{i % 20}_{i}_{i % 30}", "feature": i, "layer": str(i % 20),
              "ctx_idx": i % 30, "feature_type": "cross layer transcoder", "token_prob": 0.0,
              "is_target_logit": False, "run_idx": 0, "reverse_ctx_idx": 0,
              "jsNodeId": f"{i % 20}_{i}-0", "clerp": f"feature {i}", "influence": 0.5,
              "activation": 1.0} for i in range(n_nodes)]
    src = rng.integers(0, n_nodes, n_links)
    dst = rng.integers(0, n_nodes, n_links)
    links = [{"source": nodes[s]["node_id"], "target": nodes[t]["node_id"],
              "weight": float(w)} for s, t, w in zip(src, dst, rng.standard_normal(n_links))]
    doc = {"metadata": {"slug": "synthetic", "prompt_tokens": [], "prompt": ""},
           "qParams": {}, "nodes": nodes, "links": links}
    path.write_bytes(orjson.dumps(doc))


def compare(path: Path) -> None:
    from bench_stalls import held

    data = path.read_bytes()
    bare = best(lambda: orjson.loads(data))
    ours = best(lambda: load_graph(path))
    print(f"{path.name}: {len(data) / 2**20:.1f} MiB, orjson.loads {bare * 1e3:.1f} ms, "
          f"load_graph {ours * 1e3:.1f} ms, ratio {ours / bare:.2f}x")
    # the longest the GIL was held (a 2 ms heartbeat thread's longest wait): the GUI stall
    bare_gil = min(held(lambda: orjson.loads(data))[1] for _ in range(3))
    ours_gil = min(held(lambda: load_graph(path))[1] for _ in range(3))
    print(f"    GIL held up to: orjson.loads {bare_gil * 1e3:.0f} ms, load_graph "
          f"{ours_gil * 1e3:.0f} ms (links parsed in slices), ratio {ours_gil / bare_gil:.2f}x")


def main() -> None:
    largest = max(DATA.glob("*.json"), key=lambda p: p.stat().st_size
                  if not p.name.endswith(".expected.json") else 0)
    compare(largest)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_5k_100k.json"
        synthetic(path)
        compare(path)
        path = Path(tmp) / "synthetic_10k_400k.json"
        synthetic(path, 10_000, 400_000)
        compare(path)


if __name__ == "__main__":
    main()
