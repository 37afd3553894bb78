"""UniformScatter places its points in the atlas exactly as pyqtgraph's own scatter does."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
import pyqtgraph as pg  # noqa: E402

from circuitdesk.app.canvas.scatter import UniformScatter  # noqa: E402

pytestmark = pytest.mark.gui


def _pair(**style: object) -> tuple[pg.ScatterPlotItem, UniformScatter]:
    return pg.ScatterPlotItem(pxMode=True, **style), UniformScatter(pxMode=True, **style)


@pytest.mark.parametrize("style", [
    {"symbol": "s", "size": 9, "pen": pg.mkPen(60, 60, 60), "brush": pg.mkBrush(200, 40, 40)},
    {"symbol": "o", "size": 14, "brush": None, "pen": pg.mkPen(0, 0, 0, width=2)},
])
def test_same_atlas_places_as_pyqtgraph(qapp, style: dict) -> None:
    pos = np.random.default_rng(0).uniform(0, 100, (500, 2))
    plain, ours = _pair(**style)
    for item in (plain, ours):
        item.setData(pos=pos)
        item.setSize(11)  # a new size re-places every point
    for field in ("x", "y", "w", "h"):
        got, want = ours.data["sourceRect"][field], plain.data["sourceRect"][field]
        assert (want > 0).all() if field in ("w", "h") else True
        np.testing.assert_array_equal(got, want)
    assert ours._maxSpotPxWidth == plain._maxSpotPxWidth


def test_points_with_their_own_brush_fall_back(qapp) -> None:
    pos = np.zeros((3, 2))
    brushes = [pg.mkBrush(255, 0, 0), pg.mkBrush(0, 255, 0), pg.mkBrush(0, 0, 255)]
    plain, ours = _pair(symbol="o", size=10, pen=pg.mkPen(0, 0, 0))
    for item in (plain, ours):
        item.setData(pos=pos, brush=brushes)
    rects = ours.data["sourceRect"]
    assert len({(r["x"], r["y"]) for r in rects}) == 3  # three atlas entries, one per colour
    np.testing.assert_array_equal(rects, plain.data["sourceRect"])
