"""Time CircuitDesk's prune against circuit-tracer's prune_graph on one synthetic dense graph.

    python benchmarks/bench_prune.py [--nodes 10000] [--layers 16] [--positions 40]

Run it with a Python that has both circuitdesk and circuit-tracer installed (e.g. /work/ctvenv
after ``pip install -e .``); without circuit-tracer only our side runs. Prints both times, the
ratio, whether masks are identical (and how many entries differ), and peak memory: ours from
tracemalloc (numpy allocations), the engine's as the peak RSS growth of a forked child.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
import tracemalloc

import numpy as np

from circuitdesk.graph.io.dense import DenseGraphData, graph_from_dense
from circuitdesk.graph.analysis.prune import prune


def synthetic(n: int, n_layers: int, n_pos: int, n_logits: int = 10, seed: int = 0
              ) -> DenseGraphData:
    """Engine-shaped graph: edges only from lower layers and earlier-or-same positions."""
    rng = np.random.default_rng(seed)
    n_sel = n - n_layers * n_pos - n_pos - n_logits
    layer = np.sort(rng.integers(0, n_layers, n_sel))
    pos = rng.integers(1, n_pos, n_sel)
    order = np.lexsort((pos, layer))
    layer, pos = layer[order], pos[order]
    active = np.stack([layer, pos, np.arange(n_sel)], 1).astype(np.int64)
    node_layer = np.concatenate([layer, np.repeat(np.arange(n_layers), n_pos),
                                 np.full(n_pos, -1), np.full(n_logits, n_layers)])
    node_pos = np.concatenate([pos, np.tile(np.arange(n_pos), n_layers), np.arange(n_pos),
                               np.full(n_logits, n_pos - 1)])
    adjacency = np.zeros((n, n), np.float32)
    feature_or_logit = np.r_[np.arange(n_sel), np.arange(n - n_logits, n)]
    for start in range(0, feature_or_logit.size, 512):
        rows = feature_or_logit[start:start + 512]
        allowed = (node_layer[rows, None] > node_layer[None, :]) & \
                  (node_pos[rows, None] >= node_pos[None, :])
        allowed[:, n - n_logits:] = False
        allowed &= rng.random(allowed.shape, dtype=np.float32) < 0.3
        values = rng.standard_normal(allowed.shape, dtype=np.float32) * \
            np.exp(rng.standard_normal(allowed.shape, dtype=np.float32) * 1.5)
        adjacency[rows] = np.where(allowed, values, 0)
    probs = np.sort(rng.dirichlet(np.ones(n_logits)))[::-1].astype(np.float32) * 0.95
    return DenseGraphData(
        adjacency=adjacency, active_features=active,
        activation_values=rng.random(n_sel).astype(np.float32),
        selected_features=np.arange(n_sel), input_tokens=np.arange(n_pos) + 2,
        logit_tokens=list(range(n_logits)), logit_strings=[""] * n_logits,
        logit_probabilities=probs, n_layers=n_layers)


def _engine_child(data: DenseGraphData, node_t: float, edge_t: float, conn) -> None:
    import torch
    from circuit_tracer.attribution.targets import LogitTarget
    from circuit_tracer.graph import Graph, prune_graph
    from circuit_tracer.utils.tl_nnsight_mapping import UnifiedConfig

    rss0 = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
    cfg = UnifiedConfig(n_layers=data.n_layers, d_model=1, d_head=1, n_heads=1, d_mlp=1,
                        d_vocab=1000, tokenizer_name="", model_name="",
                        original_architecture="")
    g = Graph(input_string="", input_tokens=torch.tensor(data.input_tokens),
              active_features=torch.tensor(data.active_features),
              adjacency_matrix=torch.from_numpy(data.adjacency), cfg=cfg,
              selected_features=torch.tensor(data.selected_features),
              activation_values=torch.tensor(data.activation_values),
              logit_targets=[LogitTarget("", i) for i in data.logit_tokens],
              logit_probabilities=torch.tensor(data.logit_probabilities), scan="bench")
    t0 = time.perf_counter()
    node_mask, edge_mask, cum = prune_graph(g, node_t, edge_t)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    dst, src = edge_mask.nonzero(as_tuple=True)
    conn.send((seconds, peak, node_mask.numpy(), dst.numpy(), src.numpy(), cum.numpy()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--positions", type=int, default=40)
    ap.add_argument("--node-threshold", type=float, default=0.8)
    ap.add_argument("--edge-threshold", type=float, default=0.98)
    args = ap.parse_args()
    data = synthetic(args.nodes, args.layers, args.positions)
    graph = graph_from_dense(data)
    print(f"graph: {graph.n_nodes} nodes, {graph.n_edges} non-zero edges")
    tracemalloc.start()
    t0 = time.perf_counter()
    ours = prune(graph, args.node_threshold, args.edge_threshold)
    ours_s = time.perf_counter() - t0
    ours_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"circuitdesk prune: {ours_s:.2f} s, peak {ours_peak / 2**20:.0f} MiB (tracemalloc), "
          f"{int(ours.node_mask.sum())} nodes / {int(ours.edge_mask.sum())} edges kept")
    try:
        import circuit_tracer  # noqa: F401
    except ImportError:
        print("circuit_tracer is not importable: engine comparison skipped")
        return
    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_engine_child,
                                          args=(data, args.node_threshold, args.edge_threshold,
                                                child))
    proc.start()
    eng_s, eng_peak, node_mask, dst, src, cum = parent.recv()
    proc.join()
    print(f"circuit-tracer prune_graph: {eng_s:.2f} s, peak RSS growth {eng_peak / 2**20:.0f} MiB")
    print(f"speed-up: {eng_s / ours_s:.1f}x")
    kept = set(zip(graph.target[ours.edge_mask].tolist(), graph.source[ours.edge_mask].tolist()))
    engine = set(zip(dst.tolist(), src.tolist()))
    node_diff = int((node_mask != ours.node_mask).sum())
    print(f"node masks identical: {node_diff == 0} ({node_diff} differ); "
          f"edge masks identical: {kept == engine} ({len(kept ^ engine)} differ of "
          f"{len(engine)} engine-kept); max |cumulative diff| "
          f"{float(np.abs(cum - ours.cumulative_scores).max()):.2e}")


if __name__ == "__main__":
    main()
