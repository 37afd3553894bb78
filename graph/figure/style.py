"""Drawing primitives and themes of an exported figure (pure data, no Qt).

A :class:`Figure` is a flat list of primitives in pixel coordinates (96 px = 1 inch)
that both the SVG writer and the Qt raster renderer draw the same way, in this
order: background, ``rects``, ``lines``, ``edges`` and ``nodes`` (clipped to
``plot_rect``), ``leaders``, ``label_boxes``, ``texts``, then the legend's rects, glyphs and texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Shape = Literal["circle", "diamond", "square", "roundrect"]
Anchor = Literal["start", "middle", "end"]

FONT_FAMILIES = ("DejaVu Sans", "Arial", "Helvetica", "sans-serif")
"""Font stack: the first that exists wins, everywhere (SVG viewers, Qt, PDF). DejaVu Sans
first because it is on almost every Linux system and covers the glyphs tokens use; the
widths :func:`text_width` assumes are DejaVu's, which errs wide for Arial and Helvetica."""

PCT_SCALE = 0.4
"""Share of a target's input at which edge colour saturates (the circuit-tracer viewer's ±0.4)."""

MAG_BINS = (0.0, 0.05, 0.15, 0.3, 0.5, 0.75, 1.0)
"""Edges of the magnitude bins (as a fraction of PCT_SCALE); one style bucket per bin and sign."""


@dataclass(frozen=True)
class Theme:
    """Colours of one theme, as ``#rrggbb`` strings."""

    name: str
    background: str
    band_a: str
    band_b: str
    text: str
    muted: str
    axis: str
    fill: dict[str, str]
    stroke: str
    pinned: str
    selected: str
    edge_zero: str
    edge_neg: str
    edge_pos: str
    group_fill: str
    group_stroke: str


LIGHT = Theme(
    name="light", background="#ffffff", band_a="#f7f6f2", band_b="#efede6", text="#1a1a1a",
    muted="#666666", axis="#b0aea6",
    fill={"feature": "#ffffff", "error": "#b8b8b8", "embedding": "#b9dfb4", "logit": "#f6c96b"},
    stroke="#333333", pinned="#d6336c", selected="#7048e8", edge_zero="#e4e4e4",
    edge_neg="#2166ac", edge_pos="#d94801", group_fill="#fff4d6", group_stroke="#8a6d1f",
)
DARK = Theme(
    name="dark", background="#1e1f22", band_a="#25262a", band_b="#2b2c31", text="#e8e8e8",
    muted="#a0a0a0", axis="#55575e",
    fill={"feature": "#3b3e45", "error": "#7a7a7a", "embedding": "#4f8a4a", "logit": "#b8892a"},
    stroke="#d8d8d8", pinned="#ff6b9a", selected="#b197fc", edge_zero="#3a3c41",
    edge_neg="#5aa7f0", edge_pos="#ff8c3a", group_fill="#4a3f22", group_stroke="#e0c070",
)
THEMES = {"light": LIGHT, "dark": DARK}


@dataclass
class NodeGlyph:
    """One node marker; ``x, y`` is its centre, ``w, h`` its box (equal for circles)."""

    x: float
    y: float
    shape: Shape
    w: float
    h: float
    fill: str
    stroke: str
    stroke_width: float
    node_id: str = ""
    kind: str = ""


@dataclass
class EdgeBucket:
    """All edges drawn with one pen: ``segments`` is ``[k, 4]`` (x0, y0, x1, y1) in px."""

    color: str
    width: float
    segments: npt.NDArray[np.float64]
    sign: int = 1
    magnitude: float = 0.0
    arrows: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 6)))
    """``[k, 6]`` arrowhead triangles (tip, then the two back corners), filled in ``color``."""


@dataclass
class TextItem:
    """A line of text; ``y`` is its baseline, ``rotate`` degrees clockwise about (x, y)."""

    x: float
    y: float
    text: str
    size: float
    color: str
    anchor: Anchor = "start"
    role: str = "label"
    bold: bool = False
    rotate: float = 0.0


@dataclass
class RectItem:
    """A rectangle; ``fill`` / ``stroke`` None draws no fill / outline."""

    x: float
    y: float
    w: float
    h: float
    fill: str | None
    stroke: str | None = None
    stroke_width: float = 1.0
    radius: float = 0.0


@dataclass
class LineItem:
    x0: float
    y0: float
    x1: float
    y1: float
    color: str
    width: float = 1.0


@dataclass
class Legend:
    """The key: glyph kinds and the edge colour scale, as ready-placed primitives."""

    rects: list[RectItem] = field(default_factory=list)
    glyphs: list[NodeGlyph] = field(default_factory=list)
    texts: list[TextItem] = field(default_factory=list)
    scale: list[tuple[float, str]] = field(default_factory=list)
    """(share of input, colour) stops of the edge colour scale."""


@dataclass
class Figure:
    """A finished figure description in px; see the module docstring for drawing order."""

    width: float
    height: float
    background: str | None
    plot_rect: tuple[float, float, float, float]
    rects: list[RectItem] = field(default_factory=list)
    lines: list[LineItem] = field(default_factory=list)
    edges: list[EdgeBucket] = field(default_factory=list)
    nodes: list[NodeGlyph] = field(default_factory=list)
    texts: list[TextItem] = field(default_factory=list)
    legend: Legend | None = None
    leaders: list[LineItem] = field(default_factory=list)
    """Leader lines from logit labels down to their nodes (drawn with ``label_boxes``)."""
    label_boxes: list[RectItem] = field(default_factory=list)
    """Backgrounds drawn behind the node labels (after nodes, before ``texts``)."""
    font_families: tuple[str, ...] = FONT_FAMILIES
    notes: list[str] = field(default_factory=list)
    """One-line remarks (e.g. labels left out because of the cap)."""

    @property
    def n_edges(self) -> int:
        return int(sum(b.segments.shape[0] for b in self.edges))


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def mix(a: str, b: str, t: float) -> str:
    """The colour ``t`` of the way from ``a`` to ``b`` (sRGB, t in [0, 1])."""
    c = _rgb(a) + (_rgb(b) - _rgb(a)) * min(max(t, 0.0), 1.0)
    return "#" + "".join(f"{round(v):02x}" for v in c)


def edge_color(theme: Theme, pct: float) -> str:
    """Colour of an edge carrying ``pct`` (signed share) of its target's input."""
    t = min(abs(pct) / PCT_SCALE, 1.0)
    # Start a quarter of the way in so that weak edges stay visible on the background.
    return mix(theme.edge_zero, theme.edge_pos if pct >= 0 else theme.edge_neg, 0.15 + 0.85 * t)


def edge_width(pct: float) -> float:
    """Stroke width in px: 1 px at zero, 3 px at saturation (sqrt, as circuit-tracer)."""
    return 1.0 + 2.0 * float(np.sqrt(min(abs(pct) / PCT_SCALE, 1.0)))


_ADVANCE: dict[str, float] = {}
for _chars, _em in (("ijlI|!.,:;'`", 0.30), (" ", 0.32), ("ftr()[]{}\"-", 0.41),
                    ("sczJ", 0.55), ("LFPT?", 0.60), ("abdeghknopquvxy0123456789#$_ESZ", 0.64),
                    ("ABCKRVXY&", 0.70), ("DGHNOQU", 0.78), ("mw%+<=>~MW", 0.90)):
    for _c in _chars:
        _ADVANCE[_c] = _em


def text_width(text: str, size: float) -> float:
    """Advance of ``text`` in px, from DejaVu Sans's widths rounded up (no font metrics
    below Qt). Arial and Helvetica, next in the font stack, are narrower, so boxes
    placed with it never overlap where a viewer picks those instead."""
    em = sum(_ADVANCE.get(c, 1.0 if ord(c) >= 0x2E80 else 0.66) for c in text)
    return em * size
