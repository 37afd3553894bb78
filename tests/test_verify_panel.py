"""The verify panel, driven like a user on a tiny traced model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")
pytest.importorskip("transformers")
from PySide6.QtCore import QSettings  # noqa: E402

from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph.io.dense import graph_from_dense  # noqa: E402
from circuitdesk.graph.io.json_write import graph_to_json, write_json  # noqa: E402
from circuitdesk.models.locate import graph_key  # noqa: E402

from .models_util import PROMPT, build_model, build_transcoders  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.models]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from circuitdesk.models.registry import open_backend

    root = tmp_path_factory.mktemp("vpanel")
    model = build_model(root / "model")
    tc = build_transcoders(root / "tc", "clt", jump=True)
    backend = open_backend("torch", model_dir=model, transcoders_dir=tc)
    graph = graph_from_dense(backend.trace(backend.tokenize(PROMPT)))
    backend.close()
    path = root / "graph.json"
    write_json(path, graph_to_json(graph))
    return model, tc, path


@pytest.fixture
def window(qtbot, tmp_path: Path, traced):  # type: ignore[no-untyped-def]
    model, tc, path = traced
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("autosave_dir", str(tmp_path / "autosave"))
    settings.setValue("ask_before_quit", False)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.graph_loaded, timeout=20000):
        w.open_file(str(path))
    w.remember_model(graph_key(w.doc.graph), str(model), str(tc))
    yield w
    w.close()


def test_verify_fills_table_and_plot(qtbot, window: MainWindow, tmp_path: Path) -> None:
    panel = window.verify_panel
    panel.freeze.setCurrentIndex(2)  # all layers: observed must equal the direct prediction
    with qtbot.waitSignal(panel.finished, timeout=120000):
        panel.run_button.click()
    n_features = int((window.doc.graph.nodes.kind == 1).sum())
    assert panel.table.rowCount() == len(panel.rows) == n_features
    xs, ys = panel.scatter.getData()
    assert len(xs) == n_features
    np.testing.assert_allclose(ys, xs, atol=1e-5)
    assert "correlation 1.000" in panel.summary.text()
    assert {r.verdict for r in panel.rows} <= {"confirmed", "no effect predicted"}
    panel.table.selectRow(0)
    assert "before" in panel.tokens.text() and "after" in panel.tokens.text()
    panel.export_csv(str(tmp_path / "r.csv"))
    panel.export_svg(str(tmp_path / "r.svg"))
    assert (tmp_path / "r.csv").read_text().count("\n") == n_features + 1
    assert (tmp_path / "r.svg").read_text().count("<circle") == n_features
    # results travel with the session
    window.save_session_as(str(tmp_path / "s.json"))
    saved = orjson.loads((tmp_path / "s.json").read_bytes())["qParams"]["circuitdesk"]["verify"]
    assert len(saved["rows"]) == n_features
    # the tracing model reproduces the graph, and the panel says so
    assert not panel.fit.isHidden() and panel.fit.text().startswith("Activations reproduced")
    assert saved["activation_check"]["ok"] is True


def test_other_transcoders_are_flagged(qtbot, window: MainWindow, traced, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Transcoders that did not trace the graph: the panel says so in red above the verdicts,
    the session keeps it, and another graph's panel does not show it."""
    from circuitdesk.app.panels.verify import MISMATCH_COLOR

    model, _, _ = traced
    other = build_transcoders(tmp_path / "other", "clt", jump=True, seed=7)
    window.remember_model(graph_key(window.doc.graph), str(model), str(other))
    panel = window.verify_panel
    with qtbot.waitSignal(panel.finished, timeout=120000):
        panel.run_button.click()
    assert panel.rows and "do not reproduce" in panel.fit.text()
    assert not panel.fit.isHidden() and MISMATCH_COLOR in panel.fit.styleSheet()
    window.save_session_as(str(tmp_path / "s.json"))
    saved = orjson.loads((tmp_path / "s.json").read_bytes())["qParams"]["circuitdesk"]["verify"]
    assert saved["activation_check"]["ok"] is False
    panel.reset(None)
    assert panel.fit.isHidden() and panel.fit.text() == ""
    panel.restore(saved)
    assert "do not reproduce" in panel.fit.text() and not panel.fit.isHidden()


def test_cancel_stops_the_sweep(qtbot, window: MainWindow) -> None:
    panel = window.verify_panel
    model_rows = []

    def cancel_on_first_rows(*_: object) -> None:
        model_rows.append(panel.table.rowCount())
        panel.cancel()

    panel.table.model().rowsInserted.connect(cancel_on_first_rows)
    with qtbot.waitSignal(panel.finished, timeout=120000):
        panel.run_button.click()
    n_features = int((window.doc.graph.nodes.kind == 1).sum())
    assert 0 < len(panel.rows) < n_features
    assert "Cancelled" in panel.summary.text()
    assert panel.run_button.isEnabled()


def test_steering_box(qtbot, window: MainWindow) -> None:
    panel = window.verify_panel
    g = window.doc.graph
    r = int(np.flatnonzero(g.nodes.kind == 1)[0])
    panel.steer_edit.setText(f"{int(g.nodes.layer[r])}:{int(g.nodes.position[r])}:{int(g.nodes.feature[r])}=25")
    with qtbot.waitSignal(window.runner.job_finished, timeout=120000,
                          check_params_cb=lambda kind: kind == "steer"):
        panel.steer()
    assert "steered" in panel.tokens.text()


def test_downstream_features_reported(qtbot, window: MainWindow) -> None:
    from circuitdesk.graph import document as cmd

    g = window.doc.graph
    feats = np.flatnonzero(g.nodes.kind == 1)
    late = feats[g.nodes.layer[feats] == g.nodes.layer[feats].max()][:3]
    cmd.pin(window.doc, [g.nodes.ids[r] for r in late])
    panel = window.verify_panel
    panel.freeze.setCurrentIndex(2)
    panel.downstream.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=120000):
        panel.run_button.click()
    early = [r for r in panel.rows if r.downstream]
    assert early and all(abs(d.observed - d.predicted) < 1e-5 for r in early for d in r.downstream)
    k = next(i for i, r in enumerate(panel.rows) if r.downstream)
    row = next(t for t in range(panel.table.rowCount())
               if panel.table.item(t, 0).data(256) == k)
    panel.table.selectRow(row)
    assert "downstream" in panel.tokens.text()
