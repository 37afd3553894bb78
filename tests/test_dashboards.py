"""Feature dashboards and labels offline (issue 19), on the bundled demo and its ONNX export."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from circuitdesk.graph import load_graph  # noqa: E402
from circuitdesk.graph.cancel import CancelToken  # noqa: E402
from circuitdesk.graph.errors import Cancelled  # noqa: E402
from circuitdesk.graph.io.dashboards import DashboardDB  # noqa: E402
from circuitdesk.graph.io.labels import LabelFileError, LabelStore, read_label_file  # noqa: E402
from circuitdesk.graph.model import NodeKind  # noqa: E402
from circuitdesk.models.dashboards import build_dashboards, windows  # noqa: E402
from circuitdesk.models.locate import demo_dir, graph_key  # noqa: E402
from circuitdesk.models.registry import open_backend  # noqa: E402

from .conftest import FIXTURES  # noqa: E402

GRAPH = demo_dir() / "graphs" / "capital-france_plt.json"
CORPUS = demo_dir() / "corpus.txt"
TOKENS = 700


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    b = open_backend("onnx", model_dir=demo_dir() / "transcoders-plt.onnx")
    yield b
    b.close()


@pytest.fixture(scope="module")
def built(backend, tmp_path_factory: pytest.TempPathFactory) -> DashboardDB:
    return build_dashboards(backend, CORPUS, tmp_path_factory.mktemp("dash") / "d.sqlite",
                            top_k=5, max_tokens=TOKENS)


def test_top_context_is_the_true_argmax(backend, built: DashboardDB) -> None:
    runs = windows(backend, CORPUS, 64, TOKENS)
    acts = [np.asarray(backend.intervene(w, [], return_activations=True).activations)[:, 1:]
            for w in runs]
    best = np.stack([a.max(axis=1) for a in acts])  # [windows, layers, features]
    arrays = built.arrays()
    fired = best.max(axis=0) > 0
    np.testing.assert_array_equal(arrays["top_val"][..., 0][fired], best.max(axis=0)[fired])
    np.testing.assert_array_equal(arrays["top_ctx"][..., 0][fired], best.argmax(axis=0)[fired])
    total = sum(int((a > 0).sum()) for a in acts)
    assert int(arrays["fired"].sum()) == total == int(arrays["hist"].sum())
    layer, feature = map(int, np.argwhere(fired)[0])
    board = built.dashboard(layer, feature)
    w = int(best[:, layer, feature].argmax())
    peak = int(acts[w][layer, :, feature].argmax())
    top = board.contexts[0]
    assert top.tokens[top.peak] == backend.token_strings([runs[w][1 + peak]])[0]
    assert top.activations[top.peak] == pytest.approx(float(best[w, layer, feature]), rel=1e-3)
    assert board.density == pytest.approx(int((np.concatenate(
        [a[layer, :, feature] for a in acts]) > 0).sum()) / built.meta()["n_tokens"])


def test_cancel_and_resume_give_the_same_file(backend, built: DashboardDB, tmp_path: Path) -> None:
    path = tmp_path / "resumed.sqlite"
    token = CancelToken()
    seen = []

    def progress(fraction: float, phase: str) -> None:
        seen.append(fraction)
        if len(seen) == 7:
            token.cancel()

    with pytest.raises(Cancelled):
        build_dashboards(backend, CORPUS, path, top_k=5, max_tokens=TOKENS, checkpoint_every=3,
                         progress=progress, cancel=token)
    assert DashboardDB(path).meta()["windows_done"] == 7 and not DashboardDB(path).meta()["finished"]
    resumed = build_dashboards(backend, CORPUS, path, top_k=5, max_tokens=TOKENS)
    a, b = resumed.arrays(), built.arrays()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert resumed.labels() == built.labels()
    with sqlite3.connect(path) as x, sqlite3.connect(built.path) as y:
        q = "SELECT id, tokens FROM contexts ORDER BY id"
        assert x.execute(q).fetchall() == y.execute(q).fetchall()


def test_automatic_labels_are_top_tokens(built: DashboardDB) -> None:
    graph = load_graph(GRAPH)
    labels = built.labels_for(graph)
    assert len(labels) > 0.5 * int((graph.nodes.kind == NodeKind.FEATURE).sum())
    row, text = next(iter(labels.items()))
    board = built.dashboard(int(graph.nodes.layer[row]), int(graph.nodes.feature[row]))
    top_token = " ".join(board.contexts[0].tokens[board.contexts[0].peak].split())
    assert text.startswith('"') and f'"{top_token}"' in text or top_token == ""


def test_imported_neuronpedia_labels_land_on_the_right_nodes(tmp_path: Path) -> None:
    graph = load_graph(FIXTURES["neuronpedia"])
    n = graph.nodes
    bare = [r for r in range(graph.n_nodes) if n.kind[r] == NodeKind.FEATURE and not n.label[r]][:3]
    rows = [{"modelId": "gemma-2-2b", "layer": f"{int(n.layer[r])}-clt-hp", "index": str(int(n.feature[r])),
             "description": f"imported {k}", "typeName": "oai_token-act-pair"} for k, r in enumerate(bare)]
    rows.append({"modelId": "gemma-2-2b", "layer": "999-clt-hp", "index": "1", "description": "elsewhere"})
    rows.append({"modelId": "llama3.1-8b", "layer": f"{int(n.layer[bare[0]])}-x",
                 "index": str(int(n.feature[bare[0]])), "description": "another model"})
    export = tmp_path / "batch-0.jsonl.gz"
    export.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    store = LabelStore(tmp_path / "labels.sqlite")
    assert store.add(read_label_file(export)) == 5
    want = {(int(n.layer[r]), int(n.feature[r])): f"imported {k}" for k, r in enumerate(bare)}
    expected = {r: want[(int(n.layer[r]), int(n.feature[r]))] for r in range(graph.n_nodes)
                if n.kind[r] == NodeKind.FEATURE and (int(n.layer[r]), int(n.feature[r])) in want}
    assert store.for_graph(graph) == expected  # a feature's label holds at every position
    assert set(bare) <= set(expected)
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text("layer,feature,label\n" + f"{int(n.layer[bare[0]])},{int(n.feature[bare[0]])},"
                        "from csv\n")
    other = LabelStore(tmp_path / "other.sqlite")
    other.add(read_label_file(csv_file, scan="gemma-2-2b"))
    assert bare[0] in other.for_graph(graph) and set(other.for_graph(graph).values()) == {"from csv"}
    (tmp_path / "bad.csv").write_text("layer,feature,label\nL3,abc,x\n")
    with pytest.raises(LabelFileError, match="bad.csv: record 1"):
        read_label_file(tmp_path / "bad.csv")


@pytest.mark.gui
def test_automatic_labels_show_on_canvas_connections_and_node_panel(qtbot, built: DashboardDB,
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from circuitdesk.graph import document as cmd

    from .gui_util import make_window

    graph = load_graph(GRAPH)
    window = make_window(qtbot, tmp_path)
    window.remember_dashboards(graph_key(graph), str(built.path))
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(GRAPH))
    with qtbot.waitSignal(window.pruned, timeout=20000):
        pass
    doc = window.doc
    expected = built.labels_for(doc.graph)
    assert doc.auto_labels and set(doc.auto_labels.values()) <= set(expected.values())
    logit = int(np.flatnonzero(doc.graph.nodes.kind == NodeKind.LOGIT)[0])
    cmd.click(doc, doc.graph.nodes.ids[logit])
    tree = window.connections.tree
    names = [tree.topLevelItem(k).child(j).text(0) for k in range(tree.topLevelItemCount())
             for j in range(tree.topLevelItem(k).childCount())]
    assert set(names) & set(expected.values())
    feature_row = next(int(r) for r in expected if window.canvas.node_visible[r])
    cmd.click(doc, doc.graph.nodes.ids[feature_row])  # a selected node is always labelled
    qtbot.waitUntil(lambda: expected[feature_row] in [lab.text for lab in window.canvas.placed_labels])
    assert window.details.label_edit.text() == expected[feature_row]
    assert "automatic" in window.details.label_note.text()
    assert "fires on" in window.details.dashboard_view.text()
    window.close()


@pytest.mark.gui
def test_tools_menu_imports_labels_and_builds_dashboards(qtbot, tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    pytest.importorskip("torch")
    from circuitdesk.app import labels_actions

    from .gui_util import make_window

    window = make_window(qtbot, tmp_path)
    window.settings.setValue("label_store", str(tmp_path / "labels.sqlite"))
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(FIXTURES["neuronpedia"]))
    n = window.doc.graph.nodes
    bare = next(r for r in range(len(n.ids)) if n.kind[r] == NodeKind.FEATURE and not n.label[r])
    labels = tmp_path / "labels.csv"
    labels.write_text(f"layer,feature,label\n{int(n.layer[bare])},{int(n.feature[bare])},mine\n")
    labels_actions.import_labels(window, str(labels))
    assert window.doc.auto_labels[n.ids[bare]] == "mine"
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(GRAPH))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The capital of France is Paris.\n\nThe opposite of small is big.\n")
    window.remember_model(graph_key(window.doc.graph), str(demo_dir() / "model"),
                          str(demo_dir() / "transcoders-plt"))
    window.remember_dashboards(graph_key(window.doc.graph), str(tmp_path / "d.sqlite"))
    with qtbot.waitSignal(window.runner.job_finished, timeout=120000,
                          check_params_cb=lambda kind: kind == "dashboards"):
        labels_actions.build_dashboards(window, str(corpus))
    assert DashboardDB(tmp_path / "d.sqlite").meta()["finished"]
    assert window.doc.auto_labels and window.dashboards is not None
    window.close()
