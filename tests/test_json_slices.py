"""Big graph JSON is parsed with its links in slices (the GIL is let go between them); the
result is always what ``orjson.loads`` gives, whatever the layout."""

from __future__ import annotations

import json

import orjson
import pytest
from circuitdesk.graph.io import json_slices
from circuitdesk.graph.io.json_slices import _sliced, loads
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import FIXTURES


def _graph(n_links: int, note: str = "") -> dict:
    nodes = [{"node_id": f"{i}_{i * 7}_1", "clerp": f"feature {i} }},{{ {note}"} for i in range(50)]
    links = [{"source": f"{i % 50}_{(i % 50) * 7}_1", "target": f"{(i + 1) % 50}_1_1",
              "weight": (-1) ** i * i / 3} for i in range(n_links)]
    return {"metadata": {"prompt": 'the "links": [ trap'}, "qParams": {}, "nodes": nodes,
            "links": links}


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("indent", [None, 2])
def test_real_files_parse_the_same_in_slices(name: str, indent: int | None) -> None:
    data = FIXTURES[name].read_bytes()
    if indent:
        data = json.dumps(json.loads(data), indent=indent).encode()
    doc = _sliced(data, 512)  # a few hundred slices
    assert doc is not None and doc == orjson.loads(data)
    assert loads(data, 512) == orjson.loads(data)


def test_strings_that_look_like_cuts_do_not_change_the_result() -> None:
    doc = _graph(400, note='"links": [ ] }, { "x": 1')
    doc["links"][7]["note"] = "a},{b"  # inside a link: the slice holding it will not parse
    data = orjson.dumps(doc)
    assert loads(data, 256) == doc


@pytest.mark.parametrize("layout", ["links-first", "nested", "no-links", "empty", "dup-key"])
def test_other_layouts_are_parsed_whole(layout: str) -> None:
    base = _graph(300)
    doc = {"links-first": {"links": base["links"], "nodes": base["nodes"]},
           "nested": {"nodes": base["nodes"], "x": {"links": base["links"]}},
           "no-links": {"nodes": base["nodes"], "edges": base["links"]},
           "empty": {**base, "links": []}}.get(layout)
    data = orjson.dumps(doc) if doc is not None else (
        b'{"links": [1, 2], ' + orjson.dumps(base)[1:])  # orjson keeps the last "links"
    assert loads(data, 128) == orjson.loads(data)


@pytest.mark.parametrize("bad", [b'{"nodes": [], "links": [{"a": 1}, {"a": 2}, {"a": ]}',
                                 b'{"nodes": [], "links": [{"a": 1}, {"a": 1e999}]}', b'{"nodes": [], "links": [{"a": 1}, {"a": 2}]'])
def test_broken_documents_raise_as_orjson_does(bad: bytes) -> None:
    data = bad.replace(b'{"a": 1}, ', b'{"a": 1}, ' * 200)
    with pytest.raises(orjson.JSONDecodeError) as ours:
        loads(data, 64)
    with pytest.raises(orjson.JSONDecodeError) as theirs:
        orjson.loads(data)
    assert str(ours.value) == str(theirs.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({"source": st.text(max_size=8), "target": st.text(max_size=8),
                                        "weight": st.floats(allow_nan=False, allow_infinity=False)}),
                max_size=80),
       st.sampled_from([None, 1]), st.integers(8, 200))
def test_any_links_parse_the_same(links: list, indent: int | None, slice_bytes: int) -> None:
    doc = {"metadata": {}, "nodes": [{"node_id": "a"}], "links": links}
    data = json.dumps(doc, indent=indent, ensure_ascii=False).encode()
    assert loads(data, slice_bytes) == orjson.loads(data)


def test_the_loader_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from circuitdesk.graph.io.load import load_graph

    calls: list[int] = []
    real = json_slices._sliced
    monkeypatch.setattr(json_slices, "SLICE_BYTES", 1024)
    monkeypatch.setattr(json_slices, "_sliced", lambda d, s: calls.append(s) or real(d, s))
    graph = load_graph(FIXTURES["neuronpedia"])
    assert calls == [1024] and graph.n_edges > 0
