"""Node labels on the canvas: greedily placed boxes, all painted by one item.

Placement happens in scene pixels (:func:`place_labels`, pure numpy): each label tries
spots around its node, nearest first, and takes the first one that stays inside the
view and covers no label placed before it and no node glyph. Labels that must show
(logits, pinned, selected, clicked, hovered, supernodes) are placed first and may go
further out, with a leader line back to their node; feature labels fill the room that
is left, most influential first, so they appear as zoom allows. One
:class:`LabelPainter` draws every box, text and leader line in a single ``paint``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

MAX_LABELS = 60
"""Feature labels considered per placement (must-show labels come on top of these)."""
MAX_CHARS = 36
PAD_X, PAD_Y = 3.0, 1.0
"""Padding inside a label's background box, px."""
GAP = 2.0
"""Room between a glyph and its label, px."""


def short(text: str, n: int = MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def label_font() -> QFont:
    font = QFont()
    font.setPointSizeF(8.0)
    return font


def text_sizes(texts: list[str], font: QFont) -> np.ndarray:
    """``[n, 2]`` box sizes in px (text plus padding)."""
    fm = QFontMetricsF(font)
    out = np.zeros((len(texts), 2))
    for k, t in enumerate(texts):
        out[k] = (fm.horizontalAdvance(t) + 2 * PAD_X, fm.height() + 2 * PAD_Y)
    return out


N_NEAR = 2
"""The first candidates sit beside the glyph; later ones above or below it, with a leader."""
LEVELS = 10


def _offsets(w: float, h: float, r: float, far: bool) -> np.ndarray:
    """Top-left offsets of candidate boxes around an anchor at (0, 0), nearest first.

    Far candidates sit straight above or below the node (the box spans the node's x),
    so the leader line is vertical and placement can keep it clear of other labels.
    """
    side = [(r + GAP, -h / 2), (-r - GAP - w, -h / 2)]
    if not far:
        return np.array(side + [(-w / 2, -r - GAP - h), (-w / 2, r + GAP), (r + GAP, -r - h),
                                (-r - GAP - w, -r - h), (r + GAP, r), (-r - GAP - w, r)])
    more = []  # straight above or below, level by level, leader lines from the node
    clear = max(r, h / 2) + GAP  # above the boxes beside the glyph
    levels = np.arange(LEVELS + 1) * (h + 2.0)
    # one alignment through all levels before the next: labels of a crowded row then
    # stack as a staircase whose leader lines cross no other label
    for sx in (-w + r, -r, -w / 2):
        more += [(sx, -clear - h - dy) for dy in levels]
    for sx in (-w + r, -r, -w / 2):
        more += [(sx, clear + dy) for dy in levels]
    return np.array(side + more)


def _overlaps(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For candidate boxes ``[m, 4]`` (x0, y0, x1, y1): how many of ``boxes`` each overlaps."""
    if not boxes.size or not box.size:
        return np.zeros(box.shape[0], np.int64)
    return ((box[:, None, 0] < boxes[None, :, 2]) & (boxes[None, :, 0] < box[:, None, 2])
            & (box[:, None, 1] < boxes[None, :, 3]) & (boxes[None, :, 1] < box[:, None, 3])
            ).sum(1)


def _hits(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For candidate boxes ``[m, 4]``: which overlap any of ``boxes``."""
    return _overlaps(box, boxes) > 0


def _leaders(anchor: np.ndarray, cand: np.ndarray, r: float) -> np.ndarray:
    """Thin boxes of the vertical leader lines of the far candidates (near ones: empty)."""
    ax, ay = float(anchor[0]), float(anchor[1])
    above = cand[:, 3] <= ay
    y0 = np.where(above, cand[:, 3], ay + r)
    y1 = np.where(above, ay - r, cand[:, 1])
    lead = np.column_stack([np.full(len(cand), ax - 0.5), y0, np.full(len(cand), ax + 0.5), y1])
    lead[:N_NEAR] = (ax, ay, ax, ay)  # zero area: hits nothing
    lead[(lead[:, 3] - lead[:, 1]) <= GAP + 0.5] = (ax, ay, ax, ay)
    return lead


def place_labels(anchors: np.ndarray, sizes: np.ndarray, radii: np.ndarray, must: np.ndarray,
                 glyphs: np.ndarray, bounds: tuple[float, float, float, float],
                 centred: np.ndarray | None = None) -> np.ndarray:
    """Greedy placement; returns ``[n, 4]`` boxes (x0, y0, x1, y1), NaN rows left out.

    A box may cover no box placed before it, no glyph and no leader line; a leader line
    may cross no placed box. So every label reads unambiguously back to its node.

    Args:
        anchors: ``[n, 2]`` node centres in px, in priority order.
        sizes: ``[n, 2]`` label box sizes in px.
        radii: ``[n]`` half glyph sizes in px.
        must: ``[n]`` True for labels that may go further out (with a leader line).
        glyphs: ``[g, 4]`` boxes of every drawn glyph; labels avoid them.
        bounds: (x0, y0, x1, y1) the labels must stay inside.
        centred: ``[n]`` True for labels that are the node itself (a supernode's box):
            centred on the anchor, or, when that spot is taken, nudged to the nearest
            free spot beside it.
    """
    out = np.full((len(anchors), 4), np.nan)
    placed = np.zeros((0, 4))
    leaders = np.zeros((0, 4))
    bx0, by0, bx1, by1 = bounds
    for k in range(len(anchors)):
        w, h = sizes[k]
        r = float(radii[k])
        off = _offsets(w, h, r, bool(must[k]))
        if centred is not None and centred[k]:
            off = np.vstack([[(-w / 2, -h / 2)], off])
        x0 = anchors[k, 0] + off[:, 0]
        y0 = anchors[k, 1] + off[:, 1]
        cand = np.column_stack([x0, y0, x0 + w, y0 + h])
        lead = _leaders(anchors[k], cand, r)
        ok = (cand[:, 0] >= bx0) & (cand[:, 1] >= by0) & (cand[:, 2] <= bx1) & (cand[:, 3] <= by1)
        if not ok.any():
            continue
        reach = w + (LEVELS + 1) * (h + 2.0) + 40.0
        near = glyphs[(np.abs(glyphs[:, 0] - anchors[k, 0]) < reach)
                      & (np.abs(glyphs[:, 1] - anchors[k, 1]) < reach)] if glyphs.size else glyphs
        idx = np.flatnonzero(ok)
        clash = _hits(cand[idx], placed) | _hits(cand[idx], leaders) | _hits(lead[idx], placed)
        covered = _overlaps(cand[idx], near)
        free = idx[~clash & (covered == 0)]
        if not free.size and must[k]:
            # a label that must show (a logit, a pin) rather covers a glyph than goes missing
            # (on a small canvas a tall stack of logit labels runs out of room above its
            # row): the spot covering the fewest, the nearest of those
            spots = np.flatnonzero(~clash)
            free = idx[spots[np.argsort(covered[spots], kind="stable")]]
        if free.size:
            out[k] = cand[free[0]]
            placed = np.vstack([placed, out[k][None, :]])
            if lead[free[0], 3] > lead[free[0], 1]:
                leaders = np.vstack([leaders, lead[free[0]][None, :]])
    return out


@dataclass
class PlacedLabel:
    """One drawn label: its node's anchor in data coordinates and its box relative to it."""

    text: str
    row: int | None
    anchor: tuple[float, float]
    offset: tuple[float, float, float, float]
    """Box (x0, y0, x1, y1) in px relative to the anchor's scene position."""
    leader: bool
    fill: QColor | None = None
    """Background of the box when it is not the usual one (a supernode's box)."""
    glyph_radius: float = 0.0
    """Px from the anchor to its glyph's edge, where the leader line starts (drawn from the
    centre it crossed the glyph and hid half its colour)."""


class LabelPainter(pg.GraphicsObject):  # type: ignore[misc]
    """Paints every label (background box, text, leader line) in one call.

    Boxes are stored relative to their node in px, so they follow the nodes while the
    view pans; the canvas re-places them when the view rests.
    """

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[PlacedLabel] = []
        self.font = label_font()
        self._text = QColor("#222222")
        self._fill = QColor(255, 255, 255, 225)
        self._border = QColor(150, 150, 150, 200)
        self._leader = QColor(60, 60, 60, 170)
        self._bounds = QRectF()
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_colors(self, text: str, background: str, dark: bool) -> None:
        self._text = QColor(text)
        fill = QColor(background)
        fill.setAlpha(225)
        self._fill = fill
        self._border = QColor(110, 110, 110, 200) if dark else QColor(160, 160, 160, 200)
        self._leader = QColor(200, 200, 200, 170) if dark else QColor(60, 60, 60, 170)
        self.update()

    def set_labels(self, labels: list[PlacedLabel], view_rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.labels = labels
        self._bounds = QRectF(view_rect)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, *args: object) -> None:
        if not self.labels:
            return
        tf = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        painter.setFont(self.font)
        for lab in self.labels:
            p = tf.map(QPointF(*lab.anchor))
            x0, y0, x1, y1 = lab.offset
            rect = QRectF(p.x() + x0, p.y() + y0, x1 - x0, y1 - y0)
            if lab.leader:
                end = QPointF(min(max(p.x(), rect.left()), rect.right()),
                              min(max(p.y(), rect.top()), rect.bottom()))
                length = math.hypot(end.x() - p.x(), end.y() - p.y())
                start = (lab.glyph_radius + 1.0) / length if length else 1.0
                if start < 1.0:
                    painter.setPen(QPen(self._leader, 1.0))
                    painter.drawLine(p + (end - p) * start, end)
            painter.setPen(QPen(self._border, 1.0))
            painter.setBrush(lab.fill or self._fill)
            painter.drawRoundedRect(rect, 2.0, 2.0)
            painter.setPen(self._text)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, lab.text)
        painter.restore()
