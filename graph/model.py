"""The one in-memory attribution graph type.

Nodes are a columnar table (numpy arrays plus a few lists of strings) so that
pruning, layout and drawing work on whole columns. Edges are three parallel
arrays. A graph read from a circuit-tracer ``.pt`` also keeps the engine's dense
adjacency so that pruning gives the engine's exact numbers.

Invariants (:func:`invariant_problems` checks them; the loaders in ``graph/io`` establish
them or refuse the file with our own error, and everything downstream may rely on them):

- every node column has one entry per node; ``kind`` holds a :class:`NodeKind` value
  (one kind per node); ``ids`` are unique non-empty strings; ids, labels and js ids are str;
- ``layer`` is in ``[-1, MAX_LAYER]`` (embeddings -1, logits above every feature layer);
- ``position`` is in ``[0, n_positions)`` and ``n_positions <= MAX_POSITIONS``;
- ``activation`` and ``influence`` are finite or NaN (unknown), never ±inf;
- ``token_prob`` is NaN (unknown) or in ``[0, 1]``;
- ``source`` / ``target`` are int64 rows in ``[0, N)``; ``weight`` is float32, finite, with
  ``|w| <= MAX_ABS_WEIGHT`` (so that sums of a row stay finite in float32);
- ``adjacency``, when present, is a finite float32 ``[N, N]`` matrix within the same bound;
- ``metadata`` thresholds are None or in ``[0, 1]``; ``input_tokens`` is None or a list of
  ints; ``prompt_tokens`` a list of str; ``qparams`` a dict (whose contents may be anything:
  session restore repairs or ignores what it cannot use).

Degenerate graphs are valid: no nodes' kind is required (no logits, no tokens), one node,
no edges, all-zero weights, self-loops and cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

MAX_LAYER = 1_000_000
"""Largest layer number a graph may hold (real models have at most a few hundred)."""
MAX_POSITIONS = 1 << 16
"""Most token positions a graph may span (layout and axes allocate one column each)."""
MAX_ABS_WEIGHT = 1e30
"""Largest edge weight magnitude; 1e39 would already be inf in float32."""
F32_WEIGHT_BOUND = float(np.float32(MAX_ABS_WEIGHT))
"""MAX_ABS_WEIGHT as float32 rounds it (a weight of exactly 1e30 is allowed)."""


class NodeKind(IntEnum):
    """What a node stands for. The values order the kinds bottom-up in the canvas."""

    EMBEDDING = 0
    FEATURE = 1
    ERROR = 2
    LOGIT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


FEATURE_TYPE_NAMES: dict[NodeKind, str] = {
    NodeKind.FEATURE: "cross layer transcoder",
    NodeKind.ERROR: "mlp reconstruction error",
    NodeKind.EMBEDDING: "embedding",
    NodeKind.LOGIT: "logit",
}
"""The ``feature_type`` string the JSON formats use for each kind."""


@dataclass
class GraphMetadata:
    """What the graph is about. Every field may be unknown (empty / None)."""

    prompt: str = ""
    prompt_tokens: list[str] = field(default_factory=list)
    input_tokens: list[int] | None = None
    slug: str = ""
    scan: str | list[str] | None = None
    model: str = ""
    transcoder_set: str = ""
    n_layers: int | None = None
    node_threshold: float | None = None
    edge_threshold: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    """The file's metadata object as read, written back unchanged."""


@dataclass
class NodeTable:
    """Columnar node data; every column has one entry per node.

    ``feature`` is the transcoder feature index for feature nodes and -1 otherwise;
    ``vocab_id`` is the token id of embedding and logit nodes and -1 otherwise.
    Missing floats are NaN.
    """

    ids: list[str]
    file_ids: list[str]
    kind: npt.NDArray[np.int8]
    layer: IntArray
    position: IntArray
    feature: IntArray
    vocab_id: IntArray
    label: list[str]
    activation: FloatArray
    influence: FloatArray
    token_prob: FloatArray
    js_ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Graph:
    """An attribution graph.

    Attributes:
        nodes: The node table.
        source: Edge source node indices (int64).
        target: Edge target node indices (int64).
        weight: Edge weights (float32); ``weight = A[target, source]``.
        metadata: Prompt, model, scan, thresholds.
        qparams: The stored view state (``qParams``) as read.
        format: Short name of the file format it came from.
        warnings: One-line notes about oddities found while reading.
        adjacency: The engine's dense ``[N, N]`` matrix (rows are targets) when
            the graph came from a ``.pt`` file, else None.
        logit_probabilities: Probability per logit node, in node order of the
            logit nodes, when known.
        raw_nodes: The file's node objects (for writing back), or None.
        extra: Format-specific leftovers (``.pt`` fields such as ``active_features``).
    """

    nodes: NodeTable
    source: IntArray
    target: IntArray
    weight: FloatArray
    metadata: GraphMetadata = field(default_factory=GraphMetadata)
    qparams: dict[str, Any] = field(default_factory=dict)
    format: str = ""
    warnings: list[str] = field(default_factory=list)
    adjacency: FloatArray | None = None
    raw_nodes: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, int] | None = field(default=None, repr=False)
    _by_node: tuple[IntArray, IntArray, IntArray, IntArray] | None = field(
        default=None, repr=False, compare=False, init=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, init=False)

    def memo(self, key: str, make: Any) -> Any:
        """``make()``'s value, computed once per graph (a graph's nodes and edges never change
        after loading), so a worker can compute what the GUI thread would otherwise wait for."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return int(self.source.shape[0])

    def index_of(self, node_id: str) -> int:
        """Row of the node with our unique id ``node_id``; KeyError if absent."""
        if self._index is None:
            self._index = {nid: i for i, nid in enumerate(self.nodes.ids)}
        return self._index[node_id]

    def has_node(self, node_id: str) -> bool:
        try:
            self.index_of(node_id)
        except KeyError:
            return False
        return True

    def edges_of(self, row: int, *, inputs: bool = True, outputs: bool = True) -> IntArray:
        """Indices of the edges into (``inputs``) and out of (``outputs``) node ``row``.

        Ascending edge order, each edge once (a self-loop is both). The first call sorts the edges
        by node once (:meth:`index_edges`); then a hub's links cost their own count, not a
        scan of every edge (6.8M in a raw 10k-node engine graph).
        """
        by_target, in_ptr, by_source, out_ptr = self.index_edges()
        parts = []
        if inputs:
            parts.append(by_target[in_ptr[row]:in_ptr[row + 1]])
        if outputs:
            parts.append(by_source[out_ptr[row]:out_ptr[row + 1]])
        if len(parts) == 2:
            return np.union1d(parts[0], parts[1])
        return np.sort(parts[0]) if parts else np.zeros(0, np.int64)

    def index_edges(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Edges sorted by target and by source, with each node's start offsets (CSR)."""
        if self._by_node is None:
            n = self.n_nodes
            by_target = np.argsort(self.target, kind="stable")
            by_source = np.argsort(self.source, kind="stable")
            in_ptr = np.zeros(n + 1, np.int64)
            out_ptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(self.target, minlength=n), out=in_ptr[1:])
            np.cumsum(np.bincount(self.source, minlength=n), out=out_ptr[1:])
            self._by_node = (by_target, in_ptr, by_source, out_ptr)
        return self._by_node

    def kind_mask(self, kind: NodeKind) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self.nodes.kind == int(kind)
        return mask

    @property
    def n_positions(self) -> int:
        if len(self.metadata.prompt_tokens):
            return max(len(self.metadata.prompt_tokens), int(self.nodes.position.max(initial=-1)) + 1)
        return int(self.nodes.position.max(initial=-1)) + 1

    @property
    def layers(self) -> list[int]:
        """Distinct transcoder layers that feature or error nodes sit in, ascending."""
        inner = (self.nodes.kind == NodeKind.FEATURE) | (self.nodes.kind == NodeKind.ERROR)
        # a set, not np.unique: numpy 2.4's first plain np.unique imports numpy.ma (10 ms on
        # the way to the app's first frame, which needs this for the layout's rows)
        return sorted(set(self.nodes.layer[inner].tolist()))

    def kind_counts(self) -> dict[str, int]:
        counts = np.bincount(self.nodes.kind.astype(np.int64), minlength=len(NodeKind))
        return {k.label: int(counts[k]) for k in NodeKind}


def make_node_table(rows: list[dict[str, Any]]) -> NodeTable:
    """Build a table from dicts with the column names as keys (missing = default).

    Meant for tests and small programmatic graphs; loaders fill columns directly.
    """
    n = len(rows)

    def col(name: str, default: Any, dtype: Any) -> Any:
        return np.array([r.get(name, default) for r in rows], dtype=dtype).reshape(n)

    ids = [str(r["id"]) for r in rows]
    return NodeTable(
        ids=ids,
        file_ids=[str(r.get("file_id", r["id"])) for r in rows],
        kind=col("kind", int(NodeKind.FEATURE), np.int8),
        layer=col("layer", 0, np.int64),
        position=col("position", 0, np.int64),
        feature=col("feature", -1, np.int64),
        vocab_id=col("vocab_id", -1, np.int64),
        label=[str(r.get("label", "")) for r in rows],
        activation=col("activation", np.nan, np.float32),
        influence=col("influence", np.nan, np.float32),
        token_prob=col("token_prob", np.nan, np.float32),
        js_ids=[str(r.get("js_id", "")) for r in rows],
    )


def invariant_problems(graph: Graph, limit: int = 5) -> list[str]:
    """The first ``limit`` ways ``graph`` breaks the module's invariants ([] when valid).

    Vectorised: a 100k-node, 7M-edge graph takes well under a second.
    """
    problems = _node_problems(graph) + _edge_problems(graph) + _metadata_problems(graph)
    return problems[:limit]


def _node_problems(graph: Graph) -> list[str]:
    nodes, n = graph.nodes, len(graph.nodes.ids)
    out = []
    columns = ("file_ids", "kind", "layer", "position", "feature", "vocab_id", "label",
               "activation", "influence", "token_prob", "js_ids")
    bad_len = [c for c in columns if len(getattr(nodes, c)) != n
               or getattr(getattr(nodes, c), "ndim", 1) != 1]
    if bad_len:
        return [f"node columns {bad_len} do not have one entry per node"]
    if not all(type(v) is str for col in (nodes.ids, nodes.file_ids, nodes.label, nodes.js_ids)
               for v in col):
        out.append("a node id or label is not a string")
    if len(set(nodes.ids)) != n or (n and min(map(len, nodes.ids)) == 0):
        out.append("node ids are not unique and non-empty")
    if n and not np.isin(nodes.kind, [int(k) for k in NodeKind]).all():
        out.append("a node has an unknown kind")
    if n and (nodes.layer.min() < -1 or nodes.layer.max() > MAX_LAYER):
        out.append(f"a layer is outside -1..{MAX_LAYER}")
    if n and nodes.position.min() < 0:
        out.append("a token position is negative")
    if graph.n_positions > MAX_POSITIONS:
        out.append(f"{graph.n_positions} token positions (at most {MAX_POSITIONS})")
    for name in ("activation", "influence"):
        if np.isinf(getattr(nodes, name)).any():
            out.append(f"a node's {name} is infinite")
    prob = nodes.token_prob
    if ((prob < 0) | (prob > 1)).any():
        out.append("a token_prob is outside [0, 1]")
    return out


def _edge_problems(graph: Graph) -> list[str]:
    n, e = graph.n_nodes, graph.source.shape[0]
    src, dst, w = graph.source, graph.target, graph.weight
    if src.ndim != 1 or dst.shape != src.shape or w.shape != src.shape:
        return ["edge arrays do not have one entry per edge"]
    out = []
    if src.dtype != np.int64 or dst.dtype != np.int64 or w.dtype != np.float32:
        out.append("edge arrays have the wrong dtypes")
    if e and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        out.append("an edge refers to a node that does not exist")
    if not np.isfinite(w).all() or (e and float(np.abs(w).max()) > F32_WEIGHT_BOUND):
        out.append(f"an edge weight is not finite or larger than {MAX_ABS_WEIGHT:g}")
    a = graph.adjacency
    if a is not None:
        if a.shape != (n, n) or a.dtype != np.float32:
            out.append(f"adjacency is {a.dtype} {a.shape}, expected float32 ({n}, {n})")
        elif a.size and (not np.isfinite(a).all() or float(np.abs(a).max()) > F32_WEIGHT_BOUND):
            out.append(f"an adjacency entry is not finite or larger than {MAX_ABS_WEIGHT:g}")
    return out


def _metadata_problems(graph: Graph) -> list[str]:
    meta, out = graph.metadata, []
    for name in ("node_threshold", "edge_threshold"):
        value = getattr(meta, name)
        if value is not None and not (isinstance(value, float) and 0.0 <= value <= 1.0):
            out.append(f"metadata {name} is not a number in [0, 1]")
    if meta.input_tokens is not None and not all(type(t) is int for t in meta.input_tokens):
        out.append("metadata input_tokens are not all integers")
    if not all(type(t) is str for t in meta.prompt_tokens):
        out.append("metadata prompt_tokens are not all strings")
    if not isinstance(graph.qparams, dict):
        out.append("qParams is not a dict")
    return out
