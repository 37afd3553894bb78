"""Colours shared by the canvas, the subgraph view and the panels."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

POSITIVE = np.array([214, 96, 31], dtype=float)   # orange: excitatory
NEGATIVE = np.array([44, 110, 178], dtype=float)  # blue: inhibitory
NEUTRAL = np.array([235, 235, 235], dtype=float)


def share_rgb(share: np.ndarray) -> np.ndarray:
    """Diverging palette: -1 blue … 0 light grey … +1 orange; returns ``[n, 3]`` uint8."""
    s = np.clip(np.asarray(share, dtype=float), -1.0, 1.0)
    t = np.sqrt(np.abs(s))[:, None]  # shares are heavy-tailed: spread the small ones
    end = np.where(s[:, None] >= 0, POSITIVE, NEGATIVE)
    return (NEUTRAL * (1 - t) + end * t).round().astype(np.uint8)


def share_color(share: float) -> QColor:
    r, g, b = share_rgb(np.array([share]))[0].tolist()
    return QColor(r, g, b)
