"""Tools menu actions for feature labels: build dashboards on the local model, import labels.

Both refresh the open graph's automatic labels when they finish (Document.set_auto_labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from ..graph.errors import CircuitDeskError
from .labels_lookup import find_labels


def refresh_labels(window: Any) -> None:
    """Look the open graph's automatic labels up again (after a build or an import)."""
    doc = window.doc
    if doc is None:
        return
    labels, window.dashboards = find_labels(doc.graph, window.label_store_path(),
                                            window.remembered_models(),
                                            window.remembered_dashboards())
    doc.set_auto_labels(labels)
    window.details.refresh()


def import_labels(window: Any, path: str | None = None) -> None:
    """Add a Neuronpedia explanation export, CSV or JSONL of labels to the label store."""
    from ..graph.io.labels import LabelStore, graph_source, read_label_file

    if path is None:
        path, _ = QFileDialog.getOpenFileName(
            window, "Import feature labels", "",
            "Labels (*.json *.jsonl *.gz *.csv);;All files (*)")
        if not path:
            return
    scan = graph_source(window.doc.graph)[0] if window.doc is not None else ""
    try:
        n = LabelStore(window.label_store_path()).add(read_label_file(path, scan=scan))
    except (CircuitDeskError, OSError) as exc:
        window.show_error("Could not import labels", str(exc))
        return
    refresh_labels(window)
    window.statusBar().showMessage(f"Imported {n} labels from {Path(path).name}", 8000)


def build_dashboards(window: Any, corpus: str | None = None) -> None:
    """Stream a corpus through this graph's model into its dashboards file (resumable)."""
    from ..models.locate import graph_key

    doc = window.doc
    if doc is None:
        return
    if corpus is None:
        corpus, _ = QFileDialog.getOpenFileName(
            window, "Corpus for feature dashboards", "", "Text (*.txt *.md *.jsonl);;All files (*)")
        if not corpus:
            return
    key = graph_key(doc.graph)

    def work(backend: Any, *, progress: Any, cancel: Any) -> str:
        from ..models.dashboards import build_dashboards as build
        from ..models.dashboards import default_db_path

        path = window.remembered_dashboards().get(key) or str(default_db_path(
            window.bound_transcoders_dir or window.bound_model_dir))
        build(backend, corpus, path, progress=progress, cancel=cancel)
        return path

    def done(path: str) -> None:
        window.remember_dashboards(key, path)
        refresh_labels(window)
        window.statusBar().showMessage(f"Feature dashboards written to {path}", 8000)

    window.with_backend(lambda backend, ids: window.runner.submit(
        "dashboards", lambda **kw: work(backend, **kw), queue="model", on_done=done),
        lambda reason: window.statusBar().showMessage(reason, 8000))
