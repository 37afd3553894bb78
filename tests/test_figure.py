"""The figure description and its SVG: structure, math on hand-built graphs, and a PNG match."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from circuitdesk.graph import load_graph
from circuitdesk.graph.document import Supernode, ViewState
from circuitdesk.graph.figure.build import (
    FigureOptions,
    build_figure,
)
from circuitdesk.graph.figure.style import LIGHT, EdgeBucket, Figure, edge_color
from circuitdesk.graph.analysis.layout import layer_layout
from circuitdesk.graph.model import Graph, GraphMetadata, NodeKind, make_node_table
from circuitdesk.graph.io.session import state_from_qparams
from circuitdesk.graph.analysis.supernodes import sum_between
from circuitdesk.graph.figure.svg_writer import figure_to_svg
from circuitdesk.graph.analysis.view import input_share

from .conftest import FIXTURES

SVG = "{http://www.w3.org/2000/svg}"


def _tiny() -> Graph:
    """e0 -> a, e0 -> b, a -> b, a -> c, b -> c, c -> logit; two positions, two layers."""
    rows = [
        {"id": "e0", "kind": NodeKind.EMBEDDING, "layer": -1, "position": 0},
        {"id": "a", "kind": NodeKind.FEATURE, "layer": 0, "position": 0,
         "label": 'feature <a> & "A"'},
        {"id": "b", "kind": NodeKind.FEATURE, "layer": 0, "position": 1, "label": "b"},
        {"id": "c", "kind": NodeKind.FEATURE, "layer": 1, "position": 1, "label": "c\x01ctl"},
        {"id": "err", "kind": NodeKind.ERROR, "layer": 1, "position": 0},
        {"id": "L", "kind": NodeKind.LOGIT, "layer": 2, "position": 1,
         "label": 'Output " Paris" (p=0.987)', "token_prob": 0.987},
    ]
    src = np.array([0, 0, 1, 1, 2, 4, 3], dtype=np.int64)
    dst = np.array([1, 2, 2, 3, 3, 3, 5], dtype=np.int64)
    w = np.array([1.0, 2.0, -1.0, 3.0, 1.0, -4.0, 5.0], dtype=np.float32)
    return Graph(nodes=make_node_table(rows), source=src, target=dst, weight=w,
                 metadata=GraphMetadata(prompt_tokens=["<bos>", " Paris"]))


def _svg_texts(svg: str, cls: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def test_input_share_is_weight_over_abs_input_of_target() -> None:
    target = np.array([3, 3, 3, 5])
    weight = np.array([3.0, 1.0, -4.0, 5.0])
    np.testing.assert_allclose(input_share(target, weight), [3 / 8, 1 / 8, -4 / 8, 1.0])


def test_group_edges_sum_member_weights_and_drop_inner_ones() -> None:
    g = _tiny()
    display = np.array([0, 1, 1, 2, 3, 4])  # a and b form one item
    s, t, w = sum_between(g.source, g.target, g.weight, display)
    got = {(int(a), int(b)): float(x) for a, b, x in zip(s, t, w)}
    assert got == {(0, 1): 3.0, (1, 2): 4.0, (3, 2): -4.0, (2, 4): 5.0}


def test_tiny_figure_glyphs_labels_and_edge_colours() -> None:
    g = _tiny()
    state = ViewState(pinned=frozenset({"a", "c"}))
    fig = build_figure(g, state=state, options=FigureOptions(width=600, height=400))
    shapes = {n.node_id: n.shape for n in fig.nodes}
    assert shapes == {"e0": "square", "a": "circle", "b": "circle", "c": "circle",
                      "err": "diamond", "L": "square"}
    strokes = {n.node_id: n.stroke for n in fig.nodes}
    assert strokes["a"] == strokes["c"] == LIGHT.pinned and strokes["b"] == LIGHT.stroke
    assert fig.n_edges == g.n_edges
    # err -> c carries -4/8 of c's input: saturated blue, the strongest negative bucket.
    neg = [b for b in fig.edges if b.sign < 0]
    assert neg and max(neg, key=lambda b: b.magnitude).color == edge_color(LIGHT, -0.4 * 0.875)
    svg = figure_to_svg(fig)
    labels = _svg_texts(svg, "label")
    assert sorted(labels) == sorted([t.text for t in fig.texts if t.role == "label"])
    assert '" Paris" (p=0.987)' in labels and 'feature <a> & "A"' in labels
    full = build_figure(g, state=state, options=FigureOptions(short_logit_labels=False))
    assert 'Output " Paris" (p=0.987)' in [t.text for t in full.texts if t.role == "label"]
    assert "cctl" in labels  # the control character is dropped, not written raw
    assert _svg_texts(svg, "tick-x") == ["<bos>", "Paris"]
    assert _svg_texts(svg, "tick-y") == ["Emb", "L0", "L1", "Logit"]


def test_moved_node_is_drawn_where_the_user_put_it() -> None:
    g = _tiny()
    ax, ay = layer_layout(g).xy[g.index_of("a")]
    opts = FigureOptions(compact_rows=False)
    before = {n.node_id: (n.x, n.y) for n in build_figure(g, options=opts).nodes}
    moved = ViewState(positions={"b": (float(ax), float(ay) + 1.0)})  # one row above a
    after = {n.node_id: (n.x, n.y) for n in build_figure(g, state=moved, options=opts).nodes}
    row_px = before["e0"][1] - before["a"][1]  # e0 is one row below a
    assert after["b"][0] == pytest.approx(after["a"][0])
    assert after["a"][1] - after["b"][1] == pytest.approx(row_px)
    assert after["e0"] == before["e0"]


def test_supernode_drawn_as_one_box_with_its_name() -> None:
    g = _tiny()
    state = ViewState(supernodes=(Supernode("a & b", ("a", "b")),))
    fig = build_figure(g, state=state)
    ids = {n.node_id for n in fig.nodes}
    assert "a" not in ids and "b" not in ids and "group:a & b" in ids
    assert fig.n_edges == 4  # e0->group (summed), group->c (summed), err->c, c->L
    assert _svg_texts(figure_to_svg(fig), "group") == ["a & b"]


def test_masks_scope_and_transparency() -> None:
    g = _tiny()
    mask = np.array([True, True, False, True, True, True])
    fig = build_figure(g, node_mask=mask, options=FigureOptions(transparent=True))
    assert "b" not in {n.node_id for n in fig.nodes}
    assert fig.background is None and not fig.rects
    assert 'height="100%"' not in figure_to_svg(fig)
    sub = build_figure(g, state=ViewState(pinned=frozenset({"a", "c"})),
                       options=FigureOptions(scope="subgraph"))
    assert {n.node_id for n in sub.nodes} == {"a", "c"} and sub.n_edges == 1
    view = build_figure(g, options=FigureOptions(scope="view", view_rect=(0.0, -0.5, 1.0, 1.5),
                                                 compact_rows=False))
    assert {n.node_id for n in view.nodes} <= {"e0", "a", "err"}
    with pytest.raises(ValueError, match="view_rect"):
        build_figure(g, options=FigureOptions(scope="view"))
    with pytest.raises(ValueError, match="theme"):
        build_figure(g, options=FigureOptions(theme="sepia"))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_svg_is_well_formed_with_every_label(name: str) -> None:
    g = load_graph(FIXTURES[name])
    state = state_from_qparams(g)
    fig = build_figure(g, state=state, options=FigureOptions(all_labels=True, max_labels=40))
    svg = figure_to_svg(fig)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    shown = [t.text for t in fig.texts if t.role == "label"]
    assert 0 < len(shown) <= 40 + FigureOptions().max_logit_labels
    assert sorted(_svg_texts(svg, "label")) == sorted(shown)
    assert len(_svg_texts(svg, "tick-x")) == g.n_positions
    assert _svg_texts(svg, "tick-y")[0] == "Emb" and _svg_texts(svg, "tick-y")[-1] == "Logit"
    assert {s.name for s in state.supernodes} == set(_svg_texts(svg, "group"))
    kinds = {n.kind for n in fig.nodes}
    assert {"feature", "embedding", "logit"} <= kinds


def test_empty_rows_are_closed_up() -> None:
    g = load_graph(FIXTURES["legacy"])  # features only in layers 18-25
    fig = build_figure(g)
    ticks = [t.text for t in fig.texts if t.role == "tick-y"]
    assert ticks == ["Emb"] + [f"L{i}" for i in range(18, 26)] + ["Logit"]


def test_100k_edges_are_short_lines_in_a_few_styled_groups() -> None:
    rng = np.random.default_rng(0)
    seg = rng.uniform(0, 1000, size=(100_000, 4))
    buckets = [EdgeBucket("#123456", 1.0 + k, seg[k::10]) for k in range(10)]
    fig = Figure(width=1200, height=800, background="#ffffff", plot_rect=(0, 0, 1200, 800),
                 edges=buckets)
    svg = figure_to_svg(fig)
    root = ET.fromstring(svg)
    edges = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "edges")
    groups = list(edges)
    assert len(groups) == 10 and all(g.tag == f"{SVG}g" and g.get("stroke") for g in groups)
    lines = [el for g in groups for el in g]
    assert len(lines) == 100_000 and {el.tag for el in lines} == {f"{SVG}line"}
    assert all(len(el.attrib) == 4 for el in lines[:100])  # the stroke is on the group
    size = len(svg.encode())
    assert size < 6_500_000, f"{size} bytes"
    # Nothing a common renderer lacks: ImageMagick drew nothing inside a clipped group.
    for feature in ("clip-path", "clipPath", "<use", "style=", "<style"):
        assert feature not in svg


def _render_svg(svg_path: Path, png_path: Path) -> None:
    """Rasterise with an independent renderer: cairosvg (dev extra), else rsvg-convert."""
    try:
        import cairosvg
    except ImportError:
        exe = shutil.which("rsvg-convert")
        if exe is None:
            pytest.skip("neither cairosvg (pip install '.[dev]') nor rsvg-convert is installed")
        subprocess.run([exe, str(svg_path), "-o", str(png_path)], check=True, timeout=60)
    else:
        cairosvg.svg2png(url=str(svg_path), write_to=str(png_path))


def _pixel(img: object, x: float, y: float) -> tuple[int, int, int]:
    c = img.pixelColor(round(x), round(y))  # type: ignore[attr-defined]
    return c.red(), c.green(), c.blue()


@pytest.mark.gui
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_svg_and_png_agree_at_node_centres(qapp: object, tmp_path: Path, theme: str) -> None:
    from circuitdesk.app.figure_png import render_image
    from PySide6.QtGui import QImage

    g = load_graph(FIXTURES["tc"])
    fig = build_figure(g, state=state_from_qparams(g), options=FigureOptions(theme=theme))
    svg_path, ref_png = tmp_path / "f.svg", tmp_path / "rsvg.png"
    svg_path.write_text(figure_to_svg(fig), encoding="utf-8")
    _render_svg(svg_path, ref_png)
    ref = QImage(str(ref_png))
    ours = render_image(fig, dpi=96)
    assert (ref.width(), ref.height()) == (ours.width(), ours.height()) == (1200, 800)
    boxes = [(g.x - g.w / 2, g.y - g.h / 2, g.x + g.w / 2, g.y + g.h / 2)
             for g in fig.nodes if g.kind == "supernode"]
    boxes += [(t.x - len(t.text) * t.size, t.y - t.size, t.x + len(t.text) * t.size, t.y + 2)
              for t in fig.texts]
    big = [n for n in fig.nodes if min(n.w, n.h) >= 7 and n.stroke_width < 1
           and not any(b[0] <= n.x <= b[2] and b[1] <= n.y <= b[3] for b in boxes)]
    assert len(big) >= 5
    bad = []
    for n in big:
        want = tuple(int(n.fill[i:i + 2], 16) for i in (1, 3, 5))
        a, b = _pixel(ref, n.x, n.y), _pixel(ours, n.x, n.y)
        if max(abs(p - q) for p, q in zip(a, b)) > 12 or max(abs(p - q) for p, q in zip(a, want)) > 12:
            bad.append((n.node_id, want, a, b))
    if bad:
        ours.save(str(tmp_path / "qt.png"))
        pytest.fail(f"{len(bad)} of {len(big)} node centres differ (fill, rsvg, qt): {bad[:5]}; "
                    f"images in {tmp_path}")
    # Background agrees too, away from everything.
    x0 = fig.width - 5
    assert _pixel(ref, x0, fig.height - 5) == _pixel(ours, x0, fig.height - 5)


def test_options_are_frozen() -> None:
    opts = FigureOptions()
    assert replace(opts, width=10).width == 10
