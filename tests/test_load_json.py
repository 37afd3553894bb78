"""Loader tests on every real fixture (exact counts) and on the FORMATS.md variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from circuitdesk.graph import NodeKind, load_graph
from circuitdesk.graph.errors import GraphSchemaError, NotAGraphFileError
from circuitdesk.graph.io.json_write import graph_to_json

from .conftest import FIXTURES

EXPECTED = {
    # name: (format, nodes, links, kinds, n_positions, layers)
    "tc": ("transformer-circuits-json", 86, 1591,
           {"embedding": 8, "feature": 68, "error": 8, "logit": 2}, 9, 16),
    "neuronpedia": ("neuronpedia-json", 302, 2770,
                    {"embedding": 7, "feature": 227, "error": 58, "logit": 10}, 7, 26),
    "legacy": ("circuit-tracer-json", 60, 330,
               {"embedding": 10, "feature": 40, "error": 0, "logit": 10}, 10, 8),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_counts(name: str) -> None:
    fmt, n_nodes, n_links, kinds, n_pos, n_layers = EXPECTED[name]
    g = load_graph(FIXTURES[name])
    assert g.format == fmt
    assert g.n_nodes == n_nodes
    assert g.n_edges == n_links
    assert g.kind_counts() == kinds
    assert g.n_positions == n_pos
    assert len(g.layers) == n_layers
    assert g.warnings == []
    assert len(set(g.nodes.ids)) == g.n_nodes


def test_neuronpedia_fields() -> None:
    g = load_graph(FIXTURES["neuronpedia"])
    i = g.index_of("0_1259_1")
    assert g.nodes.kind[i] == NodeKind.FEATURE
    assert (g.nodes.layer[i], g.nodes.position[i], g.nodes.feature[i]) == (0, 1, 1259)
    assert g.nodes.label[i] == "ctile"
    assert g.nodes.activation[i] == pytest.approx(0.8515625)
    assert g.nodes.influence[i] == pytest.approx(0.7677525877952576)
    err = g.index_of("0_5_3")
    assert g.nodes.kind[err] == NodeKind.ERROR and g.nodes.layer[err] == 5
    logit = g.index_of("27_24318_6")
    assert g.nodes.kind[logit] == NodeKind.LOGIT and g.nodes.vocab_id[logit] == 24318
    assert g.nodes.token_prob[logit] == pytest.approx(0.357421875)
    assert g.metadata.transcoder_set == "mntss/clt-gemma-2-2b-2.5M"
    assert g.metadata.prompt_tokens[1] == "Nobel"
    assert g.metadata.node_threshold == 0.8 and g.metadata.edge_threshold == 0.85
    emb = g.index_of("E_193944_1")
    assert g.nodes.layer[emb] == -1 and g.nodes.vocab_id[emb] == 193944
    # link weights survive as float32
    k = int(np.flatnonzero((g.source == emb) & (g.target == g.index_of("0_1259_1")))[0])
    assert g.weight[k] == pytest.approx(1.3203125)


def test_transformer_circuits_has_no_influence() -> None:
    g = load_graph(FIXTURES["tc"])
    assert np.isnan(g.nodes.influence).all()
    assert g.qparams["clickedId"] == "2_18164313_-0"


def _write(tmp_path: Path, doc: object, name: str = "g.json") -> Path:
    p = tmp_path / name
    p.write_bytes(orjson.dumps(doc))
    return p


def _mini() -> dict:
    nodes = [
        {"node_id": "E_5_0", "layer": "E", "ctx_idx": 0, "feature_type": "embedding", "feature": 0},
        {"node_id": "0_1_0", "layer": "0", "ctx_idx": 0, "feature_type": "cross layer transcoder",
         "feature": 3},
        {"node_id": "0_1_0", "layer": "1", "ctx_idx": 0, "feature_type": "mlp reconstruction error",
         "feature": -1},
        {"node_id": "3_9_0", "layer": "3", "ctx_idx": 0, "feature_type": "logit",
         "token_prob": 0.5, "feature": 9},
    ]
    links = [
        {"source": "E_5_0", "target": "0_1_0", "weight": 1.0},
        {"source": "0_1_0", "target": "3_9_0", "weight": 0.5},
    ]
    return {"metadata": {"prompt": "x", "prompt_tokens": ["x"]}, "qParams": {}, "nodes": nodes,
            "links": links}


def test_colliding_error_and_feature_ids_are_both_kept(tmp_path: Path) -> None:
    g = load_graph(_write(tmp_path, _mini()))
    assert g.n_nodes == 4
    assert g.nodes.ids == ["E_5_0", "0_1_0", "0_1_0@error", "3_9_0"]
    assert g.nodes.file_ids[2] == "0_1_0"
    # E -> 0_1_0 resolves to the layer-0 feature (the link must go up the layers)
    assert g.nodes.ids[g.target[0]] == "0_1_0"
    out = graph_to_json(g)
    assert [n["node_id"] for n in out["nodes"]] == ["E_5_0", "0_1_0", "0_1_0", "3_9_0"]


def test_duplicates_self_loops_and_zero_weights_warn(tmp_path: Path) -> None:
    doc = _mini()
    doc["nodes"].append(dict(doc["nodes"][1]))
    doc["links"].append({"source": "E_5_0", "target": "E_5_0", "weight": 0.0})
    g = load_graph(_write(tmp_path, doc))
    assert g.n_nodes == 4 and g.n_edges == 3
    text = " ".join(g.warnings)
    assert "1 duplicate node id" in text and "'0_1_0'" in text
    assert "1 self-loop" in text and "1 zero-weight" in text


def test_graph_without_logits_or_embeddings(tmp_path: Path) -> None:
    doc = _mini()
    doc["nodes"] = [doc["nodes"][1]]
    doc["links"] = []
    del doc["metadata"]
    g = load_graph(_write(tmp_path, doc))
    assert g.kind_counts() == {"embedding": 0, "feature": 1, "error": 0, "logit": 0}
    assert any("metadata" in w for w in g.warnings)


@pytest.mark.parametrize(
    ("content", "error", "needle"),
    [
        (b"", NotAGraphFileError, "empty"),
        (b"   \n", NotAGraphFileError, "empty"),
        (b'{"nodes": [{"node_id": "a"', NotAGraphFileError, "not valid JSON"),
        (b"\x00\x01binary", NotAGraphFileError, "not a JSON graph"),
        (b"[1, 2]", GraphSchemaError, "not a JSON object"),
        (b'{"nodes": {}, "links": []}', GraphSchemaError, "'nodes' and 'links'"),
        (b'{"nodes": [{"x": 1}], "links": []}', GraphSchemaError, "node_id"),
    ],
)
def test_bad_input(tmp_path: Path, content: bytes, error: type, needle: str) -> None:
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(error) as info:
        load_graph(p)
    msg = str(info.value)
    assert str(p) in msg and needle in msg and "\n" not in msg


def test_missing_link_endpoint(tmp_path: Path) -> None:
    doc = _mini()
    doc["links"].append({"source": "nope", "target": "3_9_0", "weight": 1.0})
    with pytest.raises(GraphSchemaError, match="refer to nodes that are not in the file.*'nope'"):
        load_graph(_write(tmp_path, doc))


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_weight(tmp_path: Path, bad: str) -> None:
    text = orjson.dumps(_mini()).replace(b'"weight":0.5', b'"weight":' + bad.encode())
    p = tmp_path / "nan.json"
    p.write_bytes(text)
    # orjson rejects NaN literals, so this is "not valid JSON"; a huge number parses as inf.
    with pytest.raises((GraphSchemaError, NotAGraphFileError)):
        load_graph(p)


def test_overflowing_weight_is_rejected(tmp_path: Path) -> None:
    text = orjson.dumps(_mini()).replace(b'"weight":0.5', b'"weight":1e400')
    p = tmp_path / "inf.json"
    p.write_bytes(text)
    with pytest.raises((GraphSchemaError, NotAGraphFileError), match=str(p).replace("/", ".")):
        load_graph(p)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        load_graph(tmp_path / "absent.json")
    with pytest.raises(Exception, match="not a regular file"):
        load_graph(tmp_path)


def test_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    p = _write(tmp_path, _mini())
    with pytest.raises(Exception, match="over the .* limit"):
        load_graph(p, max_bytes=10)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_json_round_trip(tmp_path: Path, name: str) -> None:
    g = load_graph(FIXTURES[name])
    out = _write(tmp_path, graph_to_json(g))
    h = load_graph(out)
    assert h.nodes.ids == g.nodes.ids
    np.testing.assert_array_equal(h.source, g.source)
    np.testing.assert_array_equal(h.weight, g.weight)
    assert h.metadata.prompt == g.metadata.prompt


def test_shared_ids_round_trip_exactly(tmp_path: Path) -> None:
    """Error "0_1_0" (layer 1) and feature "0_1_0" (layer 0, feature 1) both link to one target."""
    from circuitdesk.graph.io.dense import DenseGraphData, graph_from_dense
    from circuitdesk.graph.io.json_write import write_json

    n_layers, n_pos = 3, 1
    feats = np.array([[0, 0, 1], [2, 0, 5]])  # feature 1 at layer 0, feature 5 at layer 2
    n = 2 + n_layers * n_pos + n_pos + 1
    adj = np.zeros((n, n), np.float32)
    adj[1, 0] = 0.5   # feature 0_1_0 -> feature 2_5_0
    adj[1, 3] = -2.0  # error 0_1_0 (layer 1) -> feature 2_5_0
    adj[n - 1, 1] = 1.0
    g = graph_from_dense(DenseGraphData(
        adjacency=adj, active_features=feats, activation_values=np.ones(2, np.float32),
        selected_features=np.arange(2), input_tokens=np.array([7]), logit_tokens=[9],
        logit_strings=["x"], logit_probabilities=np.array([1.0], np.float32), n_layers=n_layers))
    assert g.nodes.ids[3] == "0_1_0@error" and g.nodes.file_ids[3] == "0_1_0"
    out = tmp_path / "shared.json"
    write_json(out, graph_to_json(g))
    h = load_graph(out)
    assert h.nodes.ids == g.nodes.ids
    got = sorted(zip(h.source.tolist(), h.target.tolist(), h.weight.tolist()))
    want = sorted(zip(g.source.tolist(), g.target.tolist(), g.weight.tolist()))
    assert got == want


def test_fields_missing_on_some_nodes(tmp_path: Path) -> None:
    doc = _mini()
    doc["nodes"][0]["clerp"] = "first"  # only some nodes have labels and activations
    doc["nodes"][2]["activation"] = 2.5
    g = load_graph(_write(tmp_path, doc))
    assert g.nodes.label == ["first", "", "", ""]
    assert g.nodes.activation[2] == 2.5 and np.isnan(g.nodes.activation[[0, 1, 3]]).all()


def test_shared_ids_in_engine_json_without_our_uids(tmp_path: Path) -> None:
    """Files from the engine have no source_uid: the repeated pair is resolved in node order."""
    from circuitdesk.graph.io.dense import DenseGraphData, graph_from_dense
    from circuitdesk.graph.io.json_write import write_json

    feats = np.array([[0, 0, 1], [2, 0, 5]])
    n = 2 + 3 + 1 + 1
    adj = np.zeros((n, n), np.float32)
    adj[1, 0] = 0.5   # feature 0_1_0 (layer 0) -> feature 2_5_0
    adj[1, 3] = -2.0  # error 0_1_0 (layer 1) -> feature 2_5_0: the same id pair
    adj[n - 1, 1] = 1.0
    g = graph_from_dense(DenseGraphData(
        adjacency=adj, active_features=feats, activation_values=np.ones(2, np.float32),
        selected_features=np.arange(2), input_tokens=np.array([7]), logit_tokens=[9],
        logit_strings=["x"], logit_probabilities=np.array([1.0], np.float32), n_layers=3))
    obj = graph_to_json(g)
    for link in obj["links"]:
        link.pop("source_uid", None)
        link.pop("target_uid", None)
    out = tmp_path / "engine.json"
    write_json(out, obj)
    h = load_graph(out)
    got = sorted(zip(h.source.tolist(), h.target.tolist(), h.weight.tolist()))
    assert got == sorted(zip(g.source.tolist(), g.target.tolist(), g.weight.tolist()))
