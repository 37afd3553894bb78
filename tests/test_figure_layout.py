"""Figure layout: logit labels without overlap, headroom sized to what is drawn, feature
labels where there is room, edges clipped without clipPath, aggregated arrows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from circuitdesk.graph import load_graph
from circuitdesk.graph.document import Supernode, ViewState
from circuitdesk.graph.figure import FigureOptions, build_figure
from circuitdesk.graph.figure.edges import clip_segments
from circuitdesk.graph.figure.labels import spread
from circuitdesk.graph.figure.style import Figure, TextItem, text_width
from circuitdesk.graph.io.session import state_from_qparams
from circuitdesk.graph.model import Graph, GraphMetadata, NodeKind, make_node_table

from .conftest import FIXTURES


def _crowded_logits(n: int = 10) -> Graph:
    """One feature at the last of three positions feeding ``n`` logits in one cell."""
    rows = [{"id": "e", "kind": NodeKind.EMBEDDING, "layer": -1, "position": 2},
            {"id": "f", "kind": NodeKind.FEATURE, "layer": 0, "position": 2, "label": "feat"}]
    rows += [{"id": f"L{k}", "kind": NodeKind.LOGIT, "layer": 1, "position": 2,
              "label": f'Output " token{k}" (p={0.5 / (k + 1):.3f})', "token_prob": 0.5 / (k + 1)}
             for k in range(n)]
    src = np.array([0] + [1] * n, dtype=np.int64)
    dst = np.array([1] + list(range(2, n + 2)), dtype=np.int64)
    return Graph(nodes=make_node_table(rows), source=src, target=dst,
                 weight=np.ones(n + 1, dtype=np.float32),
                 metadata=GraphMetadata(prompt_tokens=["<bos>", " a", " b"]))


def _box(t: TextItem) -> tuple[float, float, float, float]:
    tw = text_width(t.text, t.size)
    x0 = t.x - {"start": 0.0, "middle": tw / 2, "end": tw}[t.anchor]
    return x0, t.y - t.size, x0 + tw, t.y + 0.25 * t.size


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    labels = [t for t in fig.texts if t.role == "label" and not t.rotate]
    return [(a.text, b.text) for a, b in itertools.combinations(labels, 2)
            if (lambda p, q: p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3])(
                _box(a), _box(b))]


def test_crowded_logit_labels_are_level_apart_and_joined_by_leaders() -> None:
    fig = build_figure(_crowded_logits(10), options=FigureOptions(width=700, height=500))
    labels = [t for t in fig.texts if t.role == "label" and "token" in t.text]
    assert len(labels) == 10 and all(t.rotate == 0 for t in labels)
    assert not _overlaps(fig)
    assert len(fig.leaders) == 10
    logits = {g.node_id: g for g in fig.nodes if g.kind == "logit"}
    for ln in fig.leaders:  # each leader runs from just above a logit up to its label
        assert any(abs(ln.x0 - g.x) < 0.01 and ln.y0 < g.y for g in logits.values())
        assert ln.y1 < fig.plot_rect[1]
    # Headroom is exactly the label rows: the highest label sits just under the margin.
    top = min(t.y - t.size for t in labels)
    assert 8.0 <= top <= 20.0


def test_logit_labels_over_the_cap_are_counted_in_a_note() -> None:
    fig = build_figure(_crowded_logits(10), options=FigureOptions(max_logit_labels=3))
    assert len([t for t in fig.texts if "token" in t.text]) == 3
    assert any("7 logit label(s) left out" in n for n in fig.notes)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_no_blank_band_and_no_overlapping_labels(name: str) -> None:
    g = load_graph(FIXTURES[name])
    fig = build_figure(g, state=state_from_qparams(g))
    drawn_top = min([t.y - t.size for t in fig.texts] + [fig.plot_rect[1]])
    assert drawn_top <= 20.0, f"blank band of {drawn_top:.0f} px above the figure's content"
    assert not _overlaps(fig)
    # Feature labels (clerps) appear on the whole-graph figure where there is room.
    named = sum(1 for i in range(g.n_nodes)
                if g.nodes.kind[i] == NodeKind.FEATURE and g.nodes.label[i].strip())
    logit_texts = {t.text for t in fig.texts if "(p=" in t.text}
    shown = [t for t in fig.texts if t.role == "label" and t.text not in logit_texts]
    assert len(shown) >= min(named, 8)


def test_no_logits_no_headroom() -> None:
    g = _crowded_logits(1)
    mask = np.array([True, True, False])
    fig = build_figure(g, node_mask=mask)
    assert fig.plot_rect[1] == pytest.approx(14.0) and not fig.leaders


def test_clip_segments_to_the_plot() -> None:
    seg = np.array([[-10.0, 5.0, 10.0, 5.0],     # enters from the left
                    [2.0, 2.0, 8.0, 8.0],        # inside
                    [20.0, 20.0, 30.0, 30.0],    # outside
                    [5.0, -5.0, 5.0, 15.0],      # vertical, through both edges
                    [11.0, 0.0, 11.0, 10.0]])    # parallel, outside
    out, keep = clip_segments(seg, (0.0, 0.0, 10.0, 10.0))
    assert keep.tolist() == [True, True, False, True, False]
    np.testing.assert_allclose(out, [[0, 5, 10, 5], [2, 2, 8, 8], [5, 0, 5, 10]])


def test_spread_keeps_order_gaps_and_bounds() -> None:
    xs = spread([50.0, 51.0, 52.0], [20.0, 20.0, 20.0], 0.0, 100.0)
    assert xs is not None and xs == pytest.approx([31.0, 51.0, 71.0])
    edge = spread([99.0, 99.5], [30.0, 30.0], 0.0, 100.0)
    assert edge == pytest.approx([55.0, 85.0])
    assert spread([1.0, 2.0], [60.0, 60.0], 0.0, 100.0) is None


def test_supernode_edges_are_one_per_pair_with_arrows_at_the_box() -> None:
    g = load_graph(FIXTURES["tc"])
    state = state_from_qparams(g)
    fig = build_figure(g, state=state, options=FigureOptions(scope="subgraph", arrows=True))
    items = {(round(n.x, 6), round(n.y, 6)) for n in fig.nodes}
    assert len(items) == len(fig.nodes)
    heads = np.vstack([b.arrows for b in fig.edges])
    assert heads.shape[0] == fig.n_edges > 0
    boxes = [(n.x - n.w / 2, n.y - n.h / 2, n.x + n.w / 2, n.y + n.h / 2) for n in fig.nodes]
    for tip in heads[:, :2]:  # each tip just outside a glyph's box (1 px gap)
        assert any(b[0] - 2.1 <= tip[0] <= b[2] + 2.1 and b[1] - 2.1 <= tip[1] <= b[3] + 2.1
                   for b in boxes)
    # One edge per (source item, target item): summed, never one per member pair.
    seg = np.vstack([b.segments for b in fig.edges])
    assert len({tuple(np.round(r[:2], 3)) + tuple(np.round(h[:2], 3))
                for r, h in zip(seg, heads)}) == len(seg)
    plain = build_figure(g, state=state, options=FigureOptions(scope="subgraph"))
    assert plain.n_edges == fig.n_edges and all(not b.arrows.size for b in plain.edges)


def test_group_edge_width_follows_summed_weight() -> None:
    rows = [{"id": "a", "kind": NodeKind.FEATURE, "layer": 0, "position": 0},
            {"id": "b", "kind": NodeKind.FEATURE, "layer": 0, "position": 1},
            {"id": "c", "kind": NodeKind.FEATURE, "layer": 1, "position": 1},
            {"id": "d", "kind": NodeKind.FEATURE, "layer": 1, "position": 0},
            {"id": "e", "kind": NodeKind.FEATURE, "layer": 0, "position": 0}]
    g = Graph(nodes=make_node_table(rows), source=np.array([0, 1, 0, 4]),
              target=np.array([2, 2, 3, 3]),
              weight=np.array([1.0, 1.0, 0.2, 1.8], dtype=np.float32),
              metadata=GraphMetadata(prompt_tokens=["x", "y"]))
    state = ViewState(supernodes=(Supernode("ab", ("a", "b")),),
                      pinned=frozenset({"c", "d", "e"}))
    fig = build_figure(g, state=state, options=FigureOptions(scope="subgraph"))
    widths = sorted(b.width for b in fig.edges for _ in b.segments)
    assert fig.n_edges == 3  # ab->c summed (2.0, all of c's input), ab->d (0.2 of 2.0), e->d
    assert widths[0] < widths[-1]
