"""Batched edge drawing: one graphics item per style bucket, one ``drawLines`` call each.

Never one item per edge (STYLE.md §3). Buckets take no mouse events and return a
rectangle as their shape, so Qt's hit testing never walks 100k segments.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QTransform

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


def bucket_pen(bucket: int, background: QColor | None = None) -> QPen:
    """Opaque pen for a bucket: the colour pre-blended with the background.

    Opaque lines rasterise 3-5x faster than translucent ones (no per-pixel blending),
    which is what makes 100k edges affordable; the weakest are 1 px and pale.
    """
    level = bucket % N_BINS
    rgb = np.array(POSITIVE if bucket >= N_BINS else NEGATIVE, dtype=float)
    bg = background or QColor("white")
    back = np.array([bg.red(), bg.green(), bg.blue()], dtype=float)
    alpha = (0.22, 0.4, 0.65, 0.95)[min(level, 3)]
    r, g, b = (back * (1 - alpha) + rgb * alpha).round().astype(int).tolist()
    pen = QPen(QColor(r, g, b))
    pen.setCosmetic(True)
    pen.setWidthF(1.0 if level < N_BINS - 1 else 2.0)
    return pen


def highlight_pen(sign: int) -> QPen:
    """Pen for the clicked node's own edges, drawn over everything else."""
    pen = QPen(QColor(*(POSITIVE if sign > 0 else NEGATIVE), 255))
    pen.setCosmetic(True)
    pen.setWidthF(2.5)
    return pen


class EdgeLayer(pg.GraphicsObject):  # type: ignore[misc]
    """All edge buckets in one item, painted weakest first, with a cached image.

    At rest the buckets are drawn into an image of the view and the image is blitted, so
    hover and highlight repaints cost a copy, not 100k lines. While the view moves
    (``frozen``), the last image is drawn under the new transform instead (a map-like
    preview); the view coming to rest repaints at full quality.
    """

    def __init__(self, n_buckets: int) -> None:
        super().__init__()
        self._lines = [internals.PrimitiveArray(QLineF, 4) for _ in range(n_buckets)]
        self._pens = [QPen() for _ in range(n_buckets)]
        self._order = list(range(n_buckets))
        self._bounds = QRectF()
        self._cache: QImage | None = None
        self._cache_tf: QTransform | None = None
        self.frozen = False
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.NoButton)

    def set_buckets(self, segments: list[np.ndarray], pens: list[QPen], order: list[int]) -> None:
        """One ``[n, 4]`` segment array and pen per bucket; ``order`` = drawing order."""
        self.prepareGeometryChange()
        self._pens, self._order = pens, order
        boxes = []
        for lines, seg in zip(self._lines, segments):
            lines.resize(int(seg.shape[0]))
            if seg.shape[0]:
                lines.ndarray()[:] = seg
                boxes.append((seg[:, [0, 2]].min(), seg[:, [1, 3]].min(),
                              seg[:, [0, 2]].max(), seg[:, [1, 3]].max()))
        if boxes:
            b = np.array(boxes)
            x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
            self._bounds = QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9))
        else:
            self._bounds = QRectF()
        self.invalidate()

    def set_pens(self, pens: list[QPen]) -> None:
        self._pens = pens
        self.invalidate()

    def invalidate(self) -> None:
        self._cache = None
        self.update()

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        self.update()

    def counts(self) -> list[int]:
        return [len(lines) for lines in self._lines]

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._bounds)
        return path

    def paint(self, painter: QPainter, *args: object) -> None:
        if not any(len(lines) for lines in self._lines):
            return
        device = painter.device()
        tf = painter.worldTransform()
        size = (device.width(), device.height())
        cache = self._cache
        fresh = (cache is not None and self._cache_tf == tf
                 and (cache.width(), cache.height()) == size)
        if cache is not None and (fresh or self.frozen):
            painter.save()
            painter.setWorldTransform(self._cache_tf.inverted()[0] * tf)  # type: ignore[union-attr]
            painter.drawImage(0, 0, cache)
            painter.restore()
            return
        image = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        p = QPainter(image)
        p.setWorldTransform(tf)
        for b in self._order:
            if len(self._lines[b]):
                p.setPen(self._pens[b])
                p.drawLines(*self._lines[b].drawargs())
        p.end()
        self._cache, self._cache_tf = image, QTransform(tf)
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, image)
        painter.restore()


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
