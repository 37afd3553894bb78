"""The one in-memory attribution graph type.

Nodes are a columnar table (numpy arrays plus a few lists of strings) so that
pruning, layout and drawing work on whole columns. Edges are three parallel
arrays. A graph read from a circuit-tracer ``.pt`` also keeps the engine's dense
adjacency so that pruning gives the engine's exact numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


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
        return sorted({int(v) for v in np.unique(self.nodes.layer[inner])})

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
