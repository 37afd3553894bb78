"""Prompt token strings from a ``tokenizer.json``, without building the whole tokenizer.

``tokenizers.Tokenizer.from_file`` holds the GIL while it builds the full vocabulary: 214 ms of
the 331 ms it took on a 7.7 MB, 256k-token file here, so opening a circuit-tracer ``.pt`` whose
tokenizer is cached stalled the window. Decoding a token needs only its vocabulary entry, the
added tokens and the file's decoder, so :func:`decode_each` builds a tokenizer that holds just
the prompt's tokens (same ids, same decoder) and decodes with that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .json_slices import trailing_array


def decode_each(path: str | Path, ids: list[int]) -> list[str]:
    """``Tokenizer.from_file(path).decode([i], skip_special_tokens=False)`` for each id.

    Raises:
        OSError, ValueError, orjson.JSONDecodeError, Exception from ``tokenizers``: an
        unreadable or malformed file (the caller shows token ids instead).
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(orjson.dumps(_only(_parsed(Path(path).read_bytes()), set(ids))
                                          ).decode())
    return [tok.decode([i], skip_special_tokens=False) for i in ids]


def _parsed(data: bytes) -> dict[str, Any]:
    """The file's JSON without its BPE merges where they can be cut off unparsed.

    orjson holds the GIL while it parses (10 ms a MB here), and a BPE file's merges, which
    decoding never reads, are half of it or more. ``tokenizers`` writes them as the model's
    last key, and the model as the document's last key, so the document ends
    ``"merges": [...]}}``. Any other layout is parsed whole.
    """
    found = trailing_array(data, b'"merges"', 2)
    if found is not None:
        at, _, end = found
        try:
            spec: Any = orjson.loads(data[:at] + b'"merges":[]' + data[end + 1:])
        except orjson.JSONDecodeError:
            pass
        else:
            model = spec.get("model") if isinstance(spec, dict) else None
            if isinstance(model, dict) and model.get("merges") == []:
                cut: dict[str, Any] = spec
                return cut
    parsed: dict[str, Any] = orjson.loads(data)
    return parsed


def _only(spec: dict[str, Any], wanted: set[int]) -> dict[str, Any]:
    """``spec`` with a word-level model of just the ``wanted`` ids; decoding only looks a
    token up by id (added tokens first, then the model) and runs the decoder on it."""
    model = spec["model"]
    vocab = model["vocab"]
    if isinstance(vocab, dict):  # BPE, WordPiece, WordLevel: token -> id
        kept = {t: i for t, i in vocab.items() if i in wanted}
    else:  # Unigram: [[token, score], ...], the id is the index
        kept = {vocab[i][0]: i for i in wanted if 0 <= i < len(vocab)}
    unk = model.get("unk_token") or next(iter(kept), "<unk>")
    if isinstance(unk, int):  # Unigram names its unknown token by id
        unk = vocab[unk][0] if 0 <= unk < len(vocab) else "<unk>"
    return {
        "version": spec.get("version", "1.0"), "truncation": None, "padding": None,
        "added_tokens": [a for a in spec.get("added_tokens") or [] if a.get("id") in wanted],
        "normalizer": None, "pre_tokenizer": None, "post_processor": None,
        "decoder": spec.get("decoder"),
        "model": {"type": "WordLevel", "vocab": kept, "unk_token": unk},
    }
