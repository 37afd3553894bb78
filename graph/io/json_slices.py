"""Parse a graph JSON with its links in slices, so that the GIL is let go between them.

orjson holds the GIL for a whole parse, about 5.5 ms a MB here: a 32 MB graph held it for
170-190 ms, and the window could not repaint while the loader worked. The engines write the
links last (``metadata``, ``qParams``, ``nodes``, ``links``) and a link is a small flat object,
so a big document is parsed as its head (everything but the links) and then its links array in
slices of about a megabyte, each cut between two link objects. A cut that lands inside a string
leaves a slice that is not valid JSON; then, as for any other layout, the whole document is
parsed at once. Either way the result is what ``orjson.loads`` gives.
"""

from __future__ import annotations

from typing import Any

import orjson

SLICE_BYTES = 1 << 20
"""About this many bytes of links per ``orjson.loads`` call (~5 ms of GIL here)."""

_SPACE = b" \t\r\n"


def loads(data: bytes, slice_bytes: int | None = None) -> Any:
    """``orjson.loads(data)``, with the top-level links parsed in slices when the file is big.

    Raises:
        orjson.JSONDecodeError: As ``orjson.loads`` would.
    """
    slice_bytes = slice_bytes or SLICE_BYTES
    if len(data) > 4 * slice_bytes:
        doc = _sliced(data, slice_bytes)
        if doc is not None:
            return doc
    return orjson.loads(data)


def _sliced(data: bytes, slice_bytes: int) -> dict[str, Any] | None:
    """The document parsed head first, then its links slice by slice; None where the layout
    is not ``{..., "links": [...]}`` or a slice does not parse."""
    found = trailing_array(data, b'"links"', 1)
    if found is None:
        return None
    at, bracket, end = found
    try:
        doc = orjson.loads(data[:at] + b'"links":[]' + data[end + 1:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("links") != []:
        return None
    links: list[Any] = []
    pos = bracket + 1
    while pos < end:  # bounds on ``data``, not a copy of its links: files run to 100s of MB
        cut = _cut_after(data, pos + slice_bytes, end)
        try:
            links.extend(orjson.loads(b"[" + data[pos:cut] + b"]"))
        except orjson.JSONDecodeError:
            return None
        pos = cut + 1  # past the comma between two links
    doc["links"] = links
    return doc


def trailing_array(data: bytes, key: bytes, depth: int) -> tuple[int, int, int] | None:
    """Where the array under the last ``key`` (quotes included) is, if it ends the document:
    (the key's first byte, the array's ``[``, its ``]``) when only ``depth`` closing braces and
    whitespace follow the ``]``; else None. The caller still checks, by parsing the rest with
    an empty array in its place, that the key was really that object's."""
    at = data.rfind(key)
    if at < 0:
        return None
    colon = _skip(data, at + len(key))
    bracket = _skip(data, colon + 1)
    if data[colon:colon + 1] != b":" or data[bracket:bracket + 1] != b"[":
        return None
    end = len(data)
    for _ in range(depth):
        end = _skip_back(data, end - 1)
        if data[end:end + 1] != b"}":
            return None
    end = _skip_back(data, end - 1)
    if data[end:end + 1] != b"]" or end <= bracket:
        return None
    return at, bracket, end


def _skip(data: bytes, i: int) -> int:
    """The first index from ``i`` that is not JSON whitespace."""
    while data[i:i + 1] and data[i:i + 1] in _SPACE:
        i += 1
    return i


def _skip_back(data: bytes, i: int) -> int:
    """The last index up to ``i`` that is not JSON whitespace (-1 if none)."""
    while i >= 0 and data[i:i + 1] in _SPACE:
        i -= 1
    return i


def _cut_after(data: bytes, i: int, end: int) -> int:
    """The first comma in ``data[i:end]`` that sits between ``}`` and ``{`` (whitespace
    allowed), else ``end``."""
    while i < end:
        close = data.find(b"}", i, end)
        if close < 0:
            break
        comma = _skip(data, close + 1)
        after = _skip(data, comma + 1)
        if comma < end and data[comma:comma + 1] == b"," and data[after:after + 1] == b"{":
            return comma
        i = close + 1
    return end
