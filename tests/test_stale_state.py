"""Nothing goes stale (issue 14, section 2): every panel shows the graph that is open, failed jobs
end in a truthful idle state, undo steps are the user's actions, and quitting asks first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from circuitdesk.app.actions import group_selection  # noqa: E402
from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import NodeKind  # noqa: E402
from circuitdesk.graph import document as cmd  # noqa: E402

from .conftest import FIXTURES  # noqa: E402
from .gui_util import make_window, open_graph  # noqa: E402

pytestmark = pytest.mark.gui

SAVED_ROW = {"key": "", "label": "f", "predicted": -0.5, "predicted_direct": -0.5,
             "predicted_total": -0.6, "observed": -0.4, "verdict": "confirmed", "downstream": []}


@pytest.fixture
def window(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    w = make_window(qtbot, tmp_path, (1400, 900))
    yield w
    w.settings.setValue("ask_before_quit", False)
    w.close()


def _feature_rows(window: MainWindow) -> np.ndarray:
    return np.flatnonzero(window.doc.graph.nodes.kind == NodeKind.FEATURE)


def _prune(qtbot, window: MainWindow, node_threshold: float) -> None:  # type: ignore[no-untyped-def]
    if not window.doc.state.pruning:
        with qtbot.waitSignal(window.pruned, timeout=20000):
            cmd.set_pruning(window.doc, True)
    if window.doc.state.node_threshold != node_threshold:
        with qtbot.waitSignal(window.pruned, timeout=20000):
            cmd.set_thresholds(window.doc, node_threshold, 0.98)


def test_verify_panel_forgets_the_previous_graph(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    panel = window.verify_panel
    panel.model_label.setText("Model: /somewhere/gemma · transcoders: /x")
    panel.restore({"rows": [dict(SAVED_ROW, key=window.doc.graph.nodes.ids[0])]})
    panel.summary.setText("correlation 0.472")
    assert panel.table.rowCount() == 1
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    assert panel.model_label.text() == "Model: not loaded"
    assert panel.summary.text() == "" and panel.table.rowCount() == 0
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_verify_without_a_local_model_ends_idle_and_says_why(qtbot, window: MainWindow,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from circuitdesk.models.protocol import ModelLoadError

    def no_model(graph, remembered=None):  # type: ignore[no-untyped-def]
        raise ModelLoadError("", "no local model for gemma-2-2b")

    monkeypatch.setattr("circuitdesk.models.locate.find_model", no_model)
    open_graph(qtbot, window, FIXTURES["legacy"])
    panel = window.verify_panel
    panel.run()
    assert panel.summary.text().startswith("Not run") and "gemma" in panel.summary.text()
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    window._error_box.close()


def test_empty_verify_plot_has_plain_axes(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    window.docks["verify"].raise_()  # the plot ranges itself only while shown
    qtbot.waitUntil(window.verify_panel.plot.isVisible, timeout=3000)
    view = window.verify_panel.plot.getViewBox()
    view.updateAutoRange()  # what the next paint does
    assert min(view.viewRange()[0][1], view.viewRange()[1][1]) >= 0.5
    for side in ("bottom", "left"):
        axis = window.verify_panel.plot.getAxis(side)
        assert "e-0" not in axis.labelString() and "x1" not in axis.labelString()


def test_verify_row_selects_its_node(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    node = window.doc.graph.nodes.ids[int(_feature_rows(window)[0])]
    window.verify_panel.restore({"rows": [dict(SAVED_ROW, key=node)]})
    window.verify_panel.table.selectRow(0)
    assert window.doc.state.clicked == node


def test_connections_show_only_what_pruning_kept(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    graph = window.doc.graph
    logit = int(np.flatnonzero(graph.nodes.kind == NodeKind.LOGIT)[0])
    cmd.click(window.doc, graph.nodes.ids[logit])  # listed over the whole graph
    _prune(qtbot, window, 0.5)
    rows = []
    tree = window.connections.tree
    for k in range(tree.topLevelItemCount()):
        head = tree.topLevelItem(k)
        rows += [int(head.child(j).data(0, 256)) for j in range(head.childCount())]
    assert rows, "the logit has kept inputs"
    assert all(window.canvas.node_visible[r] for r in rows)


def test_node_panel_and_selection_drop_a_pruned_away_node(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    graph = window.doc.graph
    _prune(qtbot, window, 0.3)
    weakest = int(next(r for r in _feature_rows(window) if not window.canvas.node_visible[r]))
    with qtbot.waitSignal(window.pruned, timeout=20000):
        cmd.set_pruning(window.doc, False)
    cmd.click(window.doc, graph.nodes.ids[weakest])
    assert window.details.values["id"].text() == graph.nodes.file_ids[weakest]
    with qtbot.waitSignal(window.pruned, timeout=20000):
        cmd.set_pruning(window.doc, True)
    assert not window.canvas.node_visible[weakest]
    assert window.doc.state.clicked is None and window.details.values["id"].text() == "–"


def test_cleared_search_clears_its_message(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    window.search_box.setText("zzzz-no-such-node")
    window.run_search()
    assert "0 match" in window.statusBar().currentMessage()
    window.search_box.clear()
    assert "match" not in window.statusBar().currentMessage()


def test_a_plain_click_writes_no_autosave(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    cmd.click(window.doc, window.doc.graph.nodes.ids[0])
    window.autosave()
    assert not window._autosave_path(FIXTURES["legacy"]).exists()
    assert not window.doc.modified and not window.doc.can_undo
    cmd.pin(window.doc, [window.doc.graph.nodes.ids[0]])
    window.autosave()
    assert window._autosave_path(FIXTURES["legacy"]).exists() and window.doc.modified


def test_quitting_with_unsaved_demo_pins_asks_first(qtbot, window: MainWindow) -> None:
    window.settings.setValue("ask_before_quit", True)
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_demo()
    cmd.pin(window.doc, [window.doc.graph.nodes.ids[0]])
    window.close()
    assert window.isVisible() and window.quit_box is not None
    window.quit_box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.isVisible()
    window.close()
    window.quit_box.button(QMessageBox.StandardButton.Discard).click()
    assert not window.isVisible()


def test_grouping_is_one_undo_step(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    doc = window.doc
    ids = [doc.graph.nodes.ids[int(r)] for r in _feature_rows(window)[:2]]
    cmd.select(doc, ids)
    group_selection(window, "pair")
    assert doc.state.supernodes and set(ids) <= doc.state.pinned
    doc.undo()
    assert not doc.state.supernodes and not doc.state.pinned


def test_threshold_drags_are_separate_undo_steps(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    doc, bar = window.doc, window.prune_bar
    bar.enabled.setChecked(True)
    start = doc.state.node_threshold
    for value in (700, 650, 600):  # one drag of the node slider
        bar.node.slider.setValue(value)
    bar.node.slider.sliderReleased.emit()
    for value in (950, 900):  # then one drag of the edge slider
        bar.edge.slider.setValue(value)
    doc.undo()
    assert (doc.state.node_threshold, doc.state.edge_threshold) == (0.6, 0.98)
    doc.undo()
    assert doc.state.node_threshold == start != 0.6


def test_dark_theme_greys_out_disabled_controls(qtbot, window: MainWindow) -> None:
    window.set_dark_theme(True)
    try:
        palette = QApplication.palette()
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
            active = palette.color(QPalette.ColorGroup.Active, role).lightness()
            disabled = palette.color(QPalette.ColorGroup.Disabled, role).lightness()
            assert active - disabled >= 60, (role, active, disabled)
        # the check box's box (drawn in Base) stands out from the window around it
        base = palette.color(QPalette.ColorRole.Base).lightness()
        around = palette.color(QPalette.ColorRole.Window).lightness()
        assert base - around >= 25
    finally:
        window.set_dark_theme(False)


def test_window_size_and_docks_are_remembered(qtbot, window: MainWindow) -> None:
    window.docks["connections"].close()
    window.settings.setValue("ask_before_quit", False)
    window.close()
    assert window.settings.value("geometry") is not None
    second = MainWindow(window.settings)
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["connections"].isVisible() and second.docks["details"].isVisible()
    # the offscreen screen is 800 px, smaller than the window: restoreGeometry clamps the size,
    # so compare what the restored window does with the saved bytes, not a size
    assert bytes(second.settings.value("geometry")) == bytes(window.saveGeometry())
    second.close()


def test_small_window_keeps_search_and_scores(qtbot, window: MainWindow) -> None:
    window.resize(1000, 700)
    open_graph(qtbot, window, FIXTURES["legacy"])
    _prune(qtbot, window, 0.8)
    assert window.search_box.isVisible() and window.search_box.width() >= 150
    scores = window.prune_bar.scores
    assert "completeness" in scores.text() and scores.isVisible()
    assert scores.width() >= scores.sizeHint().width()


def test_failed_setup_keeps_the_open_graph(qtbot, window: MainWindow,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    before = window.doc.graph
    cmd.pin(window.doc, [before.nodes.ids[0]])

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise IndexError("pop from empty list")

    monkeypatch.setattr(window.subgraph, "refresh", broken, raising=False)
    monkeypatch.setattr(window.connections, "refresh", broken)
    with qtbot.waitSignal(window.load_failed, timeout=20000) as blocker:
        window.open_file(str(FIXTURES["neuronpedia"]))
    assert FIXTURES["neuronpedia"].name in blocker.args[0]
    monkeypatch.undo()
    assert window.doc.graph is before and before.nodes.ids[0] in window.doc.state.pinned
    assert window.windowTitle().startswith(FIXTURES["legacy"].name)
    window._error_box.close()


def test_hover_tooltip_never_outlives_its_node(qtbot, window: MainWindow) -> None:
    from PySide6.QtCore import QEvent

    open_graph(qtbot, window, FIXTURES["legacy"])
    canvas, graph = window.canvas, window.doc.graph
    feats = _feature_rows(window)
    canvas.set_hovered(int(feats[0]))
    assert canvas.tooltip.isVisible()
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))  # the cursor leaves
    assert not canvas.tooltip.isVisible() and canvas.hovered is None
    canvas.set_hovered(int(feats[0]))
    cmd.click(window.doc, graph.nodes.ids[int(feats[1])])  # another node is selected
    assert not canvas.tooltip.isVisible()
    cmd.click(window.doc, None)
    _prune(qtbot, window, 0.3)
    gone = int(next(r for r in feats if not canvas.node_visible[r]))
    with qtbot.waitSignal(window.pruned, timeout=20000):
        cmd.set_pruning(window.doc, False)
    canvas.set_hovered(gone)
    assert canvas.tooltip.isVisible()
    with qtbot.waitSignal(window.pruned, timeout=20000):
        cmd.set_pruning(window.doc, True)  # pruning removes the hovered node
    assert not canvas.tooltip.isVisible()
    canvas.set_hovered(int(np.flatnonzero(canvas.node_visible)[0]))
    open_graph(qtbot, window, FIXTURES["neuronpedia"])  # another graph
    assert not canvas.tooltip.isVisible()


def test_an_opened_graph_lets_go_of_the_previous_one(qtbot, window: MainWindow) -> None:
    """The demo is pruned; the Neuronpedia file opens with pruning off, so no newer prune job
    replaces the finished one, whose callback held the demo graph until now."""
    import gc
    import weakref

    with qtbot.waitSignal(window.pruned, timeout=20000):
        window.open_demo()
    assert window.doc.state.pruning
    old = weakref.ref(window.doc.graph)
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    qtbot.waitUntil(lambda: not window.runner.is_running("prune"), timeout=20000)
    assert not window.doc.state.pruning
    gc.collect()
    assert old() is None
