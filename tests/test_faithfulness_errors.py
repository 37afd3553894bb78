"""Error nodes held at clean values, or following the model (issue 18's ``errors`` option)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from circuitdesk.graph import load_graph  # noqa: E402
from circuitdesk.graph.model import NodeKind  # noqa: E402
from circuitdesk.models.binding import graph_input_ids  # noqa: E402
from circuitdesk.models.faithfulness import (  # noqa: E402
    Circuit, FaithfulnessReport, run_faithfulness, threshold_circuits,
)
from circuitdesk.models.locate import demo_dir  # noqa: E402
from circuitdesk.models.protocol import Intervention, ModelLoadError  # noqa: E402
from circuitdesk.models.registry import open_backend  # noqa: E402
from circuitdesk.models.verify import default_target  # noqa: E402

pytestmark = pytest.mark.models
DEMO = demo_dir()
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
PROMPT = "The capital of France is Paris and the opposite of small is"


def _graph(kind: str) -> Path:
    return DEMO / "graphs" / f"capital-france_{kind}.json"


@pytest.fixture(scope="module", params=["plt", "clt"])
def demo(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    kind = request.param
    if not _graph(kind).is_file():
        pytest.skip(f"no demo graph for {kind}")
    graph = load_graph(_graph(kind))
    tb = open_backend("torch", model_dir=DEMO / "model", transcoders_dir=DEMO / f"transcoders-{kind}")
    ob = open_backend("onnx", model_dir=DEMO / f"transcoders-{kind}.onnx")
    yield tb, ob, graph, graph_input_ids(tb, graph)
    tb.close()
    ob.close()


def _numbers(report: FaithfulnessReport) -> np.ndarray:
    return np.array([[p.necessity.logit, p.sufficiency.logit, p.necessity.prob,
                      p.sufficiency.prob] for p in report.points])


@pytest.mark.parametrize("freeze", ["attention", "none", "all"])
def test_torch_and_onnx_agree_in_both_modes(demo, freeze: str) -> None:  # type: ignore[no-untyped-def]
    tb, ob, graph, ids = demo
    circuits = threshold_circuits(graph, THRESHOLDS)
    got = {}
    for errors in ("clean", "respond"):
        want = run_faithfulness(tb, graph, circuits, ids, freeze=freeze, errors=errors)
        have = run_faithfulness(ob, graph, circuits, ids, freeze=freeze, errors=errors)
        assert want.errors == have.errors == errors
        np.testing.assert_allclose(_numbers(have), _numbers(want), atol=1e-4)
        assert have.all_ablated.logit == pytest.approx(want.all_ablated.logit, abs=1e-4)
        got[errors] = want
    if freeze == "all":  # MLP outputs stay clean: the modes are the same run, bit for bit
        assert got["clean"].points == got["respond"].points
        assert got["clean"].all_ablated == got["respond"].all_ablated
    else:  # the modes really differ, so agreeing in each one means something
        assert np.abs(_numbers(got["clean"]) - _numbers(got["respond"])).max() > 1e-3


def test_backends_agree_on_single_sets_in_both_modes(demo) -> None:  # type: ignore[no-untyped-def]
    tb, ob, _, _ = demo
    ids = tb.tokenize(PROMPT)
    acts = tb.intervene(ids, []).activations
    on = [Intervention(int(a), int(b), int(c), 0.0) for a, b, c in np.argwhere(acts > 0) if b]
    batch = [[], on[-1:], [on[0], Intervention(1, 3, 5, 2.5)], on[::3], on]
    for freeze in ("attention", "none", (1, 2)):
        for errors in ("clean", "respond"):
            kw = {"freeze": freeze, "errors": errors, "return_activations": True}
            want = tb.intervene_batch(ids, batch, **kw)
            got = ob.intervene_batch(ids, batch, batch_size=3, **kw)
            for w, g in zip(want, got):
                np.testing.assert_allclose(g.logits, w.logits, rtol=1e-4, atol=1e-4, err_msg=str(kw))
                np.testing.assert_allclose(g.activations, w.activations, atol=1e-4)
            last = ob.intervene_batch(ids, batch, last_position_only=True, **kw)
            mine = tb.intervene_batch(ids, batch, last_position_only=True, **kw)
            for w, g, m in zip(want, last, mine):
                assert g.logits.shape == m.logits.shape == (1, tb.vocab_size)
                np.testing.assert_allclose(m.logits[0], w.logits[-1], atol=1e-5)
                np.testing.assert_allclose(g.logits[0], w.logits[-1], rtol=1e-4, atol=1e-4)


def test_held_errors_leave_an_unpatched_row_clean(demo) -> None:  # type: ignore[no-untyped-def]
    tb, ob, _, _ = demo
    ids = tb.tokenize(PROMPT)
    clean = tb.intervene(ids, [], return_activations=False).logits
    acts = tb.intervene(ids, []).activations
    # Setting features to the values they already have changes nothing when only features move.
    same = [Intervention(int(a), int(b), int(c), float(acts[a, b, c]))
            for a, b, c in np.argwhere(acts > 0) if b]
    for backend in (tb, ob):
        rows = backend.intervene_batch(ids, [[], same, same[:1]], freeze="none", errors="clean")
        for r in rows:
            np.testing.assert_allclose(r.logits, clean, rtol=1e-4, atol=1e-4)


def test_sufficiency_with_an_empty_complement_is_the_clean_run(demo) -> None:  # type: ignore[no-untyped-def]
    tb, ob, graph, ids = demo
    every = tuple(int(r) for r in np.flatnonzero(graph.nodes.kind == NodeKind.FEATURE))
    for backend in (tb, ob):
        report = run_faithfulness(backend, graph, [Circuit("all", every)], ids, freeze="none",
                                  errors="clean")
        assert report.active_features == len(every)
        assert report.points[0].sufficiency == report.clean
        assert report.points[0].sufficiency_recovered == 1.0


@pytest.mark.parametrize("errors", ["clean", "respond"])
def test_frozen_necessity_is_minus_the_summed_direct_effect(demo, errors: str) -> None:  # type: ignore[no-untyped-def]
    tb, ob, graph, ids = demo
    circuits = threshold_circuits(graph, THRESHOLDS)
    target = default_target(graph)
    for backend in (tb, ob):
        report = run_faithfulness(backend, graph, circuits, ids, freeze="all", errors=errors)
        for circuit, point in zip(circuits, report.points):
            inside = np.isin(graph.source, circuit.rows) & (graph.target == target)
            expected = -float(graph.weight[inside].astype(np.float64).sum())  # -Σ A[target, s]
            assert point.necessity.logit - report.clean.logit == pytest.approx(expected, abs=1e-4)


def test_old_reports_read_back_as_respond() -> None:
    report = FaithfulnessReport("t", "attention", "zero", 3, *([{"logit": 1.0, "prob": 0.5,
                                                                 "rank": 0}] * 2))  # type: ignore[arg-type]
    data = json.loads(json.dumps({k: v for k, v in report.to_json().items() if k != "errors"}))
    assert FaithfulnessReport.from_json(data).errors == "respond"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "circuitdesk.app.cli", "faithfulness",
                           str(_graph("plt")), *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_errors_flag() -> None:
    onnx_file = str(DEMO / "transcoders-plt.onnx")
    out = {}
    for errors in ("clean", "respond"):
        result = _cli("--onnx", onnx_file, "--thresholds", "0.6,0.8", "--errors", errors, "--json")
        assert result.returncode == 0, result.stderr
        out[errors] = json.loads(result.stdout)
        assert out[errors]["errors"] == errors and "errors" in out[errors]["definitions"]
    assert out["clean"]["points"] != out["respond"]["points"]
    default = json.loads(_cli("--onnx", onnx_file, "--thresholds", "0.6,0.8", "--json").stdout)
    assert default["errors"] == "clean" and default["points"] == out["clean"]["points"]
    text = _cli("--onnx", onnx_file, "--thresholds", "0.6", "--errors", "respond")
    assert "errors respond" in text.stdout.splitlines()[0]
    bad = _cli("--onnx", onnx_file, "--errors", "frozen")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "circuitdesk: errors mode 'frozen': expected clean or respond"]


def _legacy_export(tmp_path: Path) -> Path:
    """The demo export with the /3 interface: no errors_clean / clean_errors inputs (constants
    in their place) and no rec_errors output, labelled as format /3."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(DEMO / "transcoders-plt.onnx"))
    meta = {p.key: p for p in model.metadata_props}
    n_layers, d_model = int(meta["n_layers"].value), int(meta["d_model"].value)
    constants = {"errors_clean": np.array(False),
                 "clean_errors": np.zeros((n_layers, 1, d_model), np.float32)}
    for inp in [i for i in model.graph.input if i.name in constants]:
        model.graph.input.remove(inp)
        model.graph.initializer.append(numpy_helper.from_array(constants[inp.name], inp.name))
    for out in [o for o in model.graph.output if o.name == "rec_errors"]:
        model.graph.output.remove(out)
    meta["format"].value = "circuitdesk-replacement-onnx/3"
    path = tmp_path / "transcoders-plt.onnx"
    onnx.save(model, str(path))
    shutil.copy(DEMO / "transcoders-plt.tokenizer.json", tmp_path)
    return path


def test_legacy_onnx_runs_respond_and_refuses_clean(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    old = open_backend("onnx", model_dir=_legacy_export(tmp_path))
    new = open_backend("onnx", model_dir=DEMO / "transcoders-plt.onnx")
    assert not old.holds_errors and new.holds_errors
    ids = new.tokenize(PROMPT)
    sets = [[], [Intervention(1, 3, 5, 2.5)]]
    for freeze in ("attention", "all"):
        want = new.intervene_batch(ids, sets, freeze=freeze, errors="respond")
        got = old.intervene_batch(ids, sets, freeze=freeze, errors="respond")
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.logits, w.logits, atol=1e-5)
    with pytest.raises(ModelLoadError) as info:
        old.intervene_batch(ids, sets, errors="clean")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "transcoders-plt.onnx") in message
    assert "re-export" in message
    result = _cli("--onnx", str(tmp_path / "transcoders-plt.onnx"), "--thresholds", "0.6")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "re-export" in result.stderr
    ok = _cli("--onnx", str(tmp_path / "transcoders-plt.onnx"), "--thresholds", "0.6",
              "--errors", "respond", "--json")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.gui
def test_panel_checkbox_is_saved_with_the_session(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("PySide6")
    from .gui_util import make_window, open_graph

    window = make_window(qtbot, tmp_path)
    open_graph(qtbot, window, _graph("plt"))
    panel = window.faithfulness
    assert panel.hold_errors.isChecked() and panel.errors_mode() == "clean"
    panel.hold_errors.setChecked(False)
    session = tmp_path / "respond.session.json"
    window.save_session_as(str(session))
    panel.hold_errors.setChecked(True)
    open_graph(qtbot, window, session)
    assert not window.faithfulness.hold_errors.isChecked()
    window.faithfulness.hold_errors.setChecked(True)
    window.save_session_as(str(tmp_path / "clean.session.json"))
    window.faithfulness.hold_errors.setChecked(False)
    open_graph(qtbot, window, tmp_path / "clean.session.json")
    assert window.faithfulness.errors_mode() == "clean"
    window.close()
