"""Batched edge drawing: one graphics item per style bucket, one ``drawLines`` call each.

Never one item per edge (STYLE.md §3). Buckets take no mouse events and return a
rectangle as their shape, so Qt's hit testing never walks 100k segments.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from . import palette

N_BINS = 4
"""Magnitude bins per sign; together with the sign they make the style buckets."""

POSITIVE = tuple(int(v) for v in palette.POSITIVE)
NEGATIVE = tuple(int(v) for v in palette.NEGATIVE)


def input_share(target: np.ndarray, weight: np.ndarray, n_nodes: int) -> np.ndarray:
    """Each edge's share of its target's input: weight / sum |incoming weights|."""
    total = np.bincount(target, weights=np.abs(weight), minlength=n_nodes)
    denom = total[target]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, weight / denom, 0.0)


def bucket_of(share: np.ndarray) -> np.ndarray:
    """Bucket index per edge: 0..N_BINS-1 negative (weak→strong), N_BINS.. positive."""
    mag = np.abs(share)
    # Shares are heavy-tailed; bin edges on a square-root scale keep the bins populated.
    level = np.minimum((np.sqrt(mag) * N_BINS).astype(np.int64), N_BINS - 1)
    return np.where(share >= 0, N_BINS + level, level)


def bucket_pen(bucket: int, dark: bool = False) -> QPen:
    level = bucket % N_BINS
    rgb = POSITIVE if bucket >= N_BINS else NEGATIVE
    alpha = (40, 80, 150, 230)[min(level, 3)]
    color = QColor(*rgb, alpha)
    if dark:
        color = color.lighter(130)
    pen = QPen(color)
    pen.setCosmetic(True)
    pen.setWidthF(1.0 if level < N_BINS - 1 else 2.0)
    return pen


def highlight_pen(sign: int) -> QPen:
    """Pen for the clicked node's own edges, drawn over everything else."""
    pen = QPen(QColor(*(POSITIVE if sign > 0 else NEGATIVE), 255))
    pen.setCosmetic(True)
    pen.setWidthF(2.5)
    return pen


class EdgeBatchItem(pg.GraphicsObject):  # type: ignore[misc]
    """All segments of one style bucket, drawn with one painter call."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self._pen = pen
        self._lines = internals.PrimitiveArray(QLineF, 4)
        self._bounds = QRectF()
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.NoButton)

    def set_segments(self, segments: np.ndarray) -> None:
        """``segments``: float array ``[n, 4]`` of (x0, y0, x1, y1) in data coordinates."""
        self.prepareGeometryChange()
        n = int(segments.shape[0])
        self._lines.resize(n)
        if n:
            self._lines.ndarray()[:] = segments
            xs = segments[:, [0, 2]]
            ys = segments[:, [1, 3]]
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            self._bounds = QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9))
        else:
            self._bounds = QRectF()
        self.update()

    def set_pen(self, pen: QPen) -> None:
        self._pen = pen
        self.update()

    def __len__(self) -> int:
        return len(self._lines)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._bounds)
        return path

    def paint(self, painter: QPainter, *args: object) -> None:
        if not len(self._lines):
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self._pen)
        painter.drawLines(*self._lines.drawargs())
