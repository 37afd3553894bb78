"""Check a rendered figure's pixels against its description: nodes, edges and labels drawn.

    python benchmarks/render_check.py [--full] [GRAPH.json ...]

Exports each graph's default figure (as ``circuitdesk export`` does, the file's own
session and pruning applied; ``--full``: every node and edge) to SVG, renders it with every renderer found on the PATH
(``rsvg-convert``, ImageMagick's ``convert``, ``inkscape``) and counts, on the PNG:

- node glyphs whose centre has the glyph's fill colour (glyphs of at least 3 px not
  covered by a label or another glyph);
- edges whose midpoint is painted (not the plain background or row band);
- labels with text-coloured pixels inside their box.

Prints one line per graph and renderer; exits 1 when a renderer misses any kind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from circuitdesk.graph import load_graph
from circuitdesk.graph.analysis.prune import prune
from circuitdesk.graph.figure import build_figure, write_svg
from circuitdesk.graph.figure.style import Figure, NodeGlyph, text_width
from circuitdesk.graph.io.session import state_from_qparams

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_svg import default_graphs  # noqa: E402

RENDERERS = {
    "rsvg-convert": lambda exe, svg, png: [exe, str(svg), "-o", str(png)],
    "convert": lambda exe, svg, png: [exe, str(svg), str(png)],
    "inkscape": lambda exe, svg, png: [exe, str(svg), "--export-type=png",
                                       f"--export-filename={png}"],
}


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int64)


def _covers(fig: Figure) -> list[tuple[float, float, float, float]]:
    boxes = [(r.x, r.y, r.x + r.w, r.y + r.h) for r in fig.label_boxes]
    boxes += [(t.x - text_width(t.text, t.size), t.y - t.size, t.x + text_width(t.text, t.size),
               t.y + 3) for t in fig.texts]
    return boxes


def check(fig: Figure, png: Path) -> dict[str, tuple[int, int]]:
    """``{kind: (drawn, checked)}`` for nodes, edges and labels."""
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.int64)
    h, w, _ = img.shape

    def px(x: float, y: float) -> np.ndarray:
        return img[min(max(round(y), 0), h - 1), min(max(round(x), 0), w - 1)]

    covers = _covers(fig)
    glyph_boxes = [(g.x - g.w / 2 - 1, g.y - g.h / 2 - 1, g.x + g.w / 2 + 1, g.y + g.h / 2 + 1)
                   for g in fig.nodes]

    def covered(x: float, y: float, boxes: list[tuple[float, float, float, float]]) -> bool:
        return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)

    nodes = [g for k, g in enumerate(fig.nodes) if min(g.w, g.h) >= 3 and g.kind != "supernode"
             and not covered(g.x, g.y, covers + glyph_boxes[k + 1:])]
    def glyph_drawn(g: NodeGlyph) -> bool:
        if min(g.w, g.h) >= 6:
            return bool(np.abs(px(g.x, g.y) - _rgb(g.fill)).max() <= 40)
        # A glyph under 6 px is mostly antialiased outline: its fill or stroke colour
        # within a pixel of its centre will do.
        near = [px(g.x + dx, g.y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        return min(np.abs(p - _rgb(c)).max() for p in near for c in (g.fill, g.stroke)) <= 60

    node_ok = sum(int(glyph_drawn(g)) for g in nodes)
    plain = [_rgb(c) for c in {r.fill for r in fig.rects if r.fill} | {fig.background or "#ffffff"}]
    seg = np.vstack([b.segments for b in fig.edges]) if fig.edges else np.zeros((0, 4))
    mids = [(0.5 * (a + c), 0.5 * (b + d)) for a, b, c, d in seg[::max(1, len(seg) // 200)]]
    mids = [m for m in mids if not covered(*m, covers + glyph_boxes)]
    edge_ok = sum(int(min(np.abs(px(*m) - p).max() for p in plain) > 8) for m in mids)
    labels = [t for t in fig.texts if t.role == "label"]
    label_ok = 0
    for t in labels:
        tw = text_width(t.text, t.size)
        x0 = t.x - {"start": 0.0, "middle": tw / 2, "end": tw}[t.anchor]
        box = img[max(round(t.y - t.size * 0.8), 0):round(t.y + 1),
                  max(round(x0), 0):round(x0 + tw)]
        ink = (np.abs(box - _rgb(t.color)).max(axis=2) <= 90).sum() if box.size else 0
        label_ok += int(ink >= 3)
    return {"nodes": (node_ok, len(nodes)), "edges": (edge_ok, len(mids)),
            "labels": (label_ok, len(labels))}


def main(argv: list[str]) -> int:
    full = "--full" in argv
    graphs = [Path(a) for a in argv if not a.startswith("--")] or default_graphs()
    found = {name: shutil.which(name) for name in RENDERERS}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for g in graphs:
            graph = load_graph(g)
            state = state_from_qparams(graph)
            masks: dict[str, object] = {}
            if state.pruning and not full:
                res = prune(graph, state.node_threshold, state.edge_threshold,
                            pinned=tuple(state.pinned))
                masks = {"node_mask": res.node_mask, "edge_mask": res.edge_mask}
            fig = build_figure(graph, state=state, **masks)  # type: ignore[arg-type]
            svg = Path(tmp) / f"{g.stem}.svg"
            write_svg(fig, svg)
            for name, exe in found.items():
                if exe is None:
                    continue
                png = Path(tmp) / f"{g.stem}.{name}.png"
                t0 = time.perf_counter()
                subprocess.run(RENDERERS[name](exe, svg, png), check=True, timeout=600,
                               capture_output=True)
                dt = time.perf_counter() - t0
                res = check(fig, png)
                bad = [k for k, (ok, n) in res.items() if n and ok < 0.9 * n]
                failed |= bool(bad)
                parts = ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in res.items())
                print(f"{g.name} [{name}, {dt:.1f} s]: {parts}"
                      + (f"  MISSING {bad}" if bad else ""), flush=True)
    print("renderers: " + ", ".join(f"{k}={'yes' if v else 'absent'}" for k, v in found.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
