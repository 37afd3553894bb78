"""GUI tests: open real fixtures through the window and check the drawn pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import NodeKind  # noqa: E402

from .conftest import FIXTURES  # noqa: E402
from .gui_util import make_window, open_graph  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path: Path):
    w = make_window(qtbot, tmp_path, (1200, 900))
    yield w
    w.close()


def _colour_near(image, x: int, y: int, rgb: tuple[int, int, int], tol: int = 40) -> bool:
    """True if a pixel within 2 px of (x, y) has colour ``rgb`` within ``tol`` per channel."""
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            c = image.pixelColor(x + dx, y + dy)
            if all(abs(a - b) <= tol for a, b in zip((c.red(), c.green(), c.blue()), rgb)):
                return True
    return False


def test_opens_fixture_and_draws_nodes_by_kind(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    doc = window.doc
    assert doc is not None and doc.graph.n_nodes == 302
    image = window.canvas.grab().toImage()
    graph = doc.graph
    for kind, rgb in ((NodeKind.LOGIT, (230, 145, 56)), (NodeKind.EMBEDDING, (106, 168, 79))):
        for i in np.flatnonzero(graph.nodes.kind == kind)[:3]:
            p = window.canvas.view_point(int(i))
            assert _colour_near(image, round(p.x()), round(p.y()), rgb), (kind, i, p)
    # top-left corner of the plot area is background (white)
    c = image.pixelColor(image.width() - 5, 25)
    assert (c.red(), c.green(), c.blue()) == (255, 255, 255)
    assert "302/302 nodes" in window.counts_label.text()
    assert window.recent_files()[0].endswith(FIXTURES["neuronpedia"].name)


def test_bad_file_shows_error_and_keeps_graph(qtbot, window: MainWindow, tmp_path: Path) -> None:
    open_graph(qtbot, window, FIXTURES["legacy"])
    bad = tmp_path / "broken.json"
    bad.write_text('{"nodes": [')
    with qtbot.waitSignal(window.load_failed, timeout=20000) as blocker:
        window.open_file(str(bad))
    assert "broken.json" in blocker.args[0] and "not valid JSON" in blocker.args[0]
    assert window._error_box is not None and window._error_box.isVisible()
    assert window.doc is not None and window.doc.graph.n_nodes == 60
    window._error_box.close()


def test_click_selects_and_ctrl_click_pins_and_undo(qtbot, window: MainWindow) -> None:
    from PySide6.QtCore import Qt

    open_graph(qtbot, window, FIXTURES["legacy"])
    doc = window.doc
    assert doc is not None
    i = int(np.flatnonzero(doc.graph.nodes.kind == NodeKind.FEATURE)[0])
    p = window.canvas.view_point(i)
    viewport = window.canvas.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=p)
    assert doc.state.clicked == doc.graph.nodes.ids[i]
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, pos=p)
    assert doc.graph.nodes.ids[i] in doc.state.pinned
    window.undo_action.trigger()
    assert not doc.state.pinned


def test_recent_menu_reopens(qtbot, window: MainWindow) -> None:
    open_graph(qtbot, window, FIXTURES["tc"])
    open_graph(qtbot, window, FIXTURES["legacy"])
    actions = window.recent_menu.actions()
    assert [a.text() for a in actions[:2]] == [FIXTURES["legacy"].name, FIXTURES["tc"].name]
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        actions[1].trigger()
    assert window.doc is not None and window.doc.graph.n_nodes == 86


def test_demo_graph_opens(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_demo()
    assert window.doc is not None and window.doc.graph.n_nodes > 0


def test_drop_a_file_opens_it(qtbot, window: MainWindow) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(FIXTURES["tc"]))])
    pos = QPointF(200, 200)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.dropEvent(drop)
    assert window.doc is not None and window.doc.graph.n_nodes == 86


def test_pinned_pyside_survives_many_setter_calls(qtbot) -> None:
    """PySide6 6.12.0 aborted after ~5,000 setters returning None; the pinned 6.10.3 must not."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    for i in range(30_000):
        label.setText(str(i))
        label.setVisible(bool(i % 2))
    assert label.text() == "29999"
