"""Colours, glyphs and themes shared by the canvas, the first-sight sketch, the subgraph view
and the panels. Imports no pyqtgraph: the window draws its first frame before loading it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QColor

from ...graph.model import NodeKind

GLYPHS: dict[NodeKind, tuple[str, tuple[int, int, int]]] = {
    NodeKind.FEATURE: ("o", (130, 130, 130)),
    NodeKind.ERROR: ("d", (190, 190, 190)),
    NodeKind.EMBEDDING: ("s", (106, 168, 79)),
    NodeKind.LOGIT: ("s", (230, 145, 56)),
}
"""Symbol and fill per kind: circle feature, diamond error, square embedding/logit."""

NODE_SIZE = 9
PIN_COLOR = (200, 30, 120)
SELECT_COLOR = (20, 20, 20)


@dataclass(frozen=True)
class Theme:
    background: str
    foreground: str
    dark: bool


LIGHT = Theme("#ffffff", "#333333", False)
DARK = Theme("#1e1f22", "#d0d0d0", True)

POSITIVE = np.array([214, 96, 31], dtype=float)   # orange: excitatory
NEGATIVE = np.array([44, 110, 178], dtype=float)  # blue: inhibitory
NEUTRAL = np.array([235, 235, 235], dtype=float)


def blended(rgb: tuple[int, ...] | np.ndarray, background: QColor, weight: float) -> QColor:
    """``weight`` of ``rgb`` over ``background``, as one opaque colour (opaque fills and
    lines draw faster than translucent ones)."""
    back = (background.red(), background.green(), background.blue())
    return QColor(*(round(b * (1 - weight) + float(c) * weight) for c, b in zip(rgb, back)))


def share_rgb(share: np.ndarray) -> np.ndarray:
    """Diverging palette: -1 blue … 0 light grey … +1 orange; returns ``[n, 3]`` uint8."""
    s = np.clip(np.asarray(share, dtype=float), -1.0, 1.0)
    t = np.sqrt(np.abs(s))[:, None]  # shares are heavy-tailed: spread the small ones
    end = np.where(s[:, None] >= 0, POSITIVE, NEGATIVE)
    return (NEUTRAL * (1 - t) + end * t).round().astype(np.uint8)


def share_color(share: float) -> QColor:
    r, g, b = share_rgb(np.array([share]))[0].tolist()
    return QColor(r, g, b)
