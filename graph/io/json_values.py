"""Checked values of a JSON graph's nodes and links: numbers in range or our error.

The reader in json_io.py gathers each field as a column; these helpers turn a column into a
numpy array, refusing a value out of range with a message that names the node or link (a node's
layer, ctx_idx or node_id number; a link's endpoints and weight), and never ``str()`` a value
from the file (one nested 1,000 deep overflows the stack).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GraphSchemaError, describe, type_name
from ..model import MAX_ABS_WEIGHT, MAX_LAYER, MAX_POSITIONS, NodeKind

INT64_RANGE = (-(1 << 63), (1 << 63) - 1)
_INT64 = INT64_RANGE
_F32_MAX = float(np.finfo(np.float32).max)


def _middle_int(node_id: str) -> int:
    parts = node_id.split("_")
    if len(parts) == 3 and len(parts[1]) < 40:
        try:
            return int(parts[1])
        except ValueError:
            return -1
    return -1


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range
            return float("nan")
    return float("nan")


def display_text(value: Any) -> str:
    """A display string for a value read from the file; bounded for non-strings.

    ``str()`` of a value nested 1,000 deep overflows the stack, so anything that is not a
    string or a plain number is shown through :func:`describe`.
    """
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return ""
    if isinstance(value, (int, float)) and abs(value) < 1e300:
        return str(value)
    return describe(value)


def _first_bad(path: str | Path, file_ids: list[str], values: list[Any], ok: list[bool],
               what: str) -> GraphSchemaError:
    """The error for the first node whose ``values`` entry is not ``ok``."""
    k = ok.index(False)
    value = values[k]
    shown = describe(value) if isinstance(value, (int, float, str)) else type_name(value)
    return GraphSchemaError(path, f"node {describe(file_ids[k])}: {what} is {shown}, "
                                  f"expected {_EXPECTED[what]}")


_EXPECTED = {
    "layer": f"a layer number in -1..{MAX_LAYER}",
    "ctx_idx": f"a token position in 0..{MAX_POSITIONS - 1}",
    "the number in its node_id": "a 64-bit integer",
}


def layer_column(path: str | Path, raw: list[Any], kinds: list[NodeKind],
                  file_ids: list[str]) -> np.ndarray:
    cache: dict[tuple[Any, NodeKind], int] = {}
    values = [_cached_layer(cache, v, k) for v, k in zip(raw, kinds)]
    ok = [-1 <= v <= MAX_LAYER for v in values]
    if not all(ok):
        raise _first_bad(path, file_ids, raw, ok, "layer")
    return np.array(values, dtype=np.int64)


def position_column(path: str | Path, raw: list[Any], file_ids: list[str]) -> np.ndarray:
    """ctx_idx as int64 (None means 0); anything else than a position in range is refused."""
    values = [0 if v is None else v for v in raw]
    try:
        position = np.array(values, dtype=np.int64)
        if position.shape != (len(values),):
            raise ValueError("not one number per node")
    except (TypeError, ValueError, OverflowError):
        ok = [type(v) is int and 0 <= v < MAX_POSITIONS for v in values]
        raise _first_bad(path, file_ids, raw, ok, "ctx_idx") from None
    in_range = (position >= 0) & (position < MAX_POSITIONS)
    if not in_range.all():
        raise _first_bad(path, file_ids, raw, in_range.tolist(), "ctx_idx")
    return position


def middle_column(path: str | Path, file_ids: list[str]) -> np.ndarray:
    middle = [_middle_int(f) for f in file_ids]
    ok = [_INT64[0] <= v <= _INT64[1] for v in middle]
    if not all(ok):
        raise _first_bad(path, file_ids, middle, ok, "the number in its node_id")
    return np.array(middle, dtype=np.int64)


def float_column(values: list[Any]) -> np.ndarray:
    """float32 column; None, missing, non-numbers and values beyond float32 become NaN."""
    try:
        column = np.array(values, dtype=np.float64)  # None -> nan
        if column.shape != (len(values),):
            raise ValueError("not one number per node")
    except (TypeError, ValueError, OverflowError):
        column = np.array([_as_float(v) for v in values], dtype=np.float64)
    column[~(np.abs(column) <= _F32_MAX)] = np.nan  # inf would appear in the float32 cast
    return column.astype(np.float32)


def _cached_layer(cache: dict[tuple[Any, NodeKind], int], layer: Any, kind: NodeKind) -> int:
    try:
        return cache[(layer, kind)]
    except KeyError:
        value = cache[(layer, kind)] = _layer_value(layer, kind)
        return value
    except TypeError:  # unhashable layer value
        return _layer_value(layer, kind)


def _layer_value(layer: Any, kind: NodeKind) -> int:
    """The layer number; -1 when unknown (a logit at -1 is moved above every feature layer)."""
    if kind == NodeKind.EMBEDDING:
        return -1
    if isinstance(layer, str) and len(layer) > 40:
        return MAX_LAYER + 1
    try:
        value = int(layer)
    except (TypeError, ValueError):
        return -1
    except OverflowError:  # inf
        return MAX_LAYER + 1
    return max(value, -1) if kind == NodeKind.LOGIT else value


def bad_link(path: str | Path, links: list[Any]) -> GraphSchemaError:
    """The error for the first link that is not an object with source, target and weight."""
    for k, link in enumerate(links):
        if not isinstance(link, dict):
            return GraphSchemaError(path, f"link {k} is {type_name(link)}, expected an object")
        for key in ("source", "target", "weight"):
            if key not in link:
                return GraphSchemaError(path, f"link {k} has no {key!r}")
    return GraphSchemaError(path, "a link lacks 'source', 'target' or 'weight'")  # pragma: no cover


def link_weights(path: str | Path, raw: list[Any], src_ids: list[Any], dst_ids: list[Any]
             ) -> np.ndarray:
    """Link weights as float64, refused unless finite and within MAX_ABS_WEIGHT."""
    try:
        weight = np.array(raw, dtype=np.float64)
        if weight.shape != (len(raw),):
            raise ValueError("not one number per link")
    except (TypeError, ValueError, OverflowError):
        for k, w in enumerate(raw):
            if not isinstance(w, (int, float)) or isinstance(w, bool) or abs(w) > 1e308:
                raise GraphSchemaError(path, f"link {k}: weight is {type_name(w)}, expected "
                                             "a number") from None
        raise GraphSchemaError(path, "a link weight is not a number") from None  # pragma: no cover
    finite = np.isfinite(weight)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise GraphSchemaError(
            path, f"{int((~finite).sum())} link weight(s) are NaN or infinite "
                  f"(first: link {bad}, {describe(src_ids[bad])} -> {describe(dst_ids[bad])})")
    big = np.abs(weight) > MAX_ABS_WEIGHT
    if big.any():
        bad = int(np.flatnonzero(big)[0])
        raise GraphSchemaError(path, f"link {bad}: weight {weight[bad]:g} is too large "
                                     f"(limit {MAX_ABS_WEIGHT:g})")
    return weight
