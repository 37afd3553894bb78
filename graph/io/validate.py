"""The last step of every load: the graph holds the model's invariants or the file is refused."""

from __future__ import annotations

from pathlib import Path

from ..errors import GraphSchemaError
from ..model import Graph, invariant_problems


def ensure_valid(path: str | Path, graph: Graph) -> None:
    """Raise :class:`GraphSchemaError` naming the first broken invariant (see graph/model.py).

    The readers already refuse or repair every case they know with a precise message; this
    is the backstop that keeps a case they missed from reaching prune, layout or the canvas.
    """
    problems = invariant_problems(graph, limit=1)
    if problems:
        raise GraphSchemaError(path, f"not a usable graph: {problems[0]}")
