"""Read and write attribution graphs as JSON (circuit-tracer, Neuronpedia, transformer-circuits.pub).

See FORMATS.md §3. Reading is columnar: each node field is gathered with one
comprehension and turned into a numpy column, links likewise, so a large file costs
little more than ``orjson.loads`` itself.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import (
    GraphSchemaError,
    NotAGraphFileError,
    OutOfMemoryError,
    describe,
    type_name,
)
from ..model import Graph, GraphMetadata, NodeKind, NodeTable
from . import json_slices
from .json_values import (
    INT64_RANGE,
    bad_link,
    display_text,
    float_column,
    layer_column,
    link_weights,
    middle_column,
    position_column,
)

_KIND_BY_TYPE: dict[str, NodeKind] = {
    "cross layer transcoder": NodeKind.FEATURE,
    "transcoder": NodeKind.FEATURE,
    "per layer transcoder": NodeKind.FEATURE,
    "feature": NodeKind.FEATURE,
    "mlp reconstruction error": NodeKind.ERROR,
    "embedding": NodeKind.EMBEDDING,
    "logit": NodeKind.LOGIT,
}
_TC_JS_ID = re.compile(r"_-\d+$")
_MAX_INFO_CHARS = 1_000_000


def _kind_of(feature_type: Any) -> NodeKind | None:
    if not isinstance(feature_type, str):
        return None
    known = _KIND_BY_TYPE.get(feature_type)
    if known is not None:
        return known
    lowered = feature_type.lower()
    for word, kind in (("error", NodeKind.ERROR), ("embed", NodeKind.EMBEDDING),
                       ("logit", NodeKind.LOGIT), ("transcoder", NodeKind.FEATURE)):
        if word in lowered:
            return kind
    return None


def parse_json_bytes(path: str | Path, data: bytes) -> Any:
    """``orjson.loads`` (the links in slices, :mod:`.json_slices`) with our one-line errors."""
    stripped = data.lstrip()
    if not stripped:
        raise NotAGraphFileError(path, "the file is empty")
    if stripped[:1] not in (b"{", b"["):
        raise NotAGraphFileError(path, "not a JSON graph file (it does not start with '{')")
    try:
        return json_slices.loads(data)  # links in slices: the GIL is let go between them
    except MemoryError:
        raise OutOfMemoryError(path, "out of memory while parsing the JSON") from None
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "memory" in message.lower():  # orjson reports a failed allocation as a decode error
            raise OutOfMemoryError(path, "out of memory while parsing the JSON") from None
        if "infinity" in message:
            raise NotAGraphFileError(path, f"a number in it is too large to read ({message})") \
                from None
        if "depth limit" in message:
            raise NotAGraphFileError(path, "values are nested too deeply (over 1,024 levels)") \
                from None
        raise NotAGraphFileError(path, f"not valid JSON, perhaps truncated ({message})") from None


def graph_from_json(path: str | Path, doc: Any) -> Graph:
    """Build a :class:`Graph` from a parsed JSON document.

    Raises:
        GraphSchemaError: The document is not an attribution graph, has links to
            nodes it does not define, or has non-finite weights.
    """
    if not isinstance(doc, dict):
        raise GraphSchemaError(path, "top level is not a JSON object")
    raw_nodes = doc.get("nodes")
    links = doc.get("links")
    if not isinstance(raw_nodes, list) or not isinstance(links, list):
        raise GraphSchemaError(path, "expected 'nodes' and 'links' lists at the top level")
    warnings: list[str] = []
    meta_raw = doc.get("metadata")
    if meta_raw is None:
        warnings.append("no 'metadata' object; prompt and model unknown")
        meta_raw = {}
    if not isinstance(meta_raw, dict):
        raise GraphSchemaError(path, "'metadata' is not an object")
    qparams = doc.get("qParams")
    if qparams is None:
        qparams = {}
    elif not isinstance(qparams, dict):
        warnings.append("'qParams' is not an object; ignored")
        qparams = {}

    nodes, kept_raw = _read_nodes(path, raw_nodes, warnings)
    by_file_id: dict[str, list[int]] = defaultdict(list)
    for i, fid in enumerate(nodes.file_ids):
        by_file_id[fid].append(i)
    source, target, weight = _read_links(path, links, nodes, by_file_id, warnings)
    metadata = _read_metadata(meta_raw, nodes, warnings)
    return Graph(
        nodes=nodes, source=source, target=target, weight=weight, metadata=metadata,
        qparams=qparams, format=_format_name(meta_raw, nodes), warnings=warnings,
        raw_nodes=kept_raw,
    )


def _read_nodes(
    path: str | Path, raw_nodes: list[Any], warnings: list[str]
) -> tuple[NodeTable, list[dict[str, Any]]]:
    file_ids = _node_ids(path, raw_nodes)
    kinds = _kinds(raw_nodes, warnings)
    kept = raw_nodes
    first = dict.fromkeys(zip(file_ids, kinds))
    if len(first) != len(raw_nodes):  # duplicates: keep the first of each (id, kind)
        seen: set[tuple[str, NodeKind]] = set()
        keep = []
        for i, key in enumerate(zip(file_ids, kinds)):
            if key not in seen:
                seen.add(key)
                keep.append(i)
        dupes = [file_ids[i] for i in sorted(set(range(len(raw_nodes))) - set(keep))]
        shown = ", ".join(repr(d) for d in dupes[:5])
        warnings.append(f"{len(dupes)} duplicate node id(s) dropped, first kept: {shown}"
                        + (" …" if len(dupes) > 5 else ""))
        kept = [raw_nodes[i] for i in keep]
        file_ids = [file_ids[i] for i in keep]
        kinds = [kinds[i] for i in keep]
    col = _columns(kept)
    ids = _unique_ids(file_ids, kinds)
    kind_arr = np.array(kinds, dtype=np.int8)
    layer = layer_column(path, col["layer"], kinds, file_ids)
    logit_rows = kind_arr == NodeKind.LOGIT
    if logit_rows.any():
        inner_max = int(layer[~logit_rows].max(initial=-1))
        bad = logit_rows & (layer <= inner_max)
        layer[bad] = inner_max + 1
    position = position_column(path, col["ctx_idx"], file_ids)
    middle = middle_column(path, file_ids)
    is_feature = kind_arr == NodeKind.FEATURE
    is_token = (kind_arr == NodeKind.EMBEDDING) | logit_rows
    table = NodeTable(
        ids=ids,
        file_ids=file_ids,
        kind=kind_arr,
        layer=layer,
        position=position,
        feature=np.where(is_feature, middle, -1),
        vocab_id=np.where(is_token, middle, -1),
        label=[v if isinstance(v, str) else display_text(v) for v in col["clerp"]],
        activation=float_column(col["activation"]),
        influence=float_column(col["influence"]),
        token_prob=float_column(col["token_prob"]),
        js_ids=[v if isinstance(v, str) else display_text(v) for v in col["jsNodeId"]],
    )
    # token_prob is 0 on non-logit nodes in every producer; it means "none" there.
    table.token_prob[~logit_rows] = np.nan
    outside = (table.token_prob < 0) | (table.token_prob > 1)
    if outside.any():
        warnings.append(f"{int(outside.sum())} logit token_prob value(s) outside [0, 1] clamped")
        np.clip(table.token_prob, 0.0, 1.0, out=table.token_prob)
    return table, kept


_NODE_FIELDS = ("layer", "ctx_idx", "clerp", "jsNodeId", "activation", "influence", "token_prob")


def _node_ids(path: str | Path, raw_nodes: list[Any]) -> list[str]:
    try:
        ids = list(map(itemgetter("node_id"), raw_nodes))
    except (KeyError, TypeError, IndexError):
        ids = []
    if len(ids) == len(raw_nodes) and all(type(i) is str for i in ids):
        return ids
    for i, node in enumerate(raw_nodes):
        if not isinstance(node, dict) or not isinstance(node.get("node_id"), str):
            raise GraphSchemaError(path, f"node #{i} has no string 'node_id'")
    raise GraphSchemaError(path, "a node has no string 'node_id'")  # pragma: no cover


def _kinds(raw_nodes: list[dict[str, Any]], warnings: list[str]) -> list[NodeKind]:
    types = [n.get("feature_type") for n in raw_nodes]
    table: dict[Any, NodeKind] = {}
    unknown: set[str] = set()
    for t in {t if isinstance(t, str) else describe(t) for t in types}:
        kind = _kind_of(t)
        if kind is None:
            unknown.add(t)
        table[t] = NodeKind.FEATURE if kind is None else kind
    if unknown:
        warnings.append(f"unknown feature_type {sorted(unknown)} read as transcoder features")
    return [table[t if isinstance(t, str) else describe(t)] for t in types]


def _columns(nodes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The optional node fields as columns; None where a node lacks one.

    Fast path: the fields every node has come out with one ``itemgetter`` pass.
    """
    if not nodes:
        return {k: [] for k in _NODE_FIELDS}
    seen_keys = set().union(*map(dict.keys, nodes))
    present = [k for k in _NODE_FIELDS if k in seen_keys]
    cols: dict[str, list[Any]] = {k: [None] * len(nodes) for k in _NODE_FIELDS if k not in present}
    try:
        if len(present) > 1:
            rows = list(map(itemgetter(*present), nodes))
            cols.update(zip(present, map(list, zip(*rows))))
        elif present:
            cols[present[0]] = list(map(itemgetter(present[0]), nodes))
    except KeyError:  # some nodes lack a field others have
        cols = {k: [n.get(k) for n in nodes] for k in _NODE_FIELDS}
    if any(len(v) != len(nodes) for v in cols.values()):  # pragma: no cover - defensive
        cols = {k: [n.get(k) for n in nodes] for k in _NODE_FIELDS}
    return cols


def _unique_ids(file_ids: list[str], kinds: list[NodeKind]) -> list[str]:
    """File ids, suffixed with the kind where two kinds share one id (FORMATS §3)."""
    first_kind: dict[str, NodeKind] = {}
    out: list[str] = []
    for fid, kind in zip(file_ids, kinds):
        owner = first_kind.setdefault(fid, kind)
        out.append(fid if owner == kind else f"{fid}@{kind.label}")
    return out


def _read_links(
    path: str | Path,
    links: list[Any],
    nodes: NodeTable,
    by_file_id: dict[str, list[int]],
    warnings: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_links = len(links)
    try:
        src_ids = list(map(itemgetter("source"), links))
        dst_ids = list(map(itemgetter("target"), links))
        raw_w = list(map(itemgetter("weight"), links))
    except (TypeError, KeyError):
        raise bad_link(path, links) from None
    weight = link_weights(path, raw_w, src_ids, dst_ids)
    single = {fid: rows[0] for fid, rows in by_file_id.items()}
    ambiguous = {fid for fid, rows in by_file_id.items() if len(rows) > 1}
    source = _rows_of(src_ids, single, n_links)
    target = _rows_of(dst_ids, single, n_links)
    if (source < 0).any() or (target < 0).any():
        # only ids that found no row can be of the wrong type (the keys are strings): the
        # check over every id took 130 ms of a 400k-link file
        for name, ids in (("source", src_ids), ("target", dst_ids)):
            if not all(type(i) is str for i in ids):
                k = next(k for k, i in enumerate(ids) if type(i) is not str)
                raise GraphSchemaError(path, f"link {k}: {name} is {type_name(ids[k])}, "
                                             "expected a node id")
    if ambiguous:
        # the links with a shared id: each such id was mapped to its first row above, which
        # no other id maps to (a loop over every link's ids took 5 ms of the demo's 25k)
        first = np.zeros(len(nodes), bool)
        first[[by_file_id[fid][0] for fid in ambiguous]] = True
        shared = np.flatnonzero(((source >= 0) & first[source])
                                | ((target >= 0) & first[target])).tolist()
        _resolve_ambiguous(src_ids, dst_ids, shared, source, target, nodes, by_file_id)
        _apply_uids([links[k] for k in shared], shared, nodes, source, target)
    missing = (source < 0) | (target < 0)
    if missing.any():
        k = int(np.flatnonzero(missing)[0])
        name = src_ids[k] if source[k] < 0 else dst_ids[k]
        raise GraphSchemaError(
            path, f"{int(missing.sum())} link(s) refer to nodes that are not in the file "
                  f"(first: link {k}, {describe(name)})")
    loops = int((source == target).sum())
    zeros = int((weight == 0).sum())
    if loops:
        warnings.append(f"{loops} self-loop link(s) kept")
    if zeros:
        warnings.append(f"{zeros} zero-weight link(s) kept")
    return source, target, weight.astype(np.float32)


def _rows_of(ids: list[Any], rows: dict[str, int], count: int) -> np.ndarray:
    """Node row of each id; -1 where the id names no node (or is not a string)."""
    try:
        # Fast path: every id is known (map + fromiter avoids a Python-level loop body).
        return np.fromiter(map(rows.__getitem__, ids), dtype=np.int64, count=count)
    except (KeyError, TypeError):
        return np.array([rows.get(i, -1) if isinstance(i, str) else -1 for i in ids],
                        dtype=np.int64)


def _apply_uids(links: list[Any], rows: list[int], nodes: NodeTable, source: np.ndarray,
                target: np.ndarray) -> None:
    """Our own files name shared-id endpoints exactly (``source_uid`` / ``target_uid``).

    Only links with a shared id carry them (json_write.py), so only those (``links``, at
    ``rows`` of the file's list) are looked at: the loop over every link took 16 ms of the
    demo graph's 25k.
    """
    row_of = {uid: i for i, uid in enumerate(nodes.ids)}
    for k, link in zip(rows, links):
        for key, column in (("source_uid", source), ("target_uid", target)):
            uid = link.get(key)
            if isinstance(uid, str) and uid in row_of:
                column[k] = row_of[uid]


def _resolve_ambiguous(
    src_ids: list[Any], dst_ids: list[Any], shared: list[int], source: np.ndarray,
    target: np.ndarray, nodes: NodeTable, by_file_id: dict[str, list[int]],
) -> None:
    """Pick, for the ``shared`` links (ascending), whose ids are shared by two kinds, nodes
    that make the link go up the layers.

    When the same (source id, target id) pair occurs more than once, the k-th occurrence
    takes the k-th plausible pairing in node order: the engine writes links source-ascending
    per target and numbers features before error nodes, so the feature's link comes first.
    """
    layer = nodes.layer
    seen: dict[tuple[str, str], int] = {}
    for k in shared:
        s, t = src_ids[k], dst_ids[k]
        s_rows = by_file_id.get(s, [-1]) if isinstance(s, str) else [-1]
        t_rows = by_file_id.get(t, [-1]) if isinstance(t, str) else [-1]
        plausible = [(si, ti) for si in s_rows for ti in t_rows
                     if si >= 0 and ti >= 0 and layer[si] < layer[ti]]
        if not plausible:
            source[k], target[k] = s_rows[0], t_rows[0]
            continue
        n = seen.get((s, t), 0)
        seen[(s, t)] = n + 1
        source[k], target[k] = plausible[min(n, len(plausible) - 1)]


def _parse_info(info: Any) -> dict[str, Any]:
    if isinstance(info, dict):
        return info
    if isinstance(info, str):
        # Neuronpedia writes `info` as a Python repr; literal_eval never runs code.
        if len(info) > _MAX_INFO_CHARS:
            return {}
        for parse in (orjson.loads, ast.literal_eval):
            try:
                value = parse(info)
            except Exception:  # noqa: BLE001, S112 - literal_eval raises many types
                continue
            if isinstance(value, dict):
                return value
    return {}


def _threshold(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def _input_tokens(value: Any, warnings: list[str]) -> list[int] | None:
    if not isinstance(value, list):
        return None
    if all(type(t) is int and INT64_RANGE[0] <= t <= INT64_RANGE[1] for t in value):
        return value
    warnings.append("metadata 'input_tokens' holds values that are not token ids; ignored")
    return None


def _read_metadata(meta: dict[str, Any], nodes: NodeTable, warnings: list[str]
                   ) -> GraphMetadata:
    info = _parse_info(meta.get("info"))
    tokens = meta.get("prompt_tokens")
    tokens = [display_text(t) for t in tokens] if isinstance(tokens, list) else []
    scan = meta.get("scan")
    if isinstance(scan, list):
        scan = [display_text(s) for s in scan]
    elif not isinstance(scan, str):
        scan = None
    raw_pruning = meta.get("pruning_settings")
    pruning: dict[str, Any] = raw_pruning if isinstance(raw_pruning, dict) else {}
    node_t = meta.get("node_threshold", meta.get("nodeThreshold", pruning.get("node_threshold")))
    edge_t = meta.get("edge_threshold", pruning.get("edge_threshold"))
    logit_layers = nodes.layer[nodes.kind == NodeKind.LOGIT]
    model = meta.get("model") or meta.get("model_name") or ""
    if not model and isinstance(scan, str) and "/" not in scan:
        model = scan
    return GraphMetadata(
        prompt=display_text(meta.get("prompt")),
        prompt_tokens=tokens,
        input_tokens=_input_tokens(meta.get("input_tokens"), warnings),
        slug=display_text(meta.get("slug")),
        scan=scan,
        model=display_text(model),
        transcoder_set=display_text(info.get("transcoder_set") or meta.get("transcoder_set")),
        n_layers=int(logit_layers.max()) - 1 if logit_layers.size else None,
        node_threshold=_threshold(node_t),
        edge_threshold=_threshold(edge_t),
        raw=meta,
    )


def _format_name(meta: dict[str, Any], nodes: NodeTable) -> str:
    if any(_TC_JS_ID.search(j) for j in nodes.js_ids[:50]) and not np.isfinite(nodes.influence).any():
        return "transformer-circuits-json"
    if "info" in meta or "generation_settings" in meta:
        return "neuronpedia-json"
    return "circuit-tracer-json"
