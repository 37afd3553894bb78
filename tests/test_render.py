"""Rendering: the canvas drawn into a fixed-size image matches approved PNGs within a tolerance."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QColor, QImage  # noqa: E402

from circuitdesk.app.canvas.graph_canvas import GraphCanvas  # noqa: E402
from circuitdesk.app.canvas.palette import DARK  # noqa: E402
from circuitdesk.graph import load_graph  # noqa: E402
from circuitdesk.graph.document import Document  # noqa: E402
from circuitdesk.graph.model import NodeKind  # noqa: E402

from .conftest import DATA, FIXTURES  # noqa: E402

pytestmark = pytest.mark.gui
APPROVED = DATA / "approved"
SIZE = (900, 600)


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    buf = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return buf.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), :3].copy()


def _render(qtbot, name: str, dark: bool = False) -> tuple[GraphCanvas, QImage]:
    canvas = GraphCanvas(Document(load_graph(FIXTURES[name])))
    qtbot.addWidget(canvas)
    canvas.resize(*SIZE)
    canvas.show()
    qtbot.waitExposed(canvas)
    if dark:
        canvas.set_theme(DARK)
    canvas.reset_view()
    canvas.grab()  # a paint starts the edge image in a worker thread
    qtbot.waitUntil(canvas.edge_layer.is_fresh, timeout=20000)
    # the view's last change is handled on a 60 ms throttle: settle it now, so the picture
    # does not depend on how fast this machine got here
    canvas._on_range_changed.flush()
    canvas._update_glyph_size()
    canvas._update_labels()
    canvas.grab()
    qtbot.waitUntil(canvas.edge_layer.is_fresh, timeout=20000)
    return canvas, canvas.grab().toImage()


@pytest.mark.parametrize("name", ["legacy", "tc"])
def test_matches_approved_png(qtbot, tmp_path: Path, name: str) -> None:
    _, image = _render(qtbot, name)
    approved = APPROVED / f"canvas_{name}.png"
    if os.environ.get("CIRCUITDESK_APPROVE") == "1":
        image.save(str(approved))
    got, want = _pixels(image), _pixels(QImage(str(approved)))
    assert got.shape == want.shape
    diff = np.abs(got.astype(int) - want.astype(int)).max(axis=2)
    changed = float((diff > 40).mean())
    if changed > 0.002:  # more than 0.2 % of the pixels visibly different
        out = tmp_path / f"diff_{name}.png"
        QImage(np.ascontiguousarray(np.repeat((diff > 40)[..., None] * 255, 3, axis=2)
                                    .astype(np.uint8)).data, diff.shape[1], diff.shape[0],
               diff.shape[1] * 3, QImage.Format.Format_RGB888).save(str(out))
        image.save(str(tmp_path / f"got_{name}.png"))
        pytest.fail(f"{changed:.2%} of pixels differ from {approved.name}; diff saved to {out}")


def test_glyph_colours_at_known_nodes_and_themes(qtbot) -> None:
    canvas, image = _render(qtbot, "legacy")
    g = canvas.doc.graph
    logit = int(np.flatnonzero(g.nodes.kind == NodeKind.LOGIT)[0])
    p = canvas.view_point(logit)
    c = image.pixelColor(p)
    assert abs(c.red() - 230) < 30 and abs(c.green() - 145) < 30 and abs(c.blue() - 56) < 30
    canvas.set_theme(DARK)
    dark = canvas.grab().toImage()
    bg = dark.pixelColor(dark.width() - 3, 3)
    assert bg == QColor(DARK.background)


def test_level_of_detail_drops_weak_edges_when_zoomed_out(qtbot, monkeypatch) -> None:
    import circuitdesk.app.canvas.graph_canvas as canvas_mod

    monkeypatch.setattr(canvas_mod, "LOD_MIN_EDGES", 100)
    canvas, _ = _render(qtbot, "neuronpedia")
    full = list(canvas.edge_layer._order)
    canvas.vb.scaleBy((4.0, 4.0))  # zoom far out
    qtbot.waitUntil(lambda: len(canvas.edge_layer._order) < len(full), timeout=5000)
    assert set(canvas.edge_layer._order) <= set(full)
    canvas.reset_view()
    qtbot.waitUntil(lambda: canvas.edge_layer._order == full, timeout=5000)


def test_leader_lines_start_at_the_glyph_edge(qtbot) -> None:
    """A label's leader line runs from its glyph's edge to the box: drawn from the centre it
    crossed the glyph and hid half its colour."""
    from PySide6.QtGui import QPainter

    from circuitdesk.app.canvas.labels import LabelPainter, PlacedLabel

    painter_item = LabelPainter()
    painter_item.labels = [PlacedLabel("far label", 0, (50.0, 60.0), (-30.0, -45.0, 30.0, -30.0),
                                       True, glyph_radius=4.0)]
    image = QImage(100, 100, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter_item.paint(painter)
    painter.end()

    def dark(x: int, y: int) -> bool:
        return image.pixelColor(x, y).lightness() < 200

    assert any(dark(x, y) for x in (49, 50, 51) for y in range(40, 54))  # the line is drawn
    assert not any(dark(x, y) for x in (49, 50, 51) for y in range(57, 64))  # not over the glyph
