"""Canvas gestures and edge controls of issue 15: Alt frees a drag, F fits the visible nodes,
hover highlights the node's edges, the edge density is remembered per file."""

from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import document as cmd  # noqa: E402
from circuitdesk.graph.model import NodeKind  # noqa: E402

from .conftest import FIXTURES  # noqa: E402
from .gui_util import open_graph  # noqa: E402
from .test_interaction import _isolated  # noqa: E402

pytestmark = pytest.mark.gui


def _send(widget, kind: QEvent.Type, pos: QPoint, buttons, mods) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, event)


def test_alt_drag_frees_the_node_from_its_row(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    row = _isolated(window)[0]
    start = window.canvas.view_point(row)
    end = start + QPoint(40, 50)
    vp, alt, left = window.canvas.viewport(), Qt.KeyboardModifier.AltModifier, Qt.MouseButton.LeftButton
    _send(vp, QEvent.Type.MouseButtonPress, start, left, alt)
    for k in range(1, 6):
        _send(vp, QEvent.Type.MouseMove, start + (end - start) * (k / 5), left, alt)
    _send(vp, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton, alt)
    moved = window.canvas.view_point(row)
    assert abs(moved.y() - end.y()) <= 2 and abs(moved.x() - end.x()) <= 2


def test_f_fits_the_visible_nodes(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    canvas, doc = window.canvas, window.doc
    keep = [doc.graph.nodes.ids[r] for r in np.flatnonzero(doc.graph.nodes.kind == NodeKind.LOGIT)]
    cmd.keep_only(doc, keep)
    (x0, x1), _ = canvas.vb.viewRange()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_F)
    (a0, a1), (b0, b1) = canvas.vb.viewRange()
    assert a1 - a0 < 0.5 * (x1 - x0)  # zoomed in on the few nodes left
    xy = canvas.xy[canvas.node_visible]
    assert (xy[:, 0] >= a0).all() and (xy[:, 0] <= a1).all()
    assert (xy[:, 1] >= b0).all() and (xy[:, 1] <= b1).all()


def test_hover_highlights_the_nodes_edges(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    canvas = window.canvas
    row = _isolated(window)[0]
    assert sum(len(item) for item in canvas._hl_items) == 0
    canvas.set_hovered(row)
    g = canvas.doc.graph
    mine = int((canvas.edge_visible & ((g.source == row) | (g.target == row))).sum())
    assert mine > 0 and sum(len(item) for item in canvas._hl_items) == mine
    assert any(lab.row == row for lab in canvas.placed_labels)  # hovered: labelled too
    canvas.set_hovered(None)
    assert sum(len(item) for item in canvas._hl_items) == 0


def test_edge_density_is_remembered_per_file(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    canvas = window.canvas
    everything = canvas.edges_drawn
    canvas.set_edge_density("top20")
    assert canvas.edges_drawn == round(everything * 0.2)
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    assert canvas.density == "all"
    open_graph(qtbot, window, FIXTURES["legacy"])
    assert canvas.density == "top20" and canvas.density_box.currentData() == "top20"
    assert canvas.edges_drawn == round(everything * 0.2)


def test_search_hits_are_labelled_by_name(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    window.search_box.setText("Scandinavian")
    window.run_search()
    hits = window.canvas.search_hits
    assert hits

    def named() -> bool:  # labels are placed once the search's event is handled
        shown = {lab.row: lab.text for lab in window.canvas.placed_labels}
        return all(shown.get(r) == "Scandinavian places/names" for r in hits)

    qtbot.waitUntil(named)
