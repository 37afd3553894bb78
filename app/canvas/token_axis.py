"""The token axis: readable on long prompts.

Each column's token is elided to the room its column has at the current zoom; when the
columns are too narrow for even a few characters, only every k-th token is shown. The
full token (and its position) is the axis tooltip under the mouse.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

from ...graph.figure.labels import token_text

CHAR_PX = 6.5
"""Average width of one tick character at the axis font, px."""
MIN_CHARS = 4


def tick_texts(tokens: list[str], column_x: np.ndarray, column_width: np.ndarray,
               px_per_unit: float) -> list[tuple[float, str]]:
    """(x, text) ticks: elided to their column, thinned to every k-th when columns are narrow."""
    if not len(column_x):
        return []
    # a tick may reach halfway to its neighbours' ticks: that is its room, in characters
    gaps = np.diff(column_x) if len(column_x) > 1 else column_width[:1]
    reach = np.minimum(np.r_[gaps[:1], gaps], np.r_[gaps, gaps[-1:]])
    room = reach * px_per_unit / CHAR_PX
    step = 1
    if float(np.median(room)) < MIN_CHARS:
        step = math.ceil(MIN_CHARS / max(float(np.median(room)), 1e-3))
    out = []
    for p in range(0, len(column_x), step):
        text = tokens[p] if p < len(tokens) else str(p)
        n = max(int(room[p] * step) - 1, MIN_CHARS - 1)
        out.append((float(column_x[p]), text if len(text) <= n else text[: n - 1] + "…"))
    return out


class TokenAxis(pg.AxisItem):  # type: ignore[misc]
    """Bottom axis whose tooltip names the full token under the mouse."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("bottom", **kwargs)
        self.tokens: list[str] = []
        self.column_x = np.zeros(0)
        self.full: list[str] = []
        self.setAcceptHoverEvents(True)

    def set_columns(self, graph: Any, column_x: np.ndarray) -> None:
        self.tokens = [token_text(graph, p) for p in range(len(column_x))]
        raw = graph.metadata.prompt_tokens
        self.full = [repr(raw[p])[1:-1] if p < len(raw) else str(p) for p in range(len(column_x))]
        self.column_x = np.asarray(column_x, dtype=float)

    def refresh(self, view_range: tuple[float, float], width_px: float,
                column_width: np.ndarray) -> None:
        scale = width_px / max(view_range[1] - view_range[0], 1e-9)
        self.setTicks([tick_texts(self.tokens, self.column_x, column_width, scale)])

    def hoverMoveEvent(self, ev: Any) -> None:
        if not len(self.column_x) or self.linkedView() is None:
            return
        x = self.linkedView().mapSceneToView(ev.scenePos()).x()
        p = int(np.argmin(np.abs(self.column_x - x)))
        self.setToolTip(f"{p}: {self.full[p]!r}" if p < len(self.full) else "")
