"""Batched edge drawing: never one graphics item per edge (STYLE.md §3).

All edges live in one :class:`EdgeLayer` (one ``drawLines`` per style bucket, into an image
made off the GUI thread); small overlays use :class:`EdgeBatchItem`. Both take no mouse
events and return a rectangle as their shape, so Qt's hit testing never walks the segments.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QRectF, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QTransform

from . import palette
from .edge_plan import N_BINS

AA_MAX_EDGES = 40_000
"""Up to this many edges the resting image is antialiased (and the strongest drawn wider)."""
AA_MAX_OVERLAY = 1_500
"""Overlays (the clicked or hovered node's links) up to this many segments are antialiased."""
RENDER_CHUNK = 250
"""Most lines per drawLines call in the render worker (see _render).

drawLines holds the GIL for the whole call. Chunks alone were not enough: with 150+ lines per
call the waiting GUI thread never got the GIL back, and a 168k-edge image froze the window for
its whole 1.3 s; a ``time.sleep(0)`` after each chunk hands the GIL over (longest gap ~20 ms).
"""
RENDER_PIXELS = 20_000
"""Most device pixels of line per drawLines call. The raster engine fills about 8,000 pixels of
translucent line a millisecond here, so 250 lines across the canvas held the GIL for 20+ ms a
call, and the GUI thread's gaps while a 10k-node graph opened reached 110-160 ms
(``benchmarks/bench_stalls.py``)."""

WIDTHS = (0.8, 1.0, 1.5, 2.2)
"""Pen width per strength level when the image is antialiased."""
POSITIVE = tuple(int(v) for v in palette.POSITIVE)
NEGATIVE = tuple(int(v) for v in palette.NEGATIVE)


def bucket_pen(bucket: int, background: QColor | None = None) -> QPen:
    """Opaque pen for a bucket: the colour pre-blended with the background.

    Opaque lines rasterise 3-5x faster than translucent ones (no per-pixel blending),
    which is what makes 100k edges affordable; the weakest are 1 px and pale.
    """
    level = bucket % N_BINS
    alpha = (0.12, 0.3, 0.6, 0.95)[min(level, 3)]  # weak edges recede
    pen = QPen(palette.blended(POSITIVE if bucket >= N_BINS else NEGATIVE,
                               background or QColor("white"), alpha))
    pen.setCosmetic(True)
    pen.setWidthF(1.0)  # wider pens leave Qt's fast line path: 3-4x slower (STYLE.md §3)
    return pen


def highlight_pen(sign: int) -> QPen:
    """Pen for the clicked node's own edges, drawn over everything else."""
    pen = QPen(QColor(*(POSITIVE if sign > 0 else NEGATIVE), 255))
    pen.setCosmetic(True)
    pen.setWidthF(2.5)
    return pen


def segments_bounds(segments: list[np.ndarray]) -> QRectF:
    """The rectangle around every ``[n, 4]`` segment array (empty rect when there are none)."""
    # strided views, not fancy-indexed copies: 168k segments cost 11 ms a bucket list that way
    boxes = [(s[:, 0::2].min(), s[:, 1::2].min(), s[:, 0::2].max(), s[:, 1::2].max())
             for s in segments if s.shape[0]]
    if not boxes:
        return QRectF()
    b = np.array(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    return QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9))


class _Batch(pg.GraphicsObject):  # type: ignore[misc]
    """A batch of segments: a rectangle for bounds and shape, and no mouse or hover events,
    so Qt never hit-tests the segments themselves (STYLE.md §3)."""

    def __init__(self) -> None:
        super().__init__()
        self._bounds = QRectF()
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._bounds)
        return path


class EdgeLayer(_Batch):
    """All edge buckets in one item, rendered to an image off the GUI thread.

    Painting blits the image made for the current view. When the view or the data changed,
    a worker thread (Qt's pool; QPainter on a QImage is thread-safe; lines go in small chunks
    because each drawLines call holds the GIL) renders a new image while the GUI shows the
    previous image moved to the new view, or, for new data, the strongest edges drawn
    directly. While the view moves (``frozen``) no render is started; the view coming to rest
    renders at full quality.
    """

    rendered = Signal(object, object)

    def __init__(self, n_buckets: int) -> None:
        super().__init__()
        self._segments: list[np.ndarray] = [np.zeros((0, 4))] * n_buckets
        self._pens = [QPen() for _ in range(n_buckets)]
        self._order = list(range(n_buckets))
        self._preview = internals.PrimitiveArray(QLineF, 4)
        self._preview_pen = QPen()
        self._data_gen = 0
        self._cache: QImage | None = None
        self._cache_key: tuple[Any, ...] | None = None
        self._pending: tuple[Any, ...] | None = None
        self.frozen = False
        self.synchronous = False
        self.rendered.connect(self._on_rendered)

    def set_buckets(self, segments: list[np.ndarray], pens: list[QPen], order: list[int],
                    preview: np.ndarray, preview_pen: QPen) -> None:
        """One ``[n, 4]`` array and pen per bucket, the drawing order, and the strongest edges."""
        self.prepareGeometryChange()
        self._segments = [np.ascontiguousarray(s, dtype=np.float64) for s in segments]
        self._pens, self._order = pens, order
        self._preview.resize(int(preview.shape[0]))
        if preview.shape[0]:
            self._preview.ndarray()[:] = preview
        self._preview_pen = preview_pen
        self._bounds = segments_bounds(self._segments)
        self.invalidate()

    def set_pens(self, pens: list[QPen]) -> None:
        self._pens = pens
        self.invalidate()

    def set_order(self, order: list[int]) -> None:
        """Which buckets to draw, in drawing order (level of detail drops the weakest)."""
        if order != self._order:
            self._order = order
            self.invalidate()

    def invalidate(self) -> None:
        """The data or the pens changed: every image made so far is stale."""
        self._data_gen += 1
        self._cache = None
        self._pending = None
        self.update()

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        self.update()

    def is_fresh(self) -> bool:
        """True when the image shown is the full rendering of the current data and view."""
        return self._cache is not None and self._pending is None

    def paint(self, painter: QPainter, *args: object) -> None:
        if not any(s.shape[0] for s in self._segments):
            return
        tf = painter.worldTransform()
        device = painter.device()
        key = (self._data_gen, _tf_key(tf), device.width(), device.height())
        cache = self._cache
        if cache is not None and self._cache_key == key:
            painter.save()
            painter.resetTransform()  # exactly 1:1 (a near-identity would take the slow path)
            painter.drawImage(0, 0, cache)
            painter.restore()
            return
        if not self.frozen:
            self._request(key, QTransform(tf))
        if cache is not None and self._cache_key is not None and self._cache_key[0] == key[0]:
            _blit(painter, cache, self._cache_tf, tf)  # same data, older view: move it along
        elif len(self._preview):
            painter.setPen(self._preview_pen)
            painter.drawLines(*self._preview.drawargs())

    def _request(self, key: tuple[Any, ...], tf: QTransform) -> None:
        if self._pending == key:
            return
        self._pending = key
        job = (key, tf, self._segments, self._pens, self._order)
        if self.synchronous:
            self._on_rendered(_render(*job), (key, tf))
        else:
            QThreadPool.globalInstance().start(lambda: self._render_in_worker(job))

    def _render_in_worker(self, job: tuple[Any, ...]) -> None:
        # A render that a newer one superseded stops between chunks: two renders at once
        # each took GIL turns from the GUI thread (a prune result's repaint and the fit after
        # it started two full 168k-edge images).
        key = job[0]
        image = _render(*job, wanted=lambda: self._pending == key)
        if image is None:
            return
        try:
            self.rendered.emit(image, (job[0], job[1]))
        except RuntimeError:  # the item was deleted while we drew
            pass

    def _on_rendered(self, image: QImage, meta: tuple[Any, ...]) -> None:
        key, tf = meta
        if key[0] != self._data_gen:
            return  # drawn from data that has changed since
        if self._pending == key:
            self._pending = None
        self._cache, self._cache_key, self._cache_tf = image, key, tf
        self.update()


def _tf_key(tf: QTransform) -> tuple[float, ...]:
    return (tf.m11(), tf.m12(), tf.m21(), tf.m22(), tf.dx(), tf.dy())


def _blit(painter: QPainter, image: QImage, made_at: QTransform, now: QTransform) -> None:
    painter.save()
    painter.setWorldTransform(made_at.inverted()[0] * now)
    painter.drawImage(0, 0, image)
    painter.restore()


def _render(key: tuple[Any, ...], tf: QTransform, segments: list[np.ndarray], pens: list[QPen],
            order: list[int], wanted: Callable[[], bool] | None = None) -> QImage | None:
    """Draw every bucket (weakest first) into a transparent image of the view's size; None
    when ``wanted`` turned false between two chunks."""
    image = QImage(int(key[2]), int(key[3]), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setWorldTransform(tf)
    smooth = sum(int(segments[b].shape[0]) for b in order) <= AA_MAX_EDGES
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, smooth)
    lines = internals.PrimitiveArray(QLineF, 4)
    for b in order:
        seg = segments[b]
        if seg.shape[0]:
            pen = QPen(pens[b])
            if smooth:  # few edges: afford width by strength (weak ones recede further)
                pen.setWidthF(WIDTHS[b % N_BINS])
            painter.setPen(pen)
        # drawLines holds the GIL for the whole call: 100k long lines blocked the GUI thread
        # for 2 s. In chunks, each followed by sleep(0), the GUI thread gets the GIL back.
        bounds = chunk_bounds(seg, tf)
        for start, stop in itertools.pairwise(bounds):
            part = seg[start:stop]
            lines.resize(int(part.shape[0]))
            lines.ndarray()[:] = part
            painter.drawLines(*lines.drawargs())
            time.sleep(0)  # hand the GIL over now (see RENDER_CHUNK)
            if wanted is not None and not wanted():
                painter.end()
                return None
    painter.end()
    return image


def chunk_bounds(seg: np.ndarray, tf: QTransform) -> np.ndarray:
    """Row bounds of the drawLines calls for ``seg`` (``n`` is last): each call gets at most
    :data:`RENDER_CHUNK` lines and about :data:`RENDER_PIXELS` pixels of line as ``tf`` draws
    them (its last line may run past)."""
    n = int(seg.shape[0])
    if not n:
        return np.zeros(1, dtype=np.int64)
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    length = np.hypot(tf.m11() * dx + tf.m21() * dy, tf.m12() * dx + tf.m22() * dy)
    length = np.nan_to_num(length, nan=0.0, posinf=RENDER_PIXELS)
    ends = np.cumsum(length + 1.0)  # + 1: a line's end caps and set-up cost something too
    by_pixels = np.searchsorted(ends, np.arange(RENDER_PIXELS, ends[-1], RENDER_PIXELS)) + 1
    bounds = np.union1d(np.arange(0, n, RENDER_CHUNK), by_pixels[by_pixels < n])
    return np.append(bounds, n).astype(np.int64)


class EdgeBatchItem(_Batch):
    """A few segments in one pen, drawn directly (the clicked node's edges, the subgraph's)."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self._pen = pen
        self._lines = internals.PrimitiveArray(QLineF, 4)
        self.antialias = True

    def set_segments(self, segments: np.ndarray) -> None:
        """``segments``: float array ``[n, 4]`` of (x0, y0, x1, y1) in data coordinates."""
        self.prepareGeometryChange()
        n = int(segments.shape[0])
        self._lines.resize(n)
        if n:
            self._lines.ndarray()[:] = segments
        self._bounds = segments_bounds([segments])
        self.update()

    def set_pen(self, pen: QPen) -> None:
        self._pen = pen
        self.update()

    def __len__(self) -> int:
        return len(self._lines)

    def paint(self, painter: QPainter, *args: object) -> None:
        if not len(self._lines):
            return
        # smooth lines cost ~10x on the GUI thread: only for a few (a big hub's links are not)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing,
                              self.antialias and len(self._lines) <= AA_MAX_OVERLAY)
        painter.setPen(self._pen)
        painter.drawLines(*self._lines.drawargs())
