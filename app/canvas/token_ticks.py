"""Token ticks that stay readable on long prompts (pure: the first frame draws them too).

Each column's token is elided to the room its column has at the current zoom; when the
columns are too narrow for even a few characters, only every k-th token is shown.
"""

from __future__ import annotations

import math

import numpy as np

from .cells import median

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
    if median(room) < MIN_CHARS:
        step = math.ceil(MIN_CHARS / max(median(room), 1e-3))
    out = []
    for p in range(0, len(column_x), step):
        text = tokens[p] if p < len(tokens) else str(p)
        n = max(int(room[p] * step) - 1, MIN_CHARS - 1)
        out.append((float(column_x[p]), text if len(text) <= n else text[: n - 1] + "…"))
    return out
