"""The canvas's drawing data is planned in the prune worker and applied as is, unless the
view state changed meanwhile (issue 15: no GUI-thread stall when a prune result arrives)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("PySide6")
from circuitdesk.app.canvas import graph_canvas  # noqa: E402
from circuitdesk.app.canvas.edge_plan import plan_edges, same_inputs  # noqa: E402
from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import document as cmd  # noqa: E402

from .conftest import FIXTURES  # noqa: E402
from .gui_util import open_graph  # noqa: E402

pytestmark = pytest.mark.gui


def _prune_to(qtbot, window: MainWindow, node_threshold: float) -> None:
    doc = window.doc
    assert doc is not None
    with qtbot.waitSignal(window.pruned, timeout=20000):
        cmd.set_thresholds(doc, node_threshold, doc.state.edge_threshold)


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return plan_edges(*args, **kwargs)

    monkeypatch.setattr(graph_canvas, "plan_edges", counted)
    return calls


def test_worker_plan_is_applied_and_matches_a_gui_rebuild(qtbot, window: MainWindow,
                                                          monkeypatch) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    if not window.doc.state.pruning:
        with qtbot.waitSignal(window.pruned, timeout=20000):
            cmd.set_pruning(window.doc, True)
    calls = _counting(monkeypatch)
    _prune_to(qtbot, window, 0.6)
    canvas = window.canvas
    assert window.doc.state.pruning and calls == []  # the canvas planned nothing itself
    worker = (canvas.node_visible.copy(), canvas.edge_visible.copy(), canvas.share.copy(),
              [b.copy() for b in canvas.edge_layer._segments], canvas.edges_drawn)
    canvas.rebuild()  # the same inputs, planned on the GUI thread
    assert calls == [1]
    assert np.array_equal(worker[0], canvas.node_visible)
    assert np.array_equal(worker[1], canvas.edge_visible)
    assert np.array_equal(worker[2], canvas.share)
    assert all(np.array_equal(a, b) for a, b in zip(worker[3], canvas.edge_layer._segments))
    assert worker[4] == canvas.edges_drawn > 0
    assert canvas.n_edges_visible == int(canvas.edge_visible.sum())


def test_a_plan_for_other_inputs_is_not_used(qtbot, window: MainWindow, monkeypatch) -> None:
    open_graph(qtbot, window, FIXTURES["neuronpedia"])
    canvas = window.canvas
    inputs = canvas.plan_inputs()
    assert inputs is not None and same_inputs(inputs, canvas.plan_inputs())
    stale = replace(inputs, density="top20")
    assert not same_inputs(stale, inputs)
    moved = replace(inputs, xy=inputs.xy + 1.0)
    assert not same_inputs(moved, inputs)
    calls = _counting(monkeypatch)
    canvas.set_prune_masks(inputs.node_mask, inputs.edge_mask, (stale, plan_edges(window.doc.graph, stale)))
    assert calls == [1]  # planned again for what is really shown
    assert canvas.edges_drawn == canvas.n_edges_visible  # density "all", not the stale top 20 %


def test_a_superseded_edge_render_stops(qapp) -> None:
    from PySide6.QtGui import QPen, QTransform

    from circuitdesk.app.canvas.edges import RENDER_CHUNK, _render

    segs = [np.random.default_rng(0).uniform(0, 100, (RENDER_CHUNK * 4, 4))]
    job = ((1, (), 200, 100), QTransform(), segs, [QPen()], [0])
    asked: list[int] = []

    def wanted() -> bool:
        asked.append(1)
        return len(asked) < 2

    assert _render(*job, wanted=wanted) is None and len(asked) == 2  # stopped at chunk two
    image = _render(*job, wanted=lambda: True)
    assert image is not None and image.width() == 200


def test_edge_image_calls_are_bounded_by_drawn_length(qapp) -> None:
    """Each drawLines call holds the GIL: long lines go fewer to a call, in pixels as drawn."""
    from PySide6.QtGui import QTransform

    from circuitdesk.app.canvas.edges import RENDER_CHUNK, RENDER_PIXELS, chunk_bounds

    def calls(seg: np.ndarray, tf: QTransform) -> list[tuple[int, float]]:
        b = chunk_bounds(seg, tf)
        assert b[0] == 0 and b[-1] == len(seg) and (np.diff(b) > 0).all()
        return [(int(hi - lo), float(np.hypot(seg[lo:hi, 2] - seg[lo:hi, 0],
                                              seg[lo:hi, 3] - seg[lo:hi, 1]).sum()))
                for lo, hi in itertools.pairwise(b)]

    short = np.tile([0.0, 0.0, 2.0, 0.0], (1000, 1))  # 2 px each: the line count bounds
    assert [n for n, _ in calls(short, QTransform())] == [RENDER_CHUNK] * 4
    long = np.tile([0.0, 0.0, 1000.0, 0.0], (1000, 1))  # 1000 px each: the pixels bound
    got = calls(long, QTransform())
    assert max(n for n, _ in got) <= RENDER_PIXELS // 1000 + 1 and len(got) >= 1000 * 1000 / (
        RENDER_PIXELS + 1000)
    zoomed = calls(short, QTransform.fromScale(500.0, 1.0))  # 2 scene units drawn 1000 px wide
    assert [n for n, _ in zoomed] == [n for n, _ in got]
    tilted = np.tile([0.0, 0.0, 0.0, 2.0], (1000, 1))  # vertical: only the y scale counts
    assert len(calls(tilted, QTransform.fromScale(500.0, 1.0))) == 4
    assert chunk_bounds(np.zeros((0, 4)), QTransform()).tolist() == [0]
    nan = np.full((10, 4), np.nan)
    assert chunk_bounds(nan, QTransform()).tolist() == [0, 10]
