"""Canvas speed on a synthetic 5,000-node / 100,000-edge graph, 1200×900, offscreen.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_canvas.py

Reports, in one run:
- full repaint of the canvas at rest, as a ratio to a bare ``QPainter.drawLines`` of the same
  100k segments into an image of the same size (goal ≤ 1.3×);
- hover hit-test time (numpy nearest node);
- frame times while panning, zooming and hovering (goal: under about 33 ms);
- with ``--stalls N``: the longest GUI-thread gap (a 5 ms heartbeat timer in the same run)
  while an N-node circuit-tracer .pt is opened, reopened, pruned, clicked and hovered
  (goal: under 100 ms), and with ``--startup`` the start-up to a drawn demo graph against a
  bare PySide6 window (goal: at most 3x); see bench_stalls.py.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QLineF, QPointF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QPen  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from circuitdesk.app.canvas.graph_canvas import GraphCanvas  # noqa: E402
from circuitdesk.graph.document import Document  # noqa: E402
from circuitdesk.graph.model import Graph, GraphMetadata, NodeKind, make_node_table  # noqa: E402

W, H = 1200, 900


def synthetic(n_nodes: int = 5000, n_edges: int = 100_000, n_layers: int = 20,
              n_pos: int = 12, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_nodes):
        kind = NodeKind.FEATURE if i % 10 else NodeKind.ERROR
        rows.append({"id": f"{i}", "kind": int(kind), "layer": int(rng.integers(0, n_layers)),
                     "position": int(rng.integers(0, n_pos)), "feature": i,
                     "label": f"feature {i}", "influence": float(rng.random())})
    for p in range(n_pos):
        rows.append({"id": f"E{p}", "kind": int(NodeKind.EMBEDDING), "layer": -1, "position": p})
    rows.append({"id": "L0", "kind": int(NodeKind.LOGIT), "layer": n_layers + 1,
                 "position": n_pos - 1, "token_prob": 0.9})
    nodes = make_node_table(rows)
    n = len(rows)
    src = rng.integers(0, n, n_edges)
    dst = rng.integers(0, n, n_edges)
    return Graph(nodes=nodes, source=src.astype(np.int64), target=dst.astype(np.int64),
                 weight=rng.standard_normal(n_edges).astype(np.float32),
                 metadata=GraphMetadata(prompt_tokens=[f"t{p}" for p in range(n_pos)]))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def render(canvas: GraphCanvas, image: QImage) -> None:
    canvas.viewport().render(image)


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    graph = synthetic()
    doc = Document(graph)
    canvas = GraphCanvas(doc)
    canvas.resize(W, H)
    canvas.edge_layer.synchronous = True  # time the full render, not the hand-off to a worker
    canvas.show()
    app.processEvents()
    vp = canvas.viewport()
    image = QImage(vp.size(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))

    # segments in pixel coordinates, for the baseline
    pts = np.array([[canvas.view_point(i).x(), canvas.view_point(i).y()] for i in range(graph.n_nodes)],
                   dtype=float)
    segs = np.concatenate([pts[graph.source], pts[graph.target]], axis=1)
    base_lines = [QLineF(*s) for s in segs.tolist()]
    pen = QPen(QColor(214, 96, 31))  # opaque, like the canvas's pens
    pen.setCosmetic(True)

    def baseline() -> None:
        painter = QPainter(image)
        painter.setPen(pen)
        painter.drawLines(base_lines)
        painter.end()

    def full() -> None:
        canvas.edge_layer.invalidate()  # force a real repaint: drop the edge image
        render(canvas, image)

    baseline()
    full()
    t_base = statistics.median(timed(baseline, 5))
    t_full = statistics.median(timed(full, 5))
    print(f"graph: {graph.n_nodes} nodes, {graph.n_edges} edges, view {vp.width()}x{vp.height()}")
    print(f"bare drawLines of {len(base_lines)} segments: {t_base * 1e3:.1f} ms")
    print(f"full canvas repaint at rest:   {t_full * 1e3:.1f} ms  ratio {t_full / t_base:.2f}x")

    rng = np.random.default_rng(1)
    points = [QPointF(float(x), float(y)) for x, y in rng.uniform(0, [W, H], (200, 2))]
    scene_points = [canvas.mapToScene(p.toPoint()) for p in points]
    hits = timed(lambda: [canvas.node_at(p) for p in scene_points], 3)
    print(f"hover hit-test: {min(hits) / len(points) * 1e6:.0f} µs per query")

    frames: dict[str, list[float]] = {"pan": [], "zoom": [], "hover": []}
    canvas._on_interacting(True)
    for k in range(20):
        canvas.vb.translateBy(x=0.05 * (1 if k % 2 else -1))
        frames["pan"] += timed(lambda: render(canvas, image), 1)
    for k in range(20):
        canvas.vb.scaleBy((0.95 if k % 2 else 1.05,) * 2)
        frames["zoom"] += timed(lambda: render(canvas, image), 1)
    canvas._on_interacting(False)
    render(canvas, image)
    rows = rng.integers(0, graph.n_nodes, 20)
    for r in rows.tolist():
        frames["hover"] += timed(lambda r=r: (canvas.set_hovered(int(r)), render(canvas, image)), 1)
    for name, ts in frames.items():
        print(f"{name:5} frame: median {statistics.median(ts) * 1e3:.1f} ms, "
              f"max {max(ts) * 1e3:.1f} ms")
    canvas.close()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--stalls", type=int, metavar="N", help="also the heartbeat run on an N-node .pt")
    ap.add_argument("--startup", action="store_true", help="also time start-up")
    opts = ap.parse_args()
    main()
    if opts.stalls or opts.startup:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_stalls

        if opts.stalls:
            bench_stalls.print_stalls(opts.stalls)
        if opts.startup:
            bench_stalls.print_startup()
