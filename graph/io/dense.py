"""Build a :class:`Graph` from the engine's dense representation (FORMATS.md §1).

Used by the ``.pt`` reader and by our own tracer: node order, ids and labels follow
circuit-tracer's ``create_graph_files`` so that JSON we write matches the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .json_io import _unique_ids
from ..model import Graph, GraphMetadata, NodeKind, NodeTable


@dataclass
class DenseGraphData:
    """The engine's graph fields, as numpy arrays.

    Attributes:
        adjacency: ``[N, N]`` float32, rows are targets, columns sources.
        active_features: ``[n_active, 3]`` (layer, pos, feature_idx).
        activation_values: ``[n_active]``.
        selected_features: ``[n_sel]`` indices into ``active_features``.
        input_tokens: ``[n_pos]`` token ids (BOS included).
        logit_tokens: vocab index of each logit target.
        logit_strings: decoded string of each logit target.
        logit_probabilities: ``[n_logits]``.
        n_layers: Transcoder layers.
        token_strings: decoded prompt tokens (same length as ``input_tokens``).
    """

    adjacency: np.ndarray
    active_features: np.ndarray
    activation_values: np.ndarray
    selected_features: np.ndarray
    input_tokens: np.ndarray
    logit_tokens: Sequence[int]
    logit_strings: Sequence[str]
    logit_probabilities: np.ndarray
    n_layers: int
    prompt: str = ""
    token_strings: Sequence[str] = ()
    scan: str | list[str] | None = None
    model: str = ""
    vocab_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def edges_of(adjacency: np.ndarray, rows_per_block: int = 256
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(target, source, weight)`` of the non-zero entries, row block by row block.

    ``np.nonzero`` holds the GIL: on a 10k × 10k matrix one call froze the GUI thread for
    seconds. Blocks of rows keep each hold short, so the window stays responsive while a
    worker thread builds a large graph.
    """
    parts = []
    for start in range(0, adjacency.shape[0], rows_per_block):
        block = adjacency[start:start + rows_per_block]
        d, s = np.nonzero(block)
        parts.append((d + start, s, block[d, s]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


def graph_from_dense(data: DenseGraphData, *, fmt: str = "circuit-tracer-pt") -> Graph:
    """Nodes in engine order: selected features, errors (layer-major), tokens, logits."""
    n_layers = int(data.n_layers)
    n_pos = int(len(data.input_tokens))
    sel = np.asarray(data.selected_features, dtype=np.int64)
    feats = np.asarray(data.active_features, dtype=np.int64).reshape(-1, 3)[sel]
    n_sel, n_err, n_logit = len(sel), n_layers * n_pos, len(data.logit_tokens)
    n = n_sel + n_err + n_pos + n_logit
    adjacency = np.asarray(data.adjacency, dtype=np.float32)
    if adjacency.shape != (n, n):
        raise ValueError(f"adjacency is {adjacency.shape}, expected ({n}, {n}) for "
                         f"{n_sel} features, {n_layers} layers, {n_pos} positions, {n_logit} logits")
    err_layer, err_pos = np.divmod(np.arange(n_err, dtype=np.int64), max(n_pos, 1))
    tok = np.asarray(data.input_tokens, dtype=np.int64)
    logit_vocab = np.asarray(list(data.logit_tokens), dtype=np.int64)
    kind = np.concatenate([
        np.full(n_sel, NodeKind.FEATURE), np.full(n_err, NodeKind.ERROR),
        np.full(n_pos, NodeKind.EMBEDDING), np.full(n_logit, NodeKind.LOGIT),
    ]).astype(np.int8)
    layer = np.concatenate([feats[:, 0], err_layer, np.full(n_pos, -1),
                            np.full(n_logit, n_layers + 1)]).astype(np.int64)
    position = np.concatenate([feats[:, 1], err_pos, np.arange(n_pos),
                               np.full(n_logit, n_pos - 1)]).astype(np.int64)
    file_ids = (
        [f"{l}_{f}_{p}" for l, p, f in feats.tolist()]
        + [f"0_{l}_{p}" for l, p in zip(err_layer.tolist(), err_pos.tolist())]
        + [f"E_{t}_{p}" for p, t in enumerate(tok.tolist())]
        + [f"{n_layers + 1}_{v}_{n_pos - 1}" for v in logit_vocab.tolist()]
    )
    js_ids = (
        [f"{l}_{f}-0" for l, _p, f in feats.tolist()]
        + [f"{l}_{p}-0" for l, p in zip(err_layer.tolist(), err_pos.tolist())]
        + [f"E_{t}-{p}" for p, t in enumerate(tok.tolist())]
        + [f"L_{v}-{n_pos - 1}" for v in logit_vocab.tolist()]
    )
    probs = np.asarray(data.logit_probabilities, dtype=np.float32).reshape(-1)
    tokens = list(data.token_strings) or [str(t) for t in tok.tolist()]
    labels = ([""] * n_sel + [f"Err: mlp {tokens[p]!r}" for p in err_pos.tolist()]
              + [f"Emb: {t!r}" for t in tokens]
              + [f'Output "{s}" (p={p:.3f})' for s, p in zip(data.logit_strings, probs.tolist())])
    nan = np.full(n, np.nan, dtype=np.float32)
    activation = nan.copy()
    activation[:n_sel] = np.asarray(data.activation_values, dtype=np.float32)[sel]
    token_prob = nan.copy()
    token_prob[n - n_logit:] = probs
    kinds = [NodeKind(int(k)) for k in kind.tolist()]
    nodes = NodeTable(
        ids=_unique_ids(file_ids, kinds), file_ids=file_ids, kind=kind, layer=layer,
        position=position,
        feature=np.concatenate([feats[:, 2], np.full(n - n_sel, -1)]).astype(np.int64),
        vocab_id=np.concatenate([np.full(n_sel + n_err, -1), tok, logit_vocab]).astype(np.int64),
        label=labels, activation=activation, influence=nan.copy(), token_prob=token_prob,
        js_ids=js_ids,
    )
    dst, src, weight = edges_of(adjacency)
    metadata = GraphMetadata(
        prompt=data.prompt, prompt_tokens=tokens, input_tokens=tok.tolist(),
        scan=data.scan, model=data.model, n_layers=n_layers,
        raw={"slug": "", "scan": data.scan if isinstance(data.scan, str) else None,
             "prompt_tokens": tokens, "prompt": data.prompt, "schema_version": 1,
             "model": data.model, "input_tokens": tok.tolist()},
    )
    extra = dict(data.extra)
    extra.update(active_features=np.asarray(data.active_features),
                 activation_values=np.asarray(data.activation_values),
                 selected_features=sel, logit_probabilities=probs,
                 logit_strings=list(data.logit_strings), vocab_size=data.vocab_size)
    return Graph(
        nodes=nodes, source=src.astype(np.int64), target=dst.astype(np.int64),
        weight=weight, metadata=metadata,
        qparams={"pinnedIds": [], "supernodes": [], "linkType": "both", "clickedId": "",
                 "sg_pos": ""},
        format=fmt, adjacency=adjacency, extra=extra,
    )
