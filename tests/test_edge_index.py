"""The per-node edge index (Graph.edges_of) against a scan of every edge."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from circuitdesk.graph.model import Graph, NodeKind, make_node_table


def _random_graph(seed: int, n: int = 40, m: int = 600) -> Graph:
    rng = np.random.default_rng(seed)
    nodes = make_node_table([{"id": f"n{i}", "kind": NodeKind.FEATURE} for i in range(n)])
    src = rng.integers(0, n, m).astype(np.int64)
    dst = rng.integers(0, n, m).astype(np.int64)
    dst[:5] = src[:5]  # self-loops are valid graphs
    return Graph(nodes, src, dst, rng.normal(size=m).astype(np.float32))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edges_of_equals_a_scan(seed: int) -> None:
    g = _random_graph(seed)
    for row in range(g.n_nodes):
        both = np.flatnonzero((g.source == row) | (g.target == row))
        assert np.array_equal(g.edges_of(row), both)
        assert np.array_equal(g.edges_of(row, outputs=False), np.flatnonzero(g.target == row))
        assert np.array_equal(g.edges_of(row, inputs=False), np.flatnonzero(g.source == row))


def test_a_replaced_graph_gets_its_own_index() -> None:
    g = _random_graph(3)
    g.edges_of(0)
    flipped = dataclasses.replace(g, source=g.target, target=g.source)
    assert np.array_equal(flipped.edges_of(0, inputs=False), np.flatnonzero(g.target == 0))


def test_split_by_bucket_equals_one_mask_per_bucket() -> None:
    pytest.importorskip("PySide6")
    from circuitdesk.app.canvas.edge_plan import split_by_bucket

    rng = np.random.default_rng(1)
    for n in (0, 1, 17, 1000):
        segs, bucket = rng.normal(size=(n, 4)), rng.integers(0, 8, n)
        got = split_by_bucket(segs, bucket, 8)
        assert len(got) == 8
        for b, part in enumerate(got):
            np.testing.assert_array_equal(part, segs[bucket == b])
