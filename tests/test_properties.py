"""Property-based tests (issue 14): load raises only our error type, and every graph that loads
survives prune, scores, layout, session restore and SVG export.

Derandomized (the same examples on every run, no example database) and sized so that the file
runs in well under a minute; benchmarks/fuzz_load.py runs the long version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from circuitdesk.graph.errors import GraphLoadError
from circuitdesk.graph.io.json_io import graph_from_json
from circuitdesk.graph.io.load import load_graph
from circuitdesk.graph.io.session import state_from_qparams
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import badinput as bi

CHECKS = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                  suppress_health_check=[HealthCheck.too_slow])
FOLDER = Path(tempfile.mkdtemp(prefix="circuitdesk-props-"))

_numbers = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.sampled_from([1 << 63, -(1 << 63) - 1, 1 << 64, 10**8, 70_000, -1, 0, 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e39, -1e39, 3.4e38, 1e30, 1e-45, -0.0]),
)
hostile = st.one_of(
    _numbers,
    st.text(max_size=12), st.sampled_from(["E", "Lg", "12", "x" * 5000, "0_1_0", "E_5_0"]),
    st.none(), st.booleans(),
    st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=3)), max_size=3),
    st.sampled_from([10, 300, 1000]).map(bi.deep),
    st.dictionaries(st.text(max_size=5), st.integers(-2, 2), max_size=2),
)


def _check_load(path: Path, qparams: Any = None) -> None:
    try:
        graph = load_graph(path)
    except GraphLoadError as exc:
        assert "bug in CircuitDesk" not in str(exc), str(exc)
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    bi.pipeline(graph, qparams)


@st.composite
def mutated_docs(draw: st.DrawFn) -> Any:
    doc = bi.mini_doc()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["nodes", "links", "metadata", "qParams", "ours", "top"]))
        value = draw(hostile)
        if where == "top":
            doc[draw(st.sampled_from(["nodes", "links", "metadata", "qParams"]))] = value
            continue
        if where in ("nodes", "links"):
            items = doc[where]
            if not isinstance(items, list) or not items:
                continue
            k = draw(st.integers(0, len(items) - 1))
            if not isinstance(items[k], dict) or draw(st.integers(0, 9)) == 0:
                items[k] = value
                continue
            target = items[k]
            field = draw(st.sampled_from(bi.NODE_FIELDS if where == "nodes" else bi.LINK_FIELDS))
        elif where == "metadata":
            target, field = doc["metadata"], draw(st.sampled_from(bi.META_FIELDS))
        else:
            q = doc["qParams"]
            if not isinstance(q, dict):
                continue
            target = q.setdefault("circuitdesk", {}) if where == "ours" else q
            field = draw(st.sampled_from(bi.OURS_FIELDS if where == "ours" else bi.QPARAM_FIELDS))
        if isinstance(target, dict):
            target[field] = value
    return doc


@CHECKS
@given(mutated_docs())
def test_bad_json_raises_only_our_error(doc: Any) -> None:
    path = FOLDER / "doc.json"
    path.write_bytes(bi.to_json_bytes(doc))
    _check_load(path)


@CHECKS
@given(st.data())
def test_damaged_json_bytes_raise_only_our_error(data: st.DataObject) -> None:
    raw = bi.to_json_bytes(bi.mini_doc())
    path = FOLDER / "bytes.json"
    path.write_bytes(_damage(data, raw))
    _check_load(path)


def _damage(data: st.DataObject, raw: bytes) -> bytes:
    b = bytearray(raw)
    if data.draw(st.booleans()):
        return bytes(b[: data.draw(st.integers(0, len(b) - 1))])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(b) - 1), st.integers(1, 255)),
                               min_size=1, max_size=6))
    for k, x in flips:
        b[k] ^= x
    return bytes(b)


@pytest.fixture(scope="module")
def pt_bytes() -> bytes:
    pytest.importorskip("torch")
    return (bi.DATA / "ct050_small.pt").read_bytes()


@settings(CHECKS, max_examples=120, suppress_health_check=[HealthCheck.too_slow,
                                                            HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_pt_raises_only_our_error(pt_bytes: bytes, data: st.DataObject) -> None:
    path = FOLDER / "damaged.pt"
    path.write_bytes(_damage(data, pt_bytes))
    _check_load(path)


@settings(CHECKS, max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                           HealthCheck.function_scoped_fixture])
@given(numel=st.sampled_from([4, 16, 10**10, 1 << 40]),
       size=st.sampled_from([(2, 2), (100_000, 100_000), (4,), (0, 3)]),
       stride=st.sampled_from([None, (0, 0), (1 << 40, 1), (1,)]),
       offset=st.sampled_from([0, 3, 1 << 50]),
       kind=st.sampled_from(["FloatStorage", "ByteStorage", "LongStorage"]),
       location=st.sampled_from(["cpu", "meta", "cuda:0"]))
def test_archives_that_lie_about_sizes_are_refused(pt_bytes: bytes, numel: int,
                                                   size: tuple[int, ...], stride: Any,
                                                   offset: int, kind: str, location: str) -> None:
    if stride is not None and len(stride) != len(size):
        stride = None
    spec = bi.TensorSpec(bi.Storage("0", numel, kind, location), size, stride, offset)
    path = bi.craft_pt(FOLDER / "crafted.pt", {"adjacency_matrix": spec, "input_tokens": spec},
                       {"0": b"\0" * 64})
    _check_load(path)


_mini_graph = graph_from_json("mini.json", bi.mini_doc())
_tc_graph = load_graph(bi.DATA / "claude-3.5-haiku_opposite-of-small_transformer-circuits.json")
_keys = st.one_of(st.sampled_from(["0_1_0", "E_5_0", "3_9_1", "0_1_0@error", "group:g", ""]),
                  st.text(max_size=4))
qparams_values = st.recursive(
    st.one_of(hostile, _keys),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def qparams(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(hostile)
    q = {f: draw(qparams_values) for f in draw(st.lists(st.sampled_from(bi.QPARAM_FIELDS),
                                                         max_size=3))}
    ours = {f: draw(qparams_values) for f in draw(st.lists(st.sampled_from(bi.OURS_FIELDS),
                                                            max_size=4))}
    q["circuitdesk"] = ours
    return q


@CHECKS
@given(qparams())
def test_session_restore_is_total(q: Any) -> None:
    for graph in (_mini_graph, _tc_graph):
        state_from_qparams(graph, q)
    bi.pipeline(_mini_graph, q)
