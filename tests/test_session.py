"""qParams in both naming conventions, and sessions that reopen identical."""

from __future__ import annotations

from pathlib import Path

import orjson

from circuitdesk.graph import document as cmd
from circuitdesk.graph import load_graph
from circuitdesk.graph.document import Document
from circuitdesk.graph.io.session import save_session, state_from_qparams

from .conftest import FIXTURES


def test_transformer_circuits_qparams_by_js_node_id() -> None:
    g = load_graph(FIXTURES["tc"])
    state = state_from_qparams(g)
    raw = orjson.loads(FIXTURES["tc"].read_bytes())
    js = {n["jsNodeId"]: [] for n in raw["nodes"]}
    for n in raw["nodes"]:
        js[n["jsNodeId"]].append(n["node_id"])
    expected = {nid for ref in raw["qParams"]["pinnedIds"] for nid in js.get(ref, [])}
    assert state.pinned == expected and len(expected) >= len(raw["qParams"]["pinnedIds"])
    names = [s[0] for s in raw["qParams"]["supernodes"]]
    assert [s.name for s in state.supernodes] == names
    assert state.clicked in js[raw["qParams"]["clickedId"]]


def test_qparams_by_node_id(tmp_path: Path) -> None:
    raw = orjson.loads(FIXTURES["neuronpedia"].read_bytes())
    raw["qParams"].update(pinnedIds=["0_1259_1", "27_24318_6", "missing"],
                          supernodes=[["group A", "0_1259_1", "0_1285_1"]], clickedId="0_1285_1")
    p = tmp_path / "np.json"
    p.write_bytes(orjson.dumps(raw))
    state = state_from_qparams(load_graph(p))
    assert state.pinned == {"0_1259_1", "27_24318_6"}
    assert state.supernodes[0].members == ("0_1259_1", "0_1285_1")
    assert state.clicked == "0_1285_1"


def test_session_round_trip(tmp_path: Path) -> None:
    g = load_graph(FIXTURES["neuronpedia"])
    doc = Document(g)
    ids = g.nodes.ids
    cmd.pin(doc, ids[:3])
    cmd.drop(doc, ids[5:7])
    cmd.group(doc, ids[1:3], "my group")
    cmd.move_nodes(doc, {ids[0]: (1.25, 3.5)})
    cmd.set_label(doc, ids[0], "renamed")
    cmd.set_thresholds(doc, 0.6, 0.9)
    cmd.click(doc, ids[2])
    out = tmp_path / "session.json"
    save_session(out, g, doc.state)
    g2 = load_graph(out)
    state2 = state_from_qparams(g2)
    assert state2 == doc.state
    assert g2.nodes.label[0] == "renamed"
    # the viewers' own fields use node_id
    q = orjson.loads(out.read_bytes())["qParams"]
    assert set(q["pinnedIds"]) == set(ids[:3]) and q["supernodes"][0][0] == "my group"


def test_js_node_id_names_every_position(tmp_path: Path) -> None:
    raw = orjson.loads(FIXTURES["tc"].read_bytes())
    node = next(n for n in raw["nodes"] if n["feature_type"] == "cross layer transcoder")
    twin = dict(node, node_id=node["node_id"].rsplit("_", 1)[0] + "_7", ctx_idx=7)
    raw["nodes"].append(twin)
    raw["qParams"]["pinnedIds"] = [node["jsNodeId"]]
    p = tmp_path / "tc.json"
    p.write_bytes(orjson.dumps(raw))
    assert state_from_qparams(load_graph(p)).pinned == {node["node_id"], twin["node_id"]}
