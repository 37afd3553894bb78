"""Drive the window like a user: hover, click, pin, drag, rubber band, drop, undo, prune, search."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402

from circuitdesk.app.actions import group_selection  # noqa: E402
from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import NodeKind  # noqa: E402
from circuitdesk.graph.io.session import state_from_qparams  # noqa: E402
from circuitdesk.graph.io.load import load_graph  # noqa: E402

from .conftest import FIXTURES  # noqa: E402
from .gui_util import open_graph  # noqa: E402

pytestmark = pytest.mark.gui


def _feature_rows(window: MainWindow) -> np.ndarray:
    doc = window.doc
    assert doc is not None
    return np.flatnonzero((doc.graph.nodes.kind == NodeKind.FEATURE) & window.canvas.node_visible)


def _isolated(window: MainWindow, count: int = 1) -> list[int]:
    """Visible features at least 14 px from every other visible node (unambiguous to click)."""
    canvas = window.canvas
    vis = np.flatnonzero(canvas.node_visible)
    pts = np.array([[canvas.view_point(int(r)).x(), canvas.view_point(int(r)).y()] for r in vis])
    out = []
    for r in _feature_rows(window):
        k = int(np.flatnonzero(vis == r)[0])
        d = np.hypot(*(pts - pts[k]).T)
        d[k] = np.inf
        if d.min() >= 14:
            out.append(int(r))
        if len(out) == count:
            break
    assert len(out) == count
    return out


def test_hover_shows_tooltip(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    row = _isolated(window)[0]
    vp, target = window.canvas.viewport(), window.canvas.view_point(row)

    qtbot.mouseMove(vp, target + QPoint(40, 40))
    jitter = itertools.cycle([QPoint(1, 0), QPoint(0, 0)])

    def hovered() -> bool:
        # keep the cursor moving on the node (offscreen Qt drops a move to where it thinks
        # the cursor already is)
        qtbot.mouseMove(vp, target + next(jitter))
        return window.canvas.hovered == row

    qtbot.waitUntil(hovered, timeout=5000)
    assert window.canvas.tooltip.isVisible()
    text = window.canvas.tooltip.textItem.toPlainText()
    graph = window.doc.graph
    label = " ".join(graph.nodes.label[row].split())  # shown with its whitespace normalised
    assert label in text and f"layer {int(graph.nodes.layer[row])}" in text
    assert "activation" in text and "influence" in text


def test_click_highlights_and_fills_connections(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc = window.doc
    row = _isolated(window)[0]
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=window.canvas.view_point(row))
    assert doc.state.clicked == doc.graph.nodes.ids[row]
    n_edges = int(((doc.graph.source == row) | (doc.graph.target == row)).sum())
    assert sum(len(i) for i in window.canvas._hl_items) == n_edges
    tree = window.connections.tree
    assert tree.topLevelItemCount() == 4
    first_input = tree.topLevelItem(0).child(0)
    assert first_input is not None
    # clicking a row in the connections panel walks to that node
    tree.itemClicked.emit(first_input, 0)
    assert doc.state.clicked != doc.graph.nodes.ids[row]
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert doc.state.clicked is None


def test_arrow_walks_to_strongest_output(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    doc, g = window.doc, window.doc.graph
    emb = int(np.flatnonzero(g.nodes.kind == NodeKind.EMBEDDING)[1])
    from circuitdesk.graph import document as cmd

    cmd.click(doc, g.nodes.ids[emb])
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Up)
    out = np.flatnonzero(g.source == emb)
    best = int(g.target[out[np.argmax(np.abs(g.weight[out]))]])
    assert doc.state.clicked == g.nodes.ids[best]


def test_drag_moves_node_and_undo_restores(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    doc = window.doc
    row = _isolated(window)[0]
    start = window.canvas.view_point(row)
    end = start + QPoint(60, 40)
    vp = window.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(vp, start + (end - start) * (k / 5))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    nid = doc.graph.nodes.ids[row]
    assert nid in doc.state.positions
    moved = window.canvas.view_point(row)  # the node keeps its layer row: only x follows
    assert abs(moved.x() - end.x()) <= 2 and abs(moved.y() - start.y()) <= 1
    window.undo_action.trigger()
    assert nid not in doc.state.positions
    back = window.canvas.view_point(row)
    assert abs(back.x() - start.x()) <= 1 and abs(back.y() - start.y()) <= 1


def _shift_move(widget, pos: QPoint) -> None:
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(pos)
    event = QMouseEvent(QEvent.Type.MouseMove, local, QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                        Qt.KeyboardModifier.ShiftModifier)
    QApplication.sendEvent(widget, event)


def test_rubber_band_delete_and_undo(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc, canvas = window.doc, window.canvas
    rows = _feature_rows(window)[:6]
    pts = [canvas.view_point(int(r)) for r in rows]
    x0 = min(p.x() for p in pts) - 3
    y0 = min(p.y() for p in pts) - 3
    x1 = max(p.x() for p in pts) + 3
    y1 = max(p.y() for p in pts) + 3
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x0, y0))
    for k in range(1, 5):  # a Shift+drag: QTest.mouseMove cannot carry modifiers
        _shift_move(vp, QPoint(x0 + (x1 - x0) * k // 4, y0 + (y1 - y0) * k // 4))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x1, y1))
    selected = set(doc.state.selected)
    assert {doc.graph.nodes.ids[int(r)] for r in rows} <= selected
    before = int(canvas.node_visible.sum())
    canvas.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert doc.state.hidden == selected
    assert int(canvas.node_visible.sum()) == before - len(selected)
    image = canvas.grab().toImage()
    p = canvas.view_point(int(rows[0]))
    c = image.pixelColor(p)
    assert (c.red(), c.green(), c.blue()) != (130, 130, 130)  # the glyph is gone
    window.undo_action.trigger()
    assert not doc.state.hidden and int(canvas.node_visible.sum()) == before


def test_ctrl_click_pins_group_and_subgraph(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc = window.doc
    rows = _isolated(window, 3)
    for r in rows:
        qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.ControlModifier, window.canvas.view_point(r))
    ids = [doc.graph.nodes.ids[r] for r in rows]
    assert doc.state.pinned == set(ids)
    assert len(window.subgraph.units) == 3
    from circuitdesk.graph import document as cmd

    cmd.select(doc, ids[:2])
    group_selection(window, "pair")
    assert [u.key for u in window.subgraph.units] == ["group:pair", ids[2]]


def test_prune_slider_updates_canvas_and_scores(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc = window.doc
    with qtbot.waitSignal(window.pruned, timeout=20000):
        window.prune_bar.enabled.setChecked(True)
    assert doc.state.pruning
    full = int(window.canvas.node_visible.sum())
    with qtbot.waitSignal(window.pruned, timeout=20000):
        window.prune_bar.node.slider.setValue(300)
    assert doc.state.node_threshold == pytest.approx(0.3)
    assert int(window.canvas.node_visible.sum()) < full
    assert "replacement" in window.prune_bar.scores.text()
    assert f"{int(window.canvas.node_visible.sum())}/302 nodes" in window.counts_label.text()
    with qtbot.waitSignal(window.pruned, timeout=20000):
        window.undo_action.trigger()
    assert doc.state.node_threshold == pytest.approx(0.8)


def test_search_highlights(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    window.search_box.setText("L3")
    window.run_search()
    g = window.doc.graph
    expected = set(np.flatnonzero(((g.nodes.kind == NodeKind.FEATURE) | (g.nodes.kind == NodeKind.ERROR))
                                  & (g.nodes.layer == 3)).tolist())
    assert set(window.canvas.search_hits) == expected and expected


def test_label_edit_and_session_reopens_identical(qtbot, window: MainWindow, tmp_path: Path) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc = window.doc
    row = _isolated(window)[0]
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=window.canvas.view_point(row))
    window.details.label_edit.setText("my feature")
    window.details.label_edit.editingFinished.emit()
    assert doc.state.labels[doc.graph.nodes.ids[row]] == "my feature"
    from circuitdesk.graph import document as cmd

    cmd.pin(doc, doc.graph.nodes.ids[:4])
    cmd.drop(doc, doc.graph.nodes.ids[10:12])
    out = tmp_path / "session.json"
    window.save_session_as(str(out))
    state = doc.state
    open_graph(qtbot, window, out)
    assert window.doc.state == state
    assert state_from_qparams(load_graph(out)) == state


def test_autosave_offers_restore(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    from circuitdesk.graph import document as cmd

    open_graph(qtbot, window, FIXTURES["legacy"])
    ids = window.doc.graph.nodes.ids[:2]
    cmd.pin(window.doc, ids)
    window.close()  # autosaves
    second = MainWindow(window.settings)
    qtbot.addWidget(second)
    second.show()
    open_graph(qtbot, second, FIXTURES["legacy"])
    assert second.restore_box is not None and not second.doc.state.pinned
    second.restore_box.button(QMessageBox.StandardButton.Yes).click()
    assert second.doc.state.pinned == set(ids)
    second.close()


def test_export_dialog_from_menu(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from circuitdesk.app.actions import export_figure

    open_graph(qtbot, window, FIXTURES["legacy"])
    export_figure(window)
    dialog = window.export_dialog
    assert dialog.isVisible()
    dialog.close()


def test_dark_theme_for_the_whole_window(qtbot, window: MainWindow) -> None:
    from PySide6.QtGui import QColor

    from circuitdesk.app.actions import toggle_theme

    open_graph(qtbot, window, FIXTURES["legacy"])
    toggle_theme(window)
    try:
        assert window.canvas.theme.dark and window.settings.value("theme") == "dark"
        panel = window.details
        p = panel.mapTo(window, panel.rect().center())

        def panel_is_dark() -> bool:  # the palette change is delivered by the event loop
            return window.grab().toImage().pixelColor(p).lightness() < 80

        qtbot.waitUntil(panel_is_dark, timeout=5000)
        assert window.subgraph.backgroundBrush().color() == QColor("#1e1f22")
    finally:
        toggle_theme(window)
    assert not window.canvas.theme.dark


def test_subgraph_nodes_drag_and_positions_are_saved(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from circuitdesk.app.panels.subgraph import unit_point
    from circuitdesk.graph import document as cmd

    open_graph(qtbot, window, FIXTURES["legacy"])  # no supernodes in its qParams
    doc = window.doc
    rows = _isolated(window, 2)
    cmd.pin(doc, [doc.graph.nodes.ids[r] for r in rows])
    view = window.subgraph
    window.docks["subgraph"].raise_()
    qtbot.waitUntil(lambda: len(view.units) == 2 and view.isVisible())
    start = unit_point(view, 0).toPoint()
    end = start + QPoint(30, 25)
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(vp, start + (end - start) * (k / 5))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    key = view.units[0].key
    assert key in doc.state.subgraph_positions
    out = tmp_path / "s.json"
    window.save_session_as(str(out))
    assert state_from_qparams(load_graph(out)).subgraph_positions[key] == doc.state.subgraph_positions[key]
