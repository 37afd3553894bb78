"""Feature labels from outside the graph file: imported explanation files and a local store.

Reads Neuronpedia's explanation exports (JSON arrays from its old ``/api/explanation/export``
and the JSONL(.gz) batches of its datasets export, rows with ``modelId``, ``layer`` such as
``"20-clt-hp"``, ``index`` and ``description``; see Neuronpedia's ``export-data.py``) and any
CSV or JSONL of ``layer, feature, label`` (optionally ``scan``). Labels are kept in one SQLite
file keyed by (scan, source set, layer, feature) and looked up for a graph by its scan
(model) and transcoder set, offline.
"""

from __future__ import annotations

import csv
import os
import gzip
import io
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import GraphLoadError
from ..model import Graph, NodeKind

MAX_LABEL = 500


class LabelFileError(GraphLoadError):
    """A label file that cannot be read (one line naming the file)."""


@dataclass(frozen=True)
class LabelRow:
    scan: str
    """The model (Neuronpedia ``modelId`` or the graph's scan); empty = any graph."""
    source: str
    """The transcoder / SAE set (``clt-hp`` of Neuronpedia layer ``20-clt-hp``); may be empty."""
    layer: int
    feature: int
    label: str


_LAYER = re.compile(r"^\s*(\d+)(?:-(.*))?$")


def _row(path: Path, k: int, rec: dict[str, Any], scan: str) -> LabelRow | None:
    """One record as a LabelRow; None for a record without a label."""
    text = rec.get("description", rec.get("label", rec.get("explanation")))
    if text is None or str(text).strip() == "":
        return None
    layer_raw = rec.get("layer")
    feature_raw = rec.get("index", rec.get("feature", rec.get("feature_idx")))
    m = _LAYER.match(str(layer_raw)) if layer_raw is not None else None
    try:
        feature = int(str(feature_raw).strip())
    except (TypeError, ValueError):
        feature = -1
    if m is None or feature < 0 or len(m.group(1)) > 6 or feature >= 2**40:
        raise LabelFileError(path, f"record {k + 1}: expected a layer and a feature index, got "
                                   f"layer={str(layer_raw)[:40]!r}, feature={str(feature_raw)[:40]!r}")
    return LabelRow(str(rec.get("modelId", rec.get("scan", scan)) or scan),
                    str(m.group(2) or rec.get("source", "") or ""), int(m.group(1)), feature,
                    " ".join(str(text).split())[:MAX_LABEL])


def _records(path: Path, data: bytes) -> Iterator[dict[str, Any]]:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig", errors="replace")))
        yield from reader
        return
    text = data.decode("utf-8", errors="replace").strip()
    if text.startswith("["):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise LabelFileError(path, f"not valid JSON ({exc})") from None
        yield from (r for r in doc if isinstance(r, dict))
        return
    for k, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise LabelFileError(path, f"line {k + 1} is not valid JSON") from None
            if isinstance(rec, dict):
                yield rec


def read_label_file(path: str | Path, scan: str = "") -> list[LabelRow]:
    """Every labelled feature in ``path`` (Neuronpedia explanations, CSV or JSONL)."""
    p = Path(path)
    try:
        data = p.read_bytes()
        if p.suffix.lower() == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise LabelFileError(p, f"cannot be read ({exc})") from None
    rows = [r for k, rec in enumerate(_records(p, data)) if (r := _row(p, k, rec, scan))]
    if not rows:
        raise LabelFileError(p, "holds no labels (expected layer, feature/index and "
                                "label/description)")
    return rows


def graph_source(graph: Graph) -> tuple[str, str]:
    """The (scan, transcoder set) a graph's labels are looked up by."""
    scan = graph.metadata.scan
    scan = scan[0] if isinstance(scan, list) and scan else scan
    model, _, rest = str(scan or graph.metadata.model or "").partition("/")
    return model, graph.metadata.transcoder_set or rest


class LabelStore:
    """Imported labels in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS labels (scan TEXT, source TEXT, layer INTEGER,"
                       " feature INTEGER, label TEXT, PRIMARY KEY (scan, source, layer, feature))")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def add(self, rows: Iterable[LabelRow]) -> int:
        items = [(r.scan, r.source, r.layer, r.feature, r.label) for r in rows]
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?)", items)
        return len(items)

    def for_graph(self, graph: Graph) -> dict[int, str]:
        """Labels of the graph's feature nodes (node row → label), by scan and feature."""
        scan, source = graph_source(graph)
        with self._db() as db:
            sources = [s for (s,) in db.execute(
                "SELECT DISTINCT source FROM labels WHERE scan IN (?, '')", (scan,))]
            chosen = source if source in sources else sources[0] if len(sources) == 1 else None
            if chosen is None:
                return {}
            found = {(lay, f): text for lay, f, text in db.execute(
                "SELECT layer, feature, label FROM labels WHERE scan IN (?, '') AND source = ?",
                (scan, chosen))}
        n = graph.nodes
        return {int(r): found[(int(n.layer[r]), int(n.feature[r]))]
                for r in range(graph.n_nodes) if n.kind[r] == NodeKind.FEATURE
                and (int(n.layer[r]), int(n.feature[r])) in found}


def default_label_store() -> Path:
    """Where imported labels are kept: the user's data folder (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or (
        os.environ.get("APPDATA") if os.name == "nt" else None) or Path.home() / ".local" / "share"
    return Path(base) / "circuitdesk" / "labels.sqlite"
