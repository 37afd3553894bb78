"""Write the small circuit-tracer ``.pt`` fixtures and the engine's own prune results for them.

Run with a Python that has circuit-tracer installed (never CircuitDesk's venv), from this folder::

    python3.11 -m venv /work/ctvenv
    /work/ctvenv/bin/pip install torch==2.13.0 circuit-tracer==0.5.0
    /work/ctvenv/bin/python tests/data/make_pt_fixtures.py

Running a model is too heavy for a fixture, so each graph is built by hand from small random
tensors shaped like the engine's (FORMATS.md §1: features sorted by (layer, pos, feature), no
features at BOS, edges only from lower layers / earlier positions, logit columns zero) and then
written by the engine's own serialiser:

* ``ct050_small.pt``: circuit-tracer 0.5.0 ``Graph.to_pt`` (``logit_targets`` as ``LogitTarget``
  records, one of them a virtual index ≥ vocab_size; ``cfg`` a ``UnifiedConfig``).
* ``ct010_small.pt``: the safety-research v0.1.0 layout: its ``Graph.to_pt`` is a plain
  ``torch.save`` of a dict with a ``logit_tokens`` tensor and the TransformerLens
  ``HookedTransformerConfig``. That dict is written here with ``torch.save`` and a real
  ``HookedTransformerConfig`` (transformer-lens 3.2.1), pickled under TransformerLens 2.x's module
  path ``transformer_lens.HookedTransformerConfig`` as v0.1.0 (which required TL 2.x) wrote it.

For each, ``<name>.expected.json`` holds circuit-tracer 0.5.0's ``prune_graph`` masks and
cumulative scores for a few threshold pairs, and ``compute_graph_scores`` (v0.1.0's prune_graph is
the same code; it is run on an equivalent 0.5.0 Graph).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from circuit_tracer.attribution.targets import LogitTarget
from circuit_tracer.graph import Graph, compute_graph_scores, prune_graph
from circuit_tracer.utils.tl_nnsight_mapping import UnifiedConfig

HERE = Path(__file__).parent
THRESHOLDS = [(0.8, 0.98), (0.5, 0.9), (0.95, 0.995), (1.0, 1.0), (0.0, 0.0)]


def random_engine_graph(seed: int, n_layers: int, n_pos: int, n_active: int, n_sel: int,
                        n_logits: int) -> dict[str, torch.Tensor]:
    """Tensors shaped and structured like an attribution of a small transcoder model."""
    rng = np.random.default_rng(seed)
    keys = set()
    while len(keys) < n_active:
        keys.add((int(rng.integers(n_layers)), int(rng.integers(1, n_pos)), int(rng.integers(500))))
    active = np.array(sorted(keys), dtype=np.int64)
    selected = np.sort(rng.choice(n_active, size=n_sel, replace=False)).astype(np.int64)
    feats = active[selected]
    n_err, n = n_layers * n_pos, n_sel + n_layers * n_pos + n_pos + n_logits
    layer = np.concatenate([feats[:, 0], np.repeat(np.arange(n_layers), n_pos),
                            np.full(n_pos, -1), np.full(n_logits, n_layers)])
    pos = np.concatenate([feats[:, 1], np.tile(np.arange(n_pos), n_layers), np.arange(n_pos),
                          np.full(n_logits, n_pos - 1)])
    # A feature's pre-activation at layer l only sees outputs of layers < l at positions <= its
    # own; logits see everything. Heavy-tailed weights, about half of the allowed edges zero.
    allowed = (layer[:, None] > layer[None, :]) & (pos[:, None] >= pos[None, :])
    allowed[n_sel:n_sel + n_err + n_pos] = False          # error and token rows are zero
    allowed[:, n - n_logits:] = False                      # logit columns are zero
    weights = rng.standard_t(2, size=(n, n)) * np.exp(rng.normal(0, 1.5, size=(n, n)))
    weights[rng.random((n, n)) < 0.5] = 0
    adjacency = torch.tensor(np.where(allowed, weights, 0.0), dtype=torch.float32)
    probs = np.sort(rng.dirichlet(np.ones(n_logits)) * 0.95)[::-1].copy()
    tokens = np.concatenate([[2], rng.integers(3, 1000, size=n_pos - 1)])
    return {
        "active_features": torch.tensor(active),
        "selected_features": torch.tensor(selected),
        "activation_values": torch.tensor(rng.gamma(2.0, 2.0, size=n_active), dtype=torch.float32),
        "adjacency_matrix": adjacency,
        "input_tokens": torch.tensor(tokens, dtype=torch.int64),
        "logit_probabilities": torch.tensor(probs, dtype=torch.float32),
    }


def expected(graph: Graph) -> dict[str, object]:
    runs = []
    for node_t, edge_t in THRESHOLDS:
        node_mask, edge_mask, cumulative = prune_graph(graph, node_t, edge_t)
        dst, src = edge_mask.nonzero(as_tuple=True)
        runs.append({
            "node_threshold": node_t, "edge_threshold": edge_t,
            "node_mask": node_mask.nonzero().flatten().tolist(),
            "edge_mask": [dst.tolist(), src.tolist()],
            "cumulative_scores": cumulative.tolist(),
        })
    replacement, completeness = compute_graph_scores(graph)
    return {"engine": "circuit-tracer 0.5.0", "n_nodes": graph.adjacency_matrix.shape[0],
            "replacement_score": replacement, "completeness_score": completeness, "runs": runs}


def make_current() -> None:
    t = random_engine_graph(seed=1, n_layers=4, n_pos=8, n_active=150, n_sel=120, n_logits=4)
    vocab = 1000
    cfg = UnifiedConfig(n_layers=4, d_model=64, d_head=16, n_heads=4, d_mlp=256, d_vocab=vocab,
                        tokenizer_name="/nonexistent/tiny-tokenizer", model_name="tiny-test-model",
                        original_architecture="LlamaForCausalLM", n_key_value_heads=2,
                        dtype=torch.float32)
    targets = [LogitTarget(" Paris", 501), LogitTarget(" London", 77), LogitTarget(" the", 8),
               LogitTarget("logit(x)-logit(y)", vocab + 3)]
    graph = Graph(input_string="The capital of France is", cfg=cfg, logit_targets=targets,
                  scan="test-scan/tiny", vocab_size=vocab, **t)
    graph.to_pt(str(HERE / "ct050_small.pt"))
    (HERE / "ct050_small.expected.json").write_text(json.dumps(expected(graph)))


def make_v010() -> None:
    from transformer_lens import HookedTransformerConfig

    t = random_engine_graph(seed=2, n_layers=3, n_pos=6, n_active=70, n_sel=70, n_logits=3)
    cfg = HookedTransformerConfig(n_layers=3, d_model=32, n_ctx=64, d_head=8, n_heads=4,
                                  d_mlp=128, d_vocab=1000, act_fn="gelu",
                                  tokenizer_name="/nonexistent/tiny-tokenizer", model_name="tiny")
    logit_tokens = torch.tensor([11, 402, 9], dtype=torch.int64)
    d = {"input_string": "one two three four five", "adjacency_matrix": t["adjacency_matrix"],
         "cfg": cfg, "active_features": t["active_features"], "logit_tokens": logit_tokens,
         "logit_probabilities": t["logit_probabilities"], "input_tokens": t["input_tokens"],
         "selected_features": t["selected_features"],
         "activation_values": t["activation_values"], "scan": "test-scan/v010"}
    # v0.1.0 needed TransformerLens 2.x, where the class lived in this module.
    old_module = HookedTransformerConfig.__module__
    alias = types.ModuleType("transformer_lens.HookedTransformerConfig")
    alias.HookedTransformerConfig = HookedTransformerConfig  # type: ignore[attr-defined]
    sys.modules[alias.__name__] = alias
    HookedTransformerConfig.__module__ = alias.__name__
    try:
        torch.save(d, HERE / "ct010_small.pt")
    finally:
        HookedTransformerConfig.__module__ = old_module
    graph = Graph(input_string=d["input_string"], cfg=cfg,
                  logit_targets=[LogitTarget("", int(i)) for i in logit_tokens.tolist()],
                  scan=d["scan"], **t)
    (HERE / "ct010_small.expected.json").write_text(json.dumps(expected(graph)))


if __name__ == "__main__":
    make_current()
    make_v010()
    for p in sorted(HERE.glob("ct0*")):
        print(p.name, p.stat().st_size)
