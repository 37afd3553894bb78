"""Node labels on the canvas: a small pool of text items, never one per node.

Pinned, selected, clicked and hovered nodes are labelled first; past a zoom level,
visible nodes in view follow, most influential first, up to a cap so text never
covers the canvas.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

MAX_LABELS = 40
ZOOM_PX_PER_ROW = 38.0
"""Past this many pixels per layer row, visible nodes get labels too."""
MAX_CHARS = 36


def short(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


class LabelLayer:
    """Owns ``MAX_LABELS`` TextItems in a plot and places them on request."""

    def __init__(self, plot: pg.PlotItem, color: str = "#222222") -> None:
        font = QFont()
        font.setPointSizeF(8.0)
        self._items: list[pg.TextItem] = []
        for _ in range(MAX_LABELS):
            item = pg.TextItem(anchor=(0.5, 1.25), color=color)
            item.setFont(font)
            item.setZValue(300)
            item.hide()
            plot.addItem(item, ignoreBounds=True)
            self._items.append(item)
        self.shown: list[int] = []

    def set_color(self, color: str) -> None:
        for item in self._items:
            item.setColor(QColor(color))

    def texts(self) -> list[str]:
        """The label texts on screen now."""
        return [item.textItem.toPlainText() for item in self._items[:len(self.shown)]]

    def place(self, rows: list[int], xy: np.ndarray, texts: list[str]) -> None:
        """Show ``texts[k]`` at ``xy[rows[k]]``; rows beyond the cap are ignored."""
        self.shown = []
        for item, row, text in zip(self._items, rows, texts):
            item.setText(short(text))
            item.setPos(float(xy[row, 0]), float(xy[row, 1]))
            item.show()
            self.shown.append(row)
        for item in self._items[len(self.shown):]:
            item.hide()


def choose_rows(
    priority: list[int],
    visible: np.ndarray,
    in_view: np.ndarray,
    influence: np.ndarray,
    has_label: np.ndarray,
    zoomed_in: bool,
) -> list[int]:
    """Rows to label: ``priority`` first (deduplicated), then if zoomed in the visible, in-view,
    labelled nodes by influence (lower cumulative influence = more important)."""
    out: dict[int, None] = {}
    for r in priority:
        if visible[r] and len(out) < MAX_LABELS:
            out[r] = None
    if zoomed_in and len(out) < MAX_LABELS:
        cand = np.flatnonzero(visible & in_view & has_label)
        rank = np.nan_to_num(influence[cand], nan=2.0)
        for r in cand[np.argsort(rank, kind="stable")].tolist():
            if len(out) >= MAX_LABELS:
                break
            out.setdefault(r, None)
    return list(out)


def drop_overlapping(rows: list[int], px: np.ndarray, texts: list[str], keep_first: int = 1,
                     char_px: float = 6.0, line_px: float = 13.0) -> list[int]:
    """Greedy: keep a label only if its box (above its node, in pixels) overlaps none kept so far.

    The first ``keep_first`` rows (hovered / clicked) are always kept.
    """
    kept: list[int] = []
    boxes: list[tuple[float, float, float, float]] = []
    for k, (row, text) in enumerate(zip(rows, texts)):
        half = min(len(text), MAX_CHARS) * char_px / 2
        x, y = float(px[k, 0]), float(px[k, 1])
        box = (x - half, y - line_px - 6, x + half, y - 6)
        clash = any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                    for b in boxes)
        if k < keep_first or not clash:
            kept.append(k)
            boxes.append(box)
    return kept
