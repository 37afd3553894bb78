"""The pieces of a figure: plot area, node glyphs, supernode boxes, axes, labels, legend.

Helpers of :mod:`.figure`; everything here is in px and free of Qt.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..document import ViewState
from .options import FigureOptions
from .style import (
    PCT_SCALE,
    Figure,
    Legend,
    LineItem,
    NodeGlyph,
    RectItem,
    TextItem,
    Theme,
    edge_color,
    text_width,
)
from ..analysis.layout import CELL_SPAN, Layout, node_rows
from ..model import Graph, NodeKind
from ..text import token_text
from .labels import clip_text, overlap


LEGEND_WIDTH = 190.0
_KIND_NAMES = {
    NodeKind.FEATURE: "Transcoder feature",
    NodeKind.ERROR: "Reconstruction error",
    NodeKind.EMBEDDING: "Token embedding",
    NodeKind.LOGIT: "Output logit",
}
_SHAPES = {NodeKind.FEATURE: "circle", NodeKind.ERROR: "diamond",
           NodeKind.EMBEDDING: "square", NodeKind.LOGIT: "square"}


@dataclass(frozen=True)
class Mapper:
    """Maps layout units (x = position, y = row, up) to px inside ``plot`` (y down)."""

    rect: tuple[float, float, float, float]
    plot: tuple[float, float, float, float]

    @property
    def sx(self) -> float:
        return self.plot[2] / max(self.rect[2] - self.rect[0], 1e-9)

    @property
    def sy(self) -> float:
        return self.plot[3] / max(self.rect[3] - self.rect[1], 1e-9)

    def px(self, x: float, y: float) -> tuple[float, float]:
        return (self.plot[0] + (x - self.rect[0]) * self.sx,
                self.plot[1] + self.plot[3] - (y - self.rect[1]) * self.sy)

    def to_px(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty((xy.shape[0], 2), dtype=np.float64)
        out[:, 0] = self.plot[0] + (xy[:, 0] - self.rect[0]) * self.sx
        out[:, 1] = self.plot[1] + self.plot[3] - (xy[:, 1] - self.rect[1]) * self.sy
        return out

    def inside(self, pxy: np.ndarray, pad: float = 0.0) -> np.ndarray:
        x, y, w, h = self.plot
        return ((pxy[:, 0] >= x - pad) & (pxy[:, 0] <= x + w + pad)
                & (pxy[:, 1] >= y - pad) & (pxy[:, 1] <= y + h + pad))

    def segments_in_plot(self, seg: np.ndarray) -> np.ndarray:
        """Segments whose bounding box meets the plot (the renderers clip the rest)."""
        x, y, w, h = self.plot
        hit: np.ndarray = ((np.maximum(seg[:, 0], seg[:, 2]) >= x) & (np.minimum(seg[:, 0], seg[:, 2]) <= x + w)
                & (np.maximum(seg[:, 1], seg[:, 3]) >= y)
                & (np.minimum(seg[:, 1], seg[:, 3]) <= y + h))
        return hit


def plot_area(graph: Graph, layout: Layout, rect: tuple[float, float, float, float],
              opts: FigureOptions, theme: Theme, headroom: float = 0.0) -> tuple[Figure, Mapper]:
    """An empty figure with its margins worked out, and the layout-to-px mapper."""
    fs = opts.font_size
    left = 12.0 + text_width("Logit", fs * 0.9)
    right = LEGEND_WIDTH + 12.0 if opts.legend else 16.0
    top = 14.0 + (fs * 1.4 + 8.0 if opts.title else 0.0) + headroom
    plot_w = max(opts.width - left - right, 20.0)
    scale = plot_w / max(rect[2] - rect[0], 1e-9)
    ticks = token_ticks(graph, layout, rect)
    widest = max((text_width(t, fs) for _, t, _ in ticks), default=0.0)
    rotate = ticks_collide(ticks, scale, fs)
    bottom = (min(widest * 0.72 + 22.0, opts.height * 0.3) if rotate else fs * 1.5 + 14.0)
    plot_h = max(opts.height - top - bottom, 20.0)
    fig = Figure(width=float(opts.width), height=float(opts.height),
                 background=None if opts.transparent else theme.background,
                 plot_rect=(left, top, plot_w, plot_h))
    if opts.title:
        fig.texts.append(TextItem(left, 14.0 + fs * 1.1, opts.title, fs * 1.3, theme.text,
                                  role="title", bold=True))
    return fig, Mapper(rect, (left, top, plot_w, plot_h))


def token_ticks(graph: Graph, layout: Layout, rect: tuple[float, float, float, float]
                ) -> list[tuple[float, str, float]]:
    """(x, token, column width) in layout units of each position whose centre is in view."""
    return [(float(cx), token_text(graph, p), float(w))
            for p, (cx, w) in enumerate(zip(layout.column_x, layout.column_width))
            if rect[0] <= cx <= rect[2]]


def ticks_collide(ticks: list[tuple[float, str, float]], scale: float, fs: float) -> bool:
    """Whether two neighbouring token labels, written level and centred, would touch."""
    for (xa, ta, _), (xb, tb, _) in itertools.pairwise(ticks):
        if (text_width(ta, fs) + text_width(tb, fs)) / 2 + 6.0 > (xb - xa) * scale:
            return True
    return False


def node_size(graph: Graph, nodes: np.ndarray, layout: Layout, mapper: Mapper) -> float:
    """Glyph size in px: fits the most crowded (row, position) cell, 3 to 12 px."""
    rows, pos = node_rows(graph)[nodes], graph.nodes.position[nodes]
    room = 1.0
    if rows.size:
        n_pos = layout.column_width.size
        pos = np.clip(pos, 0, n_pos - 1)
        keys, counts = np.unique(rows * n_pos + pos, return_counts=True)
        room = float((layout.column_width[keys % n_pos] / counts).min())
    return float(np.clip(min(mapper.sx * room * CELL_SPAN * 0.85, mapper.sy * 0.6), 3.0, 12.0))


def node_glyphs(graph: Graph, state: ViewState, nodes: np.ndarray, pxy: np.ndarray,
                layout: Layout, mapper: Mapper, theme: Theme) -> list[NodeGlyph]:
    """One glyph per drawn node, pinned and selected ones last (on top)."""
    size = node_size(graph, nodes, layout, mapper)
    ids = graph.nodes.ids
    marked = state.pinned | state.selected
    rows = sorted(np.flatnonzero(nodes & mapper.inside(pxy, pad=size)).tolist(),
                  key=lambda i: ids[i] in marked)
    out = []
    for i in rows:
        kind = NodeKind(int(graph.nodes.kind[i]))
        shape = _SHAPES[kind]
        side = size * (1.3 if shape == "diamond" else 0.9 if shape == "square" else 1.0)
        stroke, width = theme.stroke, 0.75
        if ids[i] in state.pinned:
            stroke, width = theme.pinned, 2.0
        elif ids[i] in state.selected:
            stroke, width = theme.selected, 2.0
        out.append(NodeGlyph(float(pxy[i, 0]), float(pxy[i, 1]), shape, side, side,  # type: ignore[arg-type]
                             theme.fill[kind.label], stroke, width, ids[i], kind.label))
    return out


def group_glyphs(groups: list[tuple[str, np.ndarray]], pxy: np.ndarray, state: ViewState,
                 graph: Graph, theme: Theme, fs: float,
                 plot: tuple[float, float, float, float]) -> list[tuple[NodeGlyph, TextItem]]:
    """A rounded box with the group's name at its members' centroid, per supernode.

    A box that would cover one already placed is nudged up or down until it is free.
    """
    out: list[tuple[NodeGlyph, TextItem]] = []
    size = fs * 0.9
    placed: list[tuple[float, float, float, float]] = []
    for name, rows in groups:
        cx, cy = (float(v) for v in pxy[rows].mean(axis=0))
        text = clip_text(name, 28)
        w, h = text_width(text, size) + 12.0, size + 8.0
        cx = min(max(cx, plot[0] + w / 2), plot[0] + plot[2] - w / 2)
        for k in range(40):
            step = (k + 1) // 2 * (h + 2.0) * (1 if k % 2 else -1)
            y = min(max(cy + step, plot[1] + h / 2), plot[1] + plot[3] - h / 2)
            box = (cx - w / 2, y - h / 2, cx + w / 2, y + h / 2)
            if not any(overlap(box, b) for b in placed):
                break
        placed.append(box)
        pinned = any(graph.nodes.ids[i] in state.pinned for i in rows)
        glyph = NodeGlyph(cx, y, "roundrect", w, h, theme.group_fill,
                          theme.pinned if pinned else theme.group_stroke, 1.5 if pinned else 1.0,
                          f"group:{name}", "supernode")
        out.append((glyph, TextItem(cx, y + 0.35 * size, text, size, theme.text, "middle",
                                    role="group")))
    return out


def add_axes(fig: Figure, graph: Graph, layout: Layout, mapper: Mapper, opts: FigureOptions,
             theme: Theme) -> None:
    """Row bands, column separators, layer names on the left and tokens below."""
    x, y, w_plot, h = fig.plot_rect
    y0, y1 = mapper.rect[1], mapper.rect[3]
    fs = opts.font_size * 0.9
    rows = list(range(math.ceil(y0), math.floor(y1) + 1))
    for r in rows:
        top = max(mapper.px(0, r + 0.5)[1], y)
        bot = min(mapper.px(0, r - 0.5)[1], y + h)
        if not opts.transparent and bot > top:
            fig.rects.append(RectItem(x, top, w_plot, bot - top,
                                      theme.band_a if r % 2 else theme.band_b))
    sep = theme.axis  # drawn plainly: columns are sized to their content, not even
    for cx, w in zip(layout.column_x[:-1], layout.column_width[:-1]):
        px = mapper.px(float(cx + w / 2), 0)[0]
        if x < px < x + w_plot:
            fig.lines.append(LineItem(px, y, px, y + h, sep, 0.8))
    step = max(1, math.ceil(fs * 1.15 / max(mapper.sy, 1e-9)))
    top_row = max(layout.row_labels, default=0)
    for r, name in sorted(layout.row_labels.items()):
        if r in rows and (r % step == 0 or r in (0, top_row)):
            ry = mapper.px(0, r)[1]
            fig.texts.append(TextItem(x - 6.0, ry + 0.35 * fs, name, fs, theme.muted, "end",
                                      role="tick-y"))
    ticks = token_ticks(graph, layout, mapper.rect)
    rotate = ticks_collide(ticks, mapper.sx, opts.font_size)
    fig.lines.append(LineItem(x, y + h, x + w_plot, y + h, theme.axis, 1.0))
    xs = [mapper.px(cx, 0)[0] for cx, _, _ in ticks]
    gap = min((b - a for a, b in itertools.pairwise(xs)), default=fs * 2)
    every = max(1, math.ceil(opts.font_size * 1.15 / max(gap, 1e-9)))  # long prompts: thin out
    for k, (px, (_, text, _)) in enumerate(zip(xs, ticks)):
        fig.lines.append(LineItem(px, y + h, px, y + h + 4.0, theme.axis, 1.0))
        if k % every:
            continue
        if rotate:
            fig.texts.append(TextItem(px + 3.0, y + h + 10.0, text, opts.font_size, theme.text,
                                      "end", role="tick-x", rotate=-45.0))
        else:
            fig.texts.append(TextItem(px, y + h + 6.0 + opts.font_size, text, opts.font_size,
                                      theme.text, "middle", role="tick-x"))


def build_legend(fig: Figure, opts: FigureOptions, theme: Theme) -> Legend:
    """The key to the right of the plot: the glyph kinds drawn, then the edge colour scale."""
    fs = opts.font_size * 0.9
    px, py, pw, _ = fig.plot_rect
    lx, ly = px + pw + 22.0, py + 4.0
    leg = Legend()
    drawn = {g.kind for g in fig.nodes}  # only what the figure shows (scope "view" crops)
    entries: list[tuple[str, str, str, str, float]] = [
        (_SHAPES[k], theme.fill[k.label], theme.stroke, name, 0.75)
        for k, name in _KIND_NAMES.items() if k.label in drawn]
    if "supernode" in drawn:
        entries.append(("roundrect", theme.group_fill, theme.group_stroke, "Supernode", 1.0))
    if any(g.stroke == theme.pinned for g in fig.nodes):
        entries.append(("circle", theme.fill["feature"], theme.pinned, "Pinned", 2.0))
    row = fs * 1.7
    leg.texts.append(TextItem(lx, ly + fs, "Nodes", fs, theme.text, role="legend", bold=True))
    for k, (shape, fill, stroke, name, sw) in enumerate(entries):
        cy = ly + row * (k + 1) + fs * 0.4
        side = 9.0 if shape != "roundrect" else 8.0
        leg.glyphs.append(NodeGlyph(lx + 7.0, cy, shape, side * (1.8 if shape == "roundrect" else 1),  # type: ignore[arg-type]
                                    side, fill, stroke, sw, kind=name))
        leg.texts.append(TextItem(lx + 20.0, cy + 0.35 * fs, name, fs, theme.text, role="legend"))
    by = ly + row * (len(entries) + 1) + fs * 1.6
    leg.texts.append(TextItem(lx, by, "Edges", fs, theme.text, role="legend", bold=True))
    leg.texts.append(TextItem(lx, by + fs * 1.4, "share of target's input", fs * 0.9, theme.muted,
                              role="legend"))
    n, sw_w = 9, 17.0
    top = by + fs * 2.2
    for k, v in enumerate(np.linspace(-PCT_SCALE, PCT_SCALE, n)):
        color = edge_color(theme, float(v))
        leg.scale.append((float(v), color))
        leg.rects.append(RectItem(lx + k * sw_w, top, sw_w, 10.0, color))
    leg.rects.append(RectItem(lx, top, n * sw_w, 10.0, None, theme.axis, 0.5))
    ty = top + 10.0 + fs * 1.2
    pct = round(PCT_SCALE * 100)
    for text, tx, anchor in ((f"−{pct}%", lx, "start"), ("0", lx + n * sw_w / 2, "middle"),
                             (f"+{pct}%", lx + n * sw_w, "end")):
        leg.texts.append(TextItem(tx, ty, text, fs * 0.9, theme.muted, anchor, role="legend"))  # type: ignore[arg-type]
    leg.texts.append(TextItem(lx, ty + fs * 1.5, "width ∝ √|share|", fs * 0.9, theme.muted,
                              role="legend"))
    return leg
