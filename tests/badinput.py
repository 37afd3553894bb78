"""Bad-input makers shared by the bad-input tests, the property tests and benchmarks/fuzz_load.py.

Every maker takes a ``random.Random`` so that a fuzz run is reproducible from its seed; the
hypothesis tests draw that seed (and the values) themselves.
"""

from __future__ import annotations

import collections
import copy
import io
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from circuitdesk.graph.analysis.layout import layer_layout
from circuitdesk.graph.analysis.prune import prune
from circuitdesk.graph.analysis.scores import graph_scores
from circuitdesk.graph.figure.build import build_figure
from circuitdesk.graph.figure.options import FigureOptions
from circuitdesk.graph.figure.svg_writer import figure_to_svg
from circuitdesk.graph.io.session import qparams_from_state, state_from_qparams
from circuitdesk.graph.model import Graph, invariant_problems

DATA = Path(__file__).parent / "data"


def mini_doc() -> dict[str, Any]:
    """A four-node graph in circuit-tracer JSON (an error node shares a feature's id)."""
    nodes = [
        {"node_id": "E_5_0", "layer": "E", "ctx_idx": 0, "feature_type": "embedding"},
        {"node_id": "0_1_0", "layer": "0", "ctx_idx": 0, "feature_type": "cross layer transcoder",
         "feature": 3, "clerp": "a feature", "influence": 0.5, "activation": 2.0},
        {"node_id": "0_1_0", "layer": "1", "ctx_idx": 1, "feature_type": "mlp reconstruction error"},
        {"node_id": "3_9_1", "layer": "3", "ctx_idx": 1, "feature_type": "logit",
         "token_prob": 0.5},
    ]
    links = [
        {"source": "E_5_0", "target": "0_1_0", "weight": 1.0},
        {"source": "0_1_0", "target": "3_9_1", "weight": 0.5},
        {"source": "E_5_0", "target": "3_9_1", "weight": -0.25},
    ]
    return {"metadata": {"prompt": "x y", "prompt_tokens": ["x", " y"], "input_tokens": [5, 7],
                         "info": "{'transcoder_set': 'clt'}", "node_threshold": 0.8},
            "qParams": {"pinnedIds": ["0_1_0"], "supernodes": [["g", "0_1_0", "E_5_0"]],
                        "clickedId": "3_9_1"},
            "nodes": nodes, "links": links}


# ------------------------------------------------------------------ hostile values

def deep(depth: int, leaf: Any = 1) -> Any:
    """A list nested ``depth`` levels (orjson reads up to 1,024)."""
    value: Any = leaf
    for _ in range(depth):
        value = [value]
    return value


def hostile_value(rng: random.Random) -> Any:
    """One value of a kind the issue saw escape the loaders."""
    choices = [
        lambda: 1 << rng.choice([63, 64, 80, 200, 1000]),
        lambda: -(1 << rng.choice([63, 64, 100])),
        lambda: rng.choice([1e39, -1e39, 3.5e38, 1e300, -1e308, 1e-320, 0.0, -0.0]),
        lambda: rng.choice([-1, -100, 10**8, 70000, 2**31]),
        lambda: rng.choice(["", "x", "12", "-3", "1e5", "NaN", "E", "Lg", "x" * 5000]),
        lambda: [rng.randint(-5, 5) for _ in range(rng.randint(0, 3))],
        lambda: [["a"], 1],
        lambda: {"a": [1, {"b": None}]},
        lambda: deep(rng.choice([50, 500, 1000, 1020])),
        lambda: rng.choice([None, True, False]),
        lambda: rng.uniform(-2, 2),
    ]
    return rng.choice(choices)()


# ------------------------------------------------------------------ JSON mutations

NODE_FIELDS = ("node_id", "layer", "ctx_idx", "feature_type", "clerp", "jsNodeId",
               "activation", "influence", "token_prob", "feature")
LINK_FIELDS = ("source", "target", "weight", "source_uid", "target_uid")
META_FIELDS = ("prompt", "prompt_tokens", "input_tokens", "info", "scan", "model", "slug",
               "node_threshold", "edge_threshold", "pruning_settings", "transcoder_set")
QPARAM_FIELDS = ("pinnedIds", "supernodes", "clickedId", "linkType", "sg_pos", "circuitdesk")
OURS_FIELDS = ("pinned", "hidden", "supernodes", "clicked", "positions", "labels",
               "subgraph_positions", "node_threshold", "edge_threshold", "pruning")


def mutate_doc(doc: dict[str, Any], rng: random.Random, n: int = 1) -> Any:
    """``doc`` with ``n`` random fields replaced, removed or added (a deep copy)."""
    doc = copy.deepcopy(doc)
    for _ in range(n):
        doc = _mutate_once(doc, rng)
    return doc


def _mutate_once(doc: Any, rng: random.Random) -> Any:
    if not isinstance(doc, dict) or rng.random() < 0.02:
        return hostile_value(rng)
    where = rng.choice(["node", "node", "link", "link", "meta", "qparams", "ours", "top"])
    if where == "top":
        doc[rng.choice(["nodes", "links", "metadata", "qParams"])] = hostile_value(rng)
        return doc
    if where in ("node", "link"):
        items = doc.get("nodes" if where == "node" else "links")
        if not isinstance(items, list) or not items:
            return doc
        k = rng.randrange(len(items))
        if rng.random() < 0.1:
            items[k] = hostile_value(rng)
            return doc
        target = items[k]
        fields = NODE_FIELDS if where == "node" else LINK_FIELDS
    elif where == "meta":
        target, fields = doc.setdefault("metadata", {}), META_FIELDS
    else:
        q = doc.setdefault("qParams", {})
        if where == "ours" and isinstance(q, dict):
            target, fields = q.setdefault("circuitdesk", {}), OURS_FIELDS
        else:
            target, fields = q, QPARAM_FIELDS
    if isinstance(target, dict):
        field = rng.choice(fields)
        if rng.random() < 0.15:
            target.pop(field, None)
        else:
            target[field] = _field_value(field, rng)
    return doc


def _field_value(field: str, rng: random.Random) -> Any:
    """Mostly hostile values, sometimes a well-typed but odd one for fields with a structure."""
    if rng.random() < 0.5:
        return hostile_value(rng)
    structured = {
        "positions": lambda: {rng.choice(["0_1_0", "E_5_0", "x", ""]): hostile_value(rng)},
        "subgraph_positions": lambda: {"group:g": hostile_value(rng)},
        "labels": lambda: {"0_1_0": hostile_value(rng)},
        "supernodes": lambda: [[hostile_value(rng), "0_1_0", hostile_value(rng)]],
        "pinned": lambda: [hostile_value(rng), "E_5_0"],
        "hidden": lambda: [hostile_value(rng), "0_1_0"],
        "pinnedIds": lambda: [hostile_value(rng), "0_1_0"],
        "info": lambda: rng.choice(["{[1]: 2}", "{'a': {1, 2}}", "{'x': 1", "[" * 200,
                                    "{'transcoder_set': " + "[" * 50 + "]" * 50 + "}"]),
        "weight": lambda: rng.choice([1e39, -3.4e38, 1e30, 5e-324]),
        "token_prob": lambda: rng.choice([-0.5, 1.5, -1e-9, 1e39]),
    }
    make = structured.get(field)
    return make() if make else hostile_value(rng)


def to_json_bytes(doc: Any) -> bytes:
    """orjson refuses > 254 levels and big ints when writing; write those by hand."""
    try:
        return orjson.dumps(doc)
    except (orjson.JSONEncodeError, TypeError):
        return _dumps(doc).encode()


def _dumps(value: Any) -> str:
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:  # iterative: the values may be 1,000 deep
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item.text)
        elif isinstance(item, list):
            stack.append(_Raw("]"))
            for k, v in enumerate(reversed(item)):
                stack.append(v)
                if k < len(item) - 1:
                    stack.append(_Raw(","))
            stack.append(_Raw("["))
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            entries = list(item.items())
            for k, (key, v) in enumerate(reversed(entries)):
                stack.append(v)
                stack.append(_Raw(orjson.dumps(str(key)).decode() + ":"))
                if k < len(entries) - 1:
                    stack.append(_Raw(","))
            stack.append(_Raw("{"))
        elif isinstance(item, bool) or item is None:
            out.append(orjson.dumps(item).decode())
        elif isinstance(item, int):
            out.append(repr(item))
        elif isinstance(item, float):
            out.append(repr(item) if np.isfinite(item) else "1e400")
        else:
            out.append(orjson.dumps(item).decode())
    return "".join(out)


class _Raw:
    def __init__(self, text: str) -> None:
        self.text = text


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Truncate, flip bits in, or splice a few bytes into ``data``."""
    b = bytearray(data)
    how = rng.choice(["flip", "flip", "flip", "cut", "splice", "zero"])
    if how == "cut" and b:
        return bytes(b[: rng.randrange(len(b))])
    for _ in range(rng.choice([1, 1, 2, 8, 64])):
        if not b:
            break
        k = rng.randrange(len(b))
        if how == "flip":
            b[k] ^= 1 << rng.randrange(8)
        elif how == "zero":
            b[k] = 0
        else:
            b[k:k] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(b)


# ------------------------------------------------------------------ crafted .pt archives

class Storage:
    """A storage record for :func:`craft_pt`; ``numel`` may lie about the bytes written."""

    def __init__(self, key: str, numel: int, kind: str = "FloatStorage", location: str = "cpu"):
        self.key, self.numel, self.kind, self.location = key, numel, kind, location


class TensorSpec:
    """A tensor built by torch's ``_rebuild_tensor_v2`` on a :class:`Storage`."""

    def __init__(self, storage: Storage, size: tuple[int, ...],
                 stride: tuple[int, ...] | None = None, offset: int = 0) -> None:
        if stride is None:
            acc, strides = 1, []
            for n in reversed(size):
                strides.insert(0, acc)
                acc *= n
            stride = tuple(strides)
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self) -> tuple[Any, ...]:
        import torch

        return (torch._utils._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Storage):
            import torch

            return ("storage", getattr(torch, obj.kind), obj.key, obj.location, obj.numel)
        return None


def craft_pt(path: Path, obj: Any, records: dict[str, bytes]) -> Path:
    """Write a torch zip archive by hand, with whatever sizes the pickle declares."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/byteorder", "little")
        for key, data in records.items():
            zf.writestr(f"archive/data/{key}", data)
        zf.writestr("archive/version", "3\n")
    return path


# ------------------------------------------------------------------ the pipeline

def pipeline(graph: Graph, qparams: Any = None) -> None:
    """Everything a loaded graph goes through; must not raise on any valid graph."""
    problems = invariant_problems(graph)
    assert not problems, problems
    state = state_from_qparams(graph, qparams)
    pinned = sorted(state.pinned)
    result = prune(graph, state.node_threshold, state.edge_threshold, pinned=pinned)
    for mask in (None, result.node_mask):
        scores = graph_scores(graph, mask)
        assert np.isfinite([scores.replacement, scores.completeness]).all()
    layout = layer_layout(graph)
    assert np.isfinite(layout.xy).all()
    qparams_from_state(graph, state)
    small = FigureOptions(width=400, height=300)
    for scope in ("graph", "subgraph"):
        fig = build_figure(graph, state=state, layout=layout, node_mask=result.node_mask,
                           edge_mask=result.edge_mask,
                           options=FigureOptions(width=small.width, height=small.height,
                                                 scope=scope))
        figure_to_svg(fig)
