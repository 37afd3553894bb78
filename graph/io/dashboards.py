"""Feature dashboards on disk: one SQLite file per model + transcoders (no model needed to read).

Written by :mod:`circuitdesk.models.dashboards`. Holds, for every feature: its top-k
activating contexts (token window around the strongest token, with that feature's
activation at each token), a histogram of its positive activations, how often it fires, and
an automatic label made of its top activating tokens. The streaming state is kept in the same
file, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import io
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..model import Graph, NodeKind

HIST_EDGES = np.logspace(-3, 3, 25)
"""Histogram bin edges of positive activations (log-spaced, 1e-3 … 1e3; values outside are
counted in the first / last bin)."""
DB_NAME = "circuitdesk-dashboards.sqlite"


def _blob(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _array(b: bytes) -> np.ndarray:
    array: np.ndarray = np.load(io.BytesIO(b), allow_pickle=False)
    return array


@dataclass(frozen=True)
class Context:
    value: float
    tokens: list[str]
    activations: list[float]
    peak: int
    """Index in ``tokens`` of the strongest token."""


@dataclass(frozen=True)
class Dashboard:
    layer: int
    feature: int
    contexts: list[Context]
    histogram: list[int]
    edges: list[float]
    density: float
    """Share of the corpus's tokens on which the feature fires."""
    label: str


class DashboardDB:
    """Read and write a dashboards file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE IF NOT EXISTS arrays (name TEXT PRIMARY KEY, data BLOB)")
        db.execute("CREATE TABLE IF NOT EXISTS contexts (id INTEGER PRIMARY KEY, tokens TEXT)")
        return db

    def meta(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        with self.connect() as db:
            return {k: orjson.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}

    def arrays(self) -> dict[str, np.ndarray]:
        with self.connect() as db:
            return {k: _array(v) for k, v in db.execute("SELECT name, data FROM arrays")}

    def save(self, meta: dict[str, Any], arrays: dict[str, np.ndarray],
             contexts: dict[int, list[str]]) -> None:
        """One transaction: the state after some windows, and the new contexts."""
        with self.connect() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [(k, orjson.dumps(v).decode()) for k, v in meta.items()])
            db.executemany("INSERT OR REPLACE INTO arrays VALUES (?, ?)",
                           [(k, _blob(v)) for k, v in arrays.items()])
            db.executemany("INSERT OR REPLACE INTO contexts VALUES (?, ?)",
                           [(k, orjson.dumps(v).decode()) for k, v in contexts.items()])

    def _tokens(self, db: sqlite3.Connection, ids: list[int]) -> dict[int, list[str]]:
        marks = ",".join("?" * len(ids))
        return {k: orjson.loads(v) for k, v in db.execute(
            f"SELECT id, tokens FROM contexts WHERE id IN ({marks})", ids)} if ids else {}

    def dashboard(self, layer: int, feature: int) -> Dashboard | None:
        """One feature's dashboard; None when the file has no such feature."""
        meta = self.meta()
        if not meta or not (0 <= layer < meta["n_layers"] and 0 <= feature < meta["d_transcoder"]):
            return None
        a = self.arrays()
        vals, ctx, pos = a["top_val"][layer, feature], a["top_ctx"][layer, feature], \
            a["top_pos"][layer, feature]
        acts = a["top_acts"][layer, feature]
        keep = np.isfinite(vals) & (vals > 0)
        with self.connect() as db:
            tokens = self._tokens(db, sorted({int(c) for c in ctx[keep]}))
        half = acts.shape[-1] // 2
        contexts = []
        for v, c, p, row in zip(vals[keep], ctx[keep], pos[keep], acts[keep]):
            toks = tokens.get(int(c), [])
            lo = max(0, int(p) - half)
            hi = min(len(toks), int(p) + half + 1)
            snippet = row[half - (int(p) - lo): half + (hi - int(p))]
            contexts.append(Context(float(v), toks[lo:hi], [float(x) for x in snippet], int(p) - lo))
        n_tokens = max(int(meta.get("n_tokens", 0)), 1)
        return Dashboard(layer, feature, contexts, [int(x) for x in a["hist"][layer, feature]],
                         [float(e) for e in HIST_EDGES], float(a["fired"][layer, feature]) / n_tokens,
                         self.labels().get((layer, feature), ""))

    def labels(self) -> dict[tuple[int, int], str]:
        """Automatic labels, (layer, feature) → label (written when a build finishes)."""
        if not self.path.is_file():
            return {}
        with self.connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS labels (layer INTEGER, feature INTEGER, "
                       "label TEXT, PRIMARY KEY (layer, feature))")
            return {(lay, f): t for lay, f, t in db.execute("SELECT layer, feature, label FROM labels")}

    def write_labels(self) -> int:
        """Label every feature that fired by its most common top activating tokens."""
        a = self.arrays()
        vals, ctx, pos = a["top_val"], a["top_ctx"], a["top_pos"]
        layers, feats = np.nonzero(np.isfinite(vals[..., 0]) & (vals[..., 0] > 0))
        with self.connect() as db:
            tokens = self._tokens(db, sorted({int(c) for c in np.unique(ctx[layers, feats])}))
            rows = []
            for lay, f in zip(layers.tolist(), feats.tolist()):
                got = Counter(" ".join(tokens[int(c)][int(p)].split()) for c, p, v in zip(
                    ctx[lay, f], pos[lay, f], vals[lay, f]) if np.isfinite(v) and v > 0
                    and int(c) in tokens and int(p) < len(tokens[int(c)]))
                top = [t for t, _ in got.most_common(2) if t]
                if top:
                    rows.append((lay, f, " / ".join(f'"{t}"' for t in top)))
            db.execute("CREATE TABLE IF NOT EXISTS labels (layer INTEGER, feature INTEGER, "
                       "label TEXT, PRIMARY KEY (layer, feature))")
            db.execute("DELETE FROM labels")
            db.executemany("INSERT INTO labels VALUES (?, ?, ?)", rows)
        return len(rows)

    def labels_for(self, graph: Graph) -> dict[int, str]:
        """Automatic labels of the graph's feature nodes (node row → label)."""
        found = self.labels()
        n = graph.nodes
        return {int(r): found[(int(n.layer[r]), int(n.feature[r]))] for r in range(graph.n_nodes)
                if n.kind[r] == NodeKind.FEATURE and (int(n.layer[r]), int(n.feature[r])) in found}
