"""View state ⇄ ``qParams``: read the viewers' pins and supernodes, write ours back.

The circuit-tracer and Neuronpedia viewers name nodes in ``qParams`` by ``node_id``;
transformer-circuits.pub data names them by ``jsNodeId``, which can stand for one
feature at several positions. We read both, and write the viewers' fields in the
file's own convention plus everything else under the namespaced ``circuitdesk`` key.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..document import Supernode, ViewState, _frozen_map
from ..model import Graph
from .json_write import graph_to_json, write_json

NAMESPACE = "circuitdesk"
SESSION_VERSION = 1
_MAX_LABEL = 1000
"""User labels and group names longer than this are cut (they are one line on the canvas)."""


class IdResolver:
    """Maps the ids a ``qParams`` may use (node_id, jsNodeId, our ids) to our unique ids."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._by_file: dict[str, list[str]] = defaultdict(list)
        self._by_js: dict[str, list[str]] = defaultdict(list)
        self._indexed = False

    def _index(self) -> None:
        # built on the first id that is not ours: 10k nodes cost ~0.1 s, and a graph opened
        # without qParams (every .pt) needs none of it
        for uid, fid, jid in zip(self.graph.nodes.ids, self.graph.nodes.file_ids,
                                 self.graph.nodes.js_ids):
            self._by_file[fid].append(uid)
            if jid:
                self._by_js[jid].append(uid)
        self._indexed = True

    def resolve(self, ref: Any) -> list[str]:
        """All our ids that ``ref`` names; [] when it names nothing (or is not a string)."""
        if not isinstance(ref, str) or not ref:
            return []
        if self.graph.has_node(ref):
            return [ref]
        if not self._indexed:
            self._index()
        if ref in self._by_file:
            return self._by_file[ref][:1]
        return list(self._by_js.get(ref, []))

    def resolve_all(self, refs: Iterable[Any]) -> list[str]:
        out: dict[str, None] = {}
        for ref in refs:
            out.update(dict.fromkeys(self.resolve(ref)))
        return list(out)


def uses_js_ids(graph: Graph) -> bool:
    """True when the file's own qParams name nodes by jsNodeId (transformer-circuits data)."""
    return graph.format == "transformer-circuits-json"


def state_from_qparams(graph: Graph, qparams: dict[str, Any] | None = None) -> ViewState:
    """The view state stored in ``qparams`` (default: the graph's own).

    Total: a ``qParams`` written by hand or by another tool may hold anything, so every field
    of a wrong type, every id that names no node and every non-finite number is ignored
    rather than raised on.
    """
    q = graph.qparams if qparams is None else qparams
    if not isinstance(q, dict):
        q = {}
    res = IdResolver(graph)
    raw_ours = q.get(NAMESPACE)
    ours: dict[str, Any] = raw_ours if isinstance(raw_ours, dict) else {}
    raw_pins = ours.get("pinned", q.get("pinnedIds"))
    if isinstance(raw_pins, str):  # the viewers' URL form: comma-separated ids
        raw_pins = raw_pins.split(",")
    pinned = res.resolve_all(_items(raw_pins))
    raw_groups = ours.get("supernodes") or q.get("supernodes")
    clicked_list = res.resolve(ours.get("clicked", q.get("clickedId")))
    return ViewState(
        pinned=frozenset(pinned),
        hidden=frozenset(res.resolve_all(_items(ours.get("hidden")))),
        supernodes=_supernodes(res, raw_groups),
        clicked=clicked_list[0] if clicked_list else None,
        selected=frozenset(clicked_list[:1]),
        positions=_frozen_map(_node_points(res, ours.get("positions"))),  # type: ignore[arg-type]
        labels=_frozen_map(_labels(res, ours.get("labels"))),  # type: ignore[arg-type]
        subgraph_positions=_frozen_map(  # type: ignore[arg-type]
            {key: xy for key, xy in _points(ours.get("subgraph_positions"))}),
        **_settings(graph, ours),
    )


def _items(value: Any) -> list[Any]:
    """A list field's items; a string or any other non-list counts as no items."""
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in value.items() if isinstance(k, str)] \
        if isinstance(value, dict) else []


def _point(p: Any) -> tuple[float, float] | None:
    """``(x, y)`` from a two-number list; None for anything else (strings, NaN, 1e400)."""
    if not (isinstance(p, (list, tuple)) and len(p) == 2):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p):
        return None
    try:
        x, y = float(p[0]), float(p[1])
    except OverflowError:
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) and max(abs(x), abs(y)) < 1e12 \
        else None


def _points(value: Any) -> list[tuple[str, tuple[float, float]]]:
    return [(k, xy) for k, p in _mapping(value) if (xy := _point(p)) is not None]


def _node_points(res: IdResolver, value: Any) -> dict[str, tuple[float, float]]:
    return {uid: xy for ref, xy in _points(value) for uid in res.resolve(ref)}


def _labels(res: IdResolver, value: Any) -> dict[str, str]:
    return {uid: text[:_MAX_LABEL] for ref, text in _mapping(value) if isinstance(text, str)
            for uid in res.resolve(ref)}


def _supernodes(res: IdResolver, raw: Any) -> tuple[Supernode, ...]:
    groups = []
    for entry in _items(raw):
        if isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], str):
            members = tuple(sorted(res.resolve_all(entry[1:])))
            if members:
                groups.append(Supernode(entry[0][:_MAX_LABEL], members))
    return tuple(groups)


def _settings(graph: Graph, ours: dict[str, Any]) -> dict[str, Any]:
    """Thresholds (numbers in [0, 1] only) and the pruning switch."""
    kwargs: dict[str, Any] = {}
    for name in ("node_threshold", "edge_threshold"):
        value = ours.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
            kwargs[name] = float(value)
        elif name == "node_threshold" and graph.metadata.node_threshold is not None:
            kwargs[name] = graph.metadata.node_threshold
    if isinstance(ours.get("pruning"), bool):
        kwargs["pruning"] = ours["pruning"]
    elif graph.adjacency is not None:
        kwargs["pruning"] = True  # a raw engine graph is unreadable unpruned
    return kwargs


def qparams_from_state(graph: Graph, state: ViewState, extra: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """``qParams`` the web viewers read (pins, supernodes, clicked) plus our namespaced state."""
    js = uses_js_ids(graph)

    def viewer_ids(uids: Iterable[str]) -> list[str]:
        out: dict[str, None] = {}
        for uid in uids:
            if graph.has_node(uid):
                i = graph.index_of(uid)
                out[graph.nodes.js_ids[i] if js and graph.nodes.js_ids[i] else graph.nodes.file_ids[i]] = None
        return list(out)

    q = {k: v for k, v in graph.qparams.items() if k != NAMESPACE}
    q.update(
        pinnedIds=viewer_ids(sorted(state.pinned)),
        supernodes=[[s.name, *viewer_ids(s.members)] for s in state.supernodes],
        clickedId=viewer_ids([state.clicked])[0] if state.clicked else "",
        linkType=q.get("linkType", "both"),
    )
    q.setdefault("sg_pos", "")
    ours: dict[str, Any] = {
        "version": SESSION_VERSION,
        "pinned": sorted(state.pinned),
        "hidden": sorted(state.hidden),
        "supernodes": [[s.name, *s.members] for s in state.supernodes],
        "clicked": state.clicked,
        "positions": {k: list(v) for k, v in state.positions.items()},
        "labels": dict(state.labels),
        "subgraph_positions": {k: list(v) for k, v in state.subgraph_positions.items()},
        "node_threshold": state.node_threshold,
        "edge_threshold": state.edge_threshold,
        "pruning": state.pruning,
    }
    if extra:
        ours.update(extra)
    q[NAMESPACE] = ours
    return q


def save_session(path: str | Path, graph: Graph, state: ViewState,
                 extra: dict[str, Any] | None = None) -> None:
    """Write the graph JSON with the session in ``qParams``; user label edits become ``clerp``."""
    obj = graph_to_json(graph, qparams=qparams_from_state(graph, state, extra))
    for uid, node in zip(graph.nodes.ids, obj["nodes"]):  # no mask: one object per row
        if uid in state.labels:
            node["clerp"] = state.labels[uid]
    write_json(path, obj)
