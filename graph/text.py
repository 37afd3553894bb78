"""Text as every view shows it: one line, no control characters; prompt tokens for an axis.

Here, below the rooms, so that the canvas's first frame (app/first_sight.py) can write the
token axis without importing the figure room.
"""

from __future__ import annotations

from .model import Graph

TOKEN_CHARS = 14
"""A token tick is elided to this many characters."""

_CONTROL = {c: None for c in [*range(32), *range(127, 160)]}


def clean_text(text: str) -> str:
    """``text`` on one line without control characters (which XML 1.0 cannot hold)."""
    return " ".join(text.split()).translate(_CONTROL)


def token_text(graph: Graph, pos: int) -> str:
    """The prompt token at ``pos`` made printable for an axis tick."""
    tokens = graph.metadata.prompt_tokens
    if pos >= len(tokens):
        return str(pos)
    tok = clean_text(tokens[pos].replace("\n", "⏎").replace("\t", "⇥"))
    tok = tok or "␣"
    return tok if len(tok) <= TOKEN_CHARS else tok[:TOKEN_CHARS - 1] + "…"
