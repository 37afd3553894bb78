"""Circuit-level claims on the demo model (issue 18): necessity, sufficiency and the curve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.graph import load_graph  # noqa: E402
from circuitdesk.graph.cancel import CancelToken  # noqa: E402
from circuitdesk.graph.errors import Cancelled  # noqa: E402
from circuitdesk.graph.model import NodeKind  # noqa: E402
from circuitdesk.models.binding import graph_input_ids  # noqa: E402
from circuitdesk.models.faithfulness import (  # noqa: E402
    Circuit, FaithfulnessReport, cached_means, run_faithfulness, threshold_circuits,
)
from circuitdesk.models.locate import demo_dir, find_model  # noqa: E402
from circuitdesk.models.registry import open_backend  # noqa: E402
from circuitdesk.models.verify import default_target  # noqa: E402

pytestmark = pytest.mark.models
GRAPH = demo_dir() / "graphs" / "capital-france_plt.json"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    graph = load_graph(GRAPH)
    model_dir, tc_dir = find_model(graph)
    backend = open_backend("torch", model_dir=model_dir, transcoders_dir=tc_dir)
    yield backend, graph, graph_input_ids(backend, graph)
    backend.close()


def test_necessity_with_every_layer_frozen_is_the_summed_direct_effect(demo) -> None:
    backend, graph, ids = demo
    circuits = threshold_circuits(graph, THRESHOLDS)
    report = run_faithfulness(backend, graph, circuits, ids, freeze="all")
    target = default_target(graph)
    for circuit, point in zip(circuits, report.points):
        inside = np.isin(graph.source, circuit.rows) & (graph.target == target)
        expected = -float(graph.weight[inside].astype(np.float64).sum())  # -Σ A[target, s]
        observed = point.necessity.logit - report.clean.logit
        assert observed == pytest.approx(expected, abs=1e-4), circuit.label
        # linear when everything is frozen: what the circuit removes is what it alone restores
        assert point.necessity_removed == pytest.approx(point.sufficiency_recovered, abs=1e-4)


def test_sufficiency_of_everything_is_the_clean_run(demo) -> None:
    backend, graph, ids = demo
    every = tuple(int(r) for r in np.flatnonzero(graph.nodes.kind == NodeKind.FEATURE))
    report = run_faithfulness(backend, graph, [Circuit("all", every)], ids)
    assert report.active_features == len(every)  # the demo graph holds every active feature
    point = report.points[0]
    assert point.sufficiency == report.clean and point.sufficiency_recovered == 1.0
    assert point.necessity == report.all_ablated and point.necessity_removed == 1.0


def test_curve_circuits_grow_with_the_threshold(demo) -> None:
    backend, graph, ids = demo
    circuits = threshold_circuits(graph, THRESHOLDS)
    sizes = [len(c.rows) for c in circuits]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    for small, big in zip(circuits, circuits[1:]):
        assert set(small.rows) <= set(big.rows)  # pruning keeps a nested family
    # Frozen, a circuit's necessity is the sum of its members' direct effects: growing it by
    # features that each push the target up must remove strictly more of the clean effect.
    target = default_target(graph)
    into = (graph.target == target) & (graph.nodes.kind[graph.source] == NodeKind.FEATURE)
    push = graph.source[into][graph.weight[into] > 0]
    push = push[np.argsort(-graph.weight[into][graph.weight[into] > 0])][:6]
    nested = [Circuit(f"top {k}", tuple(int(r) for r in push[:k])) for k in range(1, len(push) + 1)]
    report = run_faithfulness(backend, graph, nested, ids, freeze="all")
    removed = [p.necessity_removed for p in report.points]
    assert len(removed) == 6 and all(a < b for a, b in zip(removed, removed[1:])), removed


def test_cancel_stops_within_one_batch(demo) -> None:
    backend, graph, ids = demo
    circuits = threshold_circuits(graph, THRESHOLDS) * 4  # 41 sets: 6 batches of 8
    calls = []
    real = backend.intervene_batch

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    token = CancelToken()
    backend.intervene_batch = counting
    try:
        with pytest.raises(Cancelled):
            run_faithfulness(backend, graph, circuits, ids, batch_size=8,
                             on_point=lambda p: token.cancel(), cancel=token)
    finally:
        del backend.intervene_batch
    assert calls[0] == 1 and calls[1:] == [8]  # the clean run, then one batch and no other


def test_report_round_trips_through_json(demo) -> None:
    backend, graph, ids = demo
    report = run_faithfulness(backend, graph, threshold_circuits(graph, (0.6,)), ids)
    again = FaithfulnessReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    check = report.activation_check  # the demo model traced the demo graph
    assert check is not None and check.ok and check.reproduced == check.compared > 0


def test_mean_ablation_is_cached(demo, tmp_path: Path) -> None:
    backend, graph, ids = demo
    text = tmp_path / "corpus.txt"
    text.write_text("The capital of France is Paris. The capital of Spain is Madrid. " * 4)
    means = cached_means(backend, text, [tmp_path / "cache"])
    files = list((tmp_path / "cache").glob("circuitdesk-means-*.npy"))
    assert len(files) == 1 and means.shape == (backend.n_layers, backend.d_transcoder)
    assert (means >= 0).all() and means.max() > 0
    np.testing.assert_array_equal(cached_means(backend, text, [tmp_path / "cache"]), means)
    report = run_faithfulness(backend, graph, threshold_circuits(graph, (0.8,)), ids, means=means)
    assert report.ablation == "mean" and report.all_ablated != report.clean


def test_cli_faithfulness_json_with_the_onnx_export(tmp_path: Path) -> None:
    demo_path = demo_dir()
    result = subprocess.run(
        [sys.executable, "-m", "circuitdesk.app.cli", "faithfulness", str(GRAPH), "--onnx",
         str(demo_path / "transcoders-plt.onnx"), "--thresholds", "0.6,0.8", "--json"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [p["threshold"] for p in out["points"]] == [0.6, 0.8]
    assert "necessity_removed" in out["definitions"]
    bad = subprocess.run([sys.executable, "-m", "circuitdesk.app.cli", "faithfulness", str(GRAPH),
                          "--onnx", str(demo_path / "transcoders-plt.onnx"), "--thresholds", "2"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    # the other demo transcoders (cross-layer) did not trace this graph: said on one line
    other = subprocess.run(
        [sys.executable, "-m", "circuitdesk.app.cli", "faithfulness", str(GRAPH), "--onnx",
         str(demo_path / "transcoders-clt.onnx"), "--thresholds", "0.8", "--json"],
        capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["activation_check"]["ok"] is False
    warned = other.stderr.strip().splitlines()
    assert len(warned) == 1 and "do not reproduce the graph" in warned[0]


@pytest.mark.gui
def test_panel_draws_the_curve_and_saves_it_with_the_session(qtbot, tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from .gui_util import make_window

    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(GRAPH))
    panel = window.faithfulness
    window.docks["faithfulness"].raise_()
    panel.thresholds.setText("0.6,0.7,0.8")
    with qtbot.waitSignal(window.runner.job_finished, timeout=120000,
                          check_params_cb=lambda kind: kind == "faithfulness"):
        panel.sweep()
    xs, ys = panel.curves["sufficiency"].getData()
    assert len(xs) == 3 and list(xs) == sorted(xs) and np.isfinite(ys).all()
    assert len(panel.curves["necessity"].getData()[0]) == 3
    assert "necessity removed" in panel.summary.text() and panel.sweep_button.isEnabled()
    assert "Activations reproduced" in panel.summary.text()
    image = panel.plot.grab().toImage()
    blue = sum(1 for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)
               if image.pixelColor(x, y).name() == "#1565c0")
    assert blue > 10  # the sufficiency curve is on screen
    panel.export_svg(str(tmp_path / "curve.svg"))
    panel.export_csv(str(tmp_path / "curve.csv"))
    assert (tmp_path / "curve.svg").read_text().count("<circle") == 6
    assert len((tmp_path / "curve.csv").read_text().splitlines()) == 4
    session = tmp_path / "session.json"
    window.save_session_as(str(session))
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(session))
    assert [p.threshold for p in window.faithfulness.points] == [0.6, 0.7, 0.8]
    window.close()
