"""The layer × token layout."""

from __future__ import annotations

import numpy as np

from circuitdesk.graph import NodeKind, load_graph
from circuitdesk.graph.analysis.layout import layer_layout, node_rows

from .conftest import FIXTURES


def test_rows_and_columns() -> None:
    g = load_graph(FIXTURES["neuronpedia"])
    lay = layer_layout(g)
    rows = node_rows(g)
    kind = g.nodes.kind
    assert (rows[kind == NodeKind.EMBEDDING] == 0).all()
    assert (rows[kind == NodeKind.LOGIT] == rows.max()).all()
    feat = kind == NodeKind.FEATURE
    assert (rows[feat] == g.nodes.layer[feat] + 1).all()  # every layer is occupied here
    assert lay.row_labels[0] == "Emb" and lay.row_labels[int(rows.max())] == "Logit"
    assert lay.row_labels[1] == "L0"
    # every node sits inside its position's column, columns ordered left to right
    left = lay.column_x - lay.column_width / 2
    right = lay.column_x + lay.column_width / 2
    pos = g.nodes.position
    assert (lay.xy[:, 0] >= left[pos]).all() and (lay.xy[:, 0] <= right[pos]).all()
    assert (np.diff(lay.column_x) > 0).all()
    # nodes sharing a cell never overlap
    keys = set()
    for x, y in lay.xy.round(6).tolist():
        assert (x, y) not in keys
        keys.add((x, y))


def test_layout_is_deterministic() -> None:
    g = load_graph(FIXTURES["tc"])
    np.testing.assert_array_equal(layer_layout(g).xy, layer_layout(g).xy)


def test_empty_layers_get_no_row() -> None:
    g = load_graph(FIXTURES["legacy"])  # layers 18-25 only
    lay = layer_layout(g)
    rows = node_rows(g)
    assert rows.max() == 9 and lay.row_labels[1] == "L18" and lay.row_labels[8] == "L25"
    assert lay.row_labels[9] == "Logit"
