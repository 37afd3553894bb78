"""Where sessions and autosaves live, and reading them back (no widgets here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from PySide6.QtCore import QStandardPaths

from ..graph.document import ViewState
from ..graph.io.json_write import write_json
from ..graph.model import Graph
from ..graph.io.session import qparams_from_state, state_from_qparams
from .folders import path_digest

AUTOSAVE_SUFFIX = ".circuitdesk-autosave.json"


def autosave_path(graph_path: Path, folder: str | Path | None = None) -> Path:
    """Next to the user's file when that folder is writable, else in our data folder.

    ``folder`` (the ``autosave_dir`` setting) puts every autosave in one place instead.
    """
    digest = path_digest(graph_path)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder) / f"{graph_path.name}.{digest}.json"
    beside = graph_path.with_name(graph_path.name + AUTOSAVE_SUFFIX)
    try:
        probe = beside.with_name(beside.name + ".probe")
        probe.write_bytes(b"")
        probe.unlink()
        return beside
    except OSError:
        base = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
        (base / "autosave").mkdir(parents=True, exist_ok=True)
        return base / "autosave" / f"{graph_path.name}.{digest}.json"


def write_autosave(path: Path, graph_path: Path, graph: Graph, state: ViewState) -> None:
    """A small file: the session's qParams, not the whole graph."""
    write_json(path, {"graph": str(graph_path), "qParams": qparams_from_state(graph, state)})


def read_autosave(path: Path, graph: Graph) -> ViewState | None:
    """The autosaved state, or None when there is none or it is unreadable."""
    try:
        doc: Any = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("qParams"), dict):
        return None
    return state_from_qparams(graph, doc["qParams"])
