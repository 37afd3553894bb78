"""Predicted effects on a hand-built graph, verdicts and the summary."""

from __future__ import annotations

import numpy as np
import pytest

from circuitdesk.graph.model import Graph, NodeKind, make_node_table
from circuitdesk.graph.analysis.verify import predict, summarise, verdict


def _chain() -> Graph:
    # emb(0) -> f1 (a=2) -> f2 (a=4) -> logit ; f1 -> logit directly ; err -> f2
    rows = [
        {"id": "e", "kind": int(NodeKind.EMBEDDING), "layer": -1},
        {"id": "f1", "kind": int(NodeKind.FEATURE), "layer": 0, "activation": 2.0},
        {"id": "f2", "kind": int(NodeKind.FEATURE), "layer": 1, "activation": 4.0},
        {"id": "err", "kind": int(NodeKind.ERROR), "layer": 0},
        {"id": "L", "kind": int(NodeKind.LOGIT), "layer": 3},
    ]
    src = np.array([0, 1, 1, 2, 3])
    dst = np.array([1, 2, 4, 4, 2])
    w = np.array([2.0, 1.0, 0.5, 3.0, 3.0], dtype=np.float32)
    return Graph(nodes=make_node_table(rows), source=src, target=dst, weight=w)


def test_ablation_direct_and_total_by_hand() -> None:
    g = _chain()
    p = predict(g, [1])  # ablate f1: its contribution to every target is removed
    # direct: f2 pre-activation -1, logit -0.5
    assert p.direct.tolist() == pytest.approx([0, 0, -1.0, 0, -0.5])
    # total: f2 activation falls by 1 of 4 -> x=-0.25 -> logit -0.25*3 = -0.75, plus -0.5 direct
    assert p.total[4] == pytest.approx(-1.25)
    assert p.total[2] == pytest.approx(-1.0)


def test_scaling_and_pruned_paths() -> None:
    g = _chain()
    p = predict(g, [1], fraction=1.0)  # double f1
    assert p.total[4] == pytest.approx(1.25)
    keep = np.array([True, True, True, False, True])  # drop f2 -> logit from the pruned graph
    q = predict(g, [1], edge_mask=keep)
    assert q.direct[4] == pytest.approx(-0.5)  # direct effects still use every edge
    assert q.total[4] == pytest.approx(-0.5)


def test_missing_activation_makes_total_unknown() -> None:
    g = _chain()
    g.nodes.activation[2] = np.nan
    p = predict(g, [1])
    assert np.isnan(p.total[4]) and p.direct[4] == pytest.approx(-0.5)


def test_cycle_gives_no_total() -> None:
    g = _chain()
    g.source = np.append(g.source, 2)
    g.target = np.append(g.target, 1)
    g.weight = np.append(g.weight, np.float32(0.1))
    assert np.isnan(predict(g, [1]).total).all()


@pytest.mark.parametrize(("pred", "obs", "want"), [
    (-1.0, -0.9, "confirmed"), (-1.0, -0.2, "weaker than predicted"), (-1.0, 0.5, "contradicted"),
    (0.0, 0.0, "no effect predicted"), (float("nan"), 1.0, "no prediction"),
])
def test_verdicts(pred: float, obs: float, want: str) -> None:
    assert verdict(pred, obs) == want


def test_summary() -> None:
    s = summarise([1.0, -2.0, 3.0, float("nan")], [0.9, -1.5, -0.1, 2.0])
    assert s.n == 3
    assert s.sign_agreement == pytest.approx(2 / 3)
    assert s.verdicts == {"confirmed": 2, "contradicted": 1}
    assert -1 <= s.correlation <= 1
