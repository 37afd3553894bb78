"""The window's first frame: the graph's nodes are drawn before pyqtgraph (and the other
modules it does not need) is imported, and the canvas then takes the sketch's place without
moving the docks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from .conftest import FIXTURES  # noqa: E402
from .gui_util import make_window, open_graph  # noqa: E402

pytestmark = pytest.mark.gui

LATE = ("pyqtgraph", "psygnal", "sqlite3", "numpy.ma", "torch")
"""Imported after the first frame, if at all (each took 10-150 ms before it)."""

FIRST_FRAME = """
import sys
from circuitdesk.app.main import MainWindow  # the launcher's imports, in its order
from PySide6.QtWidgets import QApplication
app = QApplication([])
from PySide6.QtCore import QSettings, QTimer
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
settings.setValue("theme", sys.argv[2])
w = MainWindow(settings)
w.show()
seen = {"pg": "pyqtgraph" in sys.modules}  # the window is up without it

def first(path):
    image = w.sketch.grab().toImage()
    early = [m for m in sys.argv[3].split(",") if m in sys.modules]
    seen.update(painted=w.sketch.painted_nodes, early=",".join(early) or "-",
                corner=image.pixelColor(2, 2).name(), dock=w.docks["connections"].width())

def loaded(path):
    print(seen["pg"], seen["painted"], w.doc.graph.n_nodes, seen["corner"], w.sketch is None,
          "pyqtgraph" in sys.modules, seen["dock"] == w.docks["connections"].width(),
          w.canvas.width() > w.width() // 2, seen["early"], "psygnal" in sys.modules)
    app.quit()

w.first_sight.connect(first)
w.graph_loaded.connect(loaded)
QTimer.singleShot(0, w.open_demo)
QTimer.singleShot(60000, app.quit)
app.exec()
"""


@pytest.mark.parametrize(("theme", "background"), [("light", "#ffffff"), ("dark", "#1e1f22")])
def test_first_frame_draws_the_nodes_without_pyqtgraph(
        tmp_path: Path, theme: str, background: str) -> None:
    """A fresh interpreter, as at launch: the window is shown with pyqtgraph not imported
    (the load's worker imports it after handing over the graph), the sketch painted every
    node on the theme's background with none of :data:`LATE` imported; then the canvas
    replaced it, the docks as wide as before and the canvas holding most of the window."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path / "s.ini"), theme, ",".join(LATE)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    (pg_at_first, painted, n_nodes, corner, sketch_gone, pg_after, docks_kept, canvas_wide,
     early, psygnal_after) = out.stdout.split()
    assert pg_at_first == "False"
    assert early == "-"
    assert psygnal_after == "True"  # the document's signals
    assert int(painted) == int(n_nodes) > 0
    assert corner == background
    assert (sketch_gone, pg_after, docks_kept, canvas_wide) == ("True",) * 4


def test_the_plots_are_built_when_asked_for(qtbot, tmp_path: Path) -> None:
    """Code that reaches for the canvas before the first graph gets it at once."""
    window = make_window(qtbot, tmp_path)
    assert window.sketch is not None
    canvas = window.canvas
    assert window.sketch is None and window.canvas is canvas
    assert window.subgraph.parent() is not None
    window.close()


def test_a_failure_after_the_first_frame_is_reported_and_the_window_goes_on(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)

    def broken(*args: object) -> None:
        raise RuntimeError("set-up failed")

    monkeypatch.setattr(window, "_install", broken)
    with qtbot.waitSignal(window.first_sight, timeout=20000), \
            qtbot.waitSignal(window.load_failed, timeout=20000) as failed:
        window.open_file(str(FIXTURES["neuronpedia"]))
    assert "set-up failed" in failed.args[0]
    assert window.sketch is None and window.doc is None
    monkeypatch.undo()
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(FIXTURES["neuronpedia"]))
    assert window.doc is not None and window.canvas.node_visible.any()
    window.close()



@pytest.mark.parametrize("dock", ["verify", "faithfulness"])
def test_panels_built_when_their_tab_is_shown_show_the_saved_results(
        qtbot, tmp_path: Path, dock: str) -> None:
    """The verify and circuit-test panels are built when their tab is first shown (not
    with the first graph): the verify panel then shows the results saved in the session."""
    from circuitdesk.graph import NodeKind
    from circuitdesk.graph.io.load import load_graph
    from circuitdesk.graph.io.session import save_session, state_from_qparams

    graph = load_graph(FIXTURES["legacy"])
    feature = graph.nodes.ids[int((graph.nodes.kind == NodeKind.FEATURE).nonzero()[0][0])]
    row = {"key": feature, "label": "f", "predicted": -0.5, "predicted_direct": -0.5,
           "predicted_total": -0.6, "observed": -0.4, "verdict": "confirmed", "downstream": []}
    session = tmp_path / "session.json"
    save_session(session, graph, state_from_qparams(graph), extra={"verify": {"rows": [row]}})
    window = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(session))
    qtbot.wait(50)
    assert not window._panels_built
    window.docks[dock].raise_()
    qtbot.waitUntil(lambda: window._panels_built, timeout=5000)
    assert window.verify_panel.table.rowCount() == 1
    window.close()


@pytest.mark.parametrize("dock", ["verify", "faithfulness"])
def test_a_panel_tab_shows_its_panel_at_once(qtbot, tmp_path: Path, dock: str) -> None:
    """Raising the Verify or Circuit test tab builds the panels there and then (not after the
    device probe has imported torch) and the panel is shown, not left hidden in its dock."""
    window = make_window(qtbot, tmp_path)
    open_graph(qtbot, window, FIXTURES["legacy"])
    window.docks[dock].raise_()
    qtbot.wait(20)
    panel = window._verify_panel if dock == "verify" else window._faithfulness
    assert window.docks[dock].widget() is panel and panel.isVisible()
    assert panel.width() > 300
    window.close()


@pytest.mark.parametrize("name", ["neuronpedia", "legacy", "tc", "demo"])
def test_the_sketch_puts_each_node_where_the_canvas_draws_it(
        qtbot, tmp_path: Path, name: str) -> None:
    """The first frame shows the nodes the canvas then shows (the demo opens pruned: what
    pruning keeps), each within a pixel and a half of where the canvas draws it (same layout,
    spreading, fit and axis room), so the picture does not jump when the canvas takes over."""
    import numpy as np
    from PySide6.QtCore import QPointF

    from circuitdesk.app.first_sight import node_pixels, opening_nodes
    from circuitdesk.app.resources import demo_graph_path

    window = make_window(qtbot, tmp_path, size=(1600, 1000))
    with qtbot.waitSignal(window.pruned, timeout=20000, raising=False):
        open_graph(qtbot, window, demo_graph_path() if name == "demo" else FIXTURES[name])
    canvas, graph = window.canvas, window.doc.graph
    opening = opening_nodes(graph)
    shown = np.ones(graph.n_nodes, bool) if opening is None else opening
    assert (name == "demo") == (opening is not None)  # only the demo opens pruned
    np.testing.assert_array_equal(canvas.node_visible, shown)
    drawn = np.array([[p.x(), p.y()] for p in (
        canvas.mapFromScene(canvas.vb.mapViewToScene(QPointF(x, y))) for x, y in canvas.xy)])
    sketched = node_pixels(graph, canvas.width(), canvas.height(), shown)
    assert np.abs(drawn - sketched)[shown].max() < 1.5  # mapFromScene rounds to whole pixels
    window.close()


def test_the_sketch_draws_the_layer_and_token_axes(qapp) -> None:  # type: ignore[no-untyped-def]
    """Row labels left of the plot and tokens below it (no node is drawn there)."""
    from PySide6.QtGui import QColor

    from circuitdesk.app.canvas.palette import LIGHT
    from circuitdesk.app.first_sight import render_sketch
    from circuitdesk.graph.io.load import load_graph

    image = render_sketch(load_graph(FIXTURES["legacy"]), 1254, 617, LIGHT)
    paper = QColor(LIGHT.background).name()

    def inked(x0: int, y0: int, x1: int, y1: int) -> int:
        return sum(image.pixelColor(x, y).name() != paper
                   for x in range(x0, x1) for y in range(y0, y1))

    assert inked(0, 20, 30, 580) > 100  # "Logit", "L25" … "Emb", left of the axis line
    assert inked(40, 600, 1250, 617) > 100  # the prompt's tokens under it


def test_the_prune_bar_shows_the_defaults_greyed_out_until_a_graph_is_open(
        qtbot, tmp_path: Path) -> None:
    """Before the first graph: the default thresholds, not 0.000, and nothing to drag."""
    from circuitdesk.graph.document import ViewState

    window = make_window(qtbot, tmp_path)
    bar, defaults = window.prune_bar, ViewState()
    assert (bar.node.value(), bar.edge.value()) == (defaults.node_threshold,
                                                   defaults.edge_threshold)
    assert not bar.isEnabled()
    open_graph(qtbot, window, FIXTURES["legacy"])
    assert bar.isEnabled()
    window.close()
