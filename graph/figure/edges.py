"""Edges of a figure: summed between drawn items, coloured by share of the target's input,
clipped to the plot in numpy and batched into a few style buckets (pure data, no Qt).

Clipping here rather than with an SVG ``clipPath`` keeps the SVG free of a feature that
ImageMagick's renderer gets wrong (it drew nothing inside a clipped group).
"""

from __future__ import annotations

import numpy as np

from ..analysis.supernodes import sum_between
from ..analysis.view import input_share
from ..model import Graph
from .style import MAG_BINS, PCT_SCALE, EdgeBucket, Theme, edge_color, edge_width

ARROW_LEN = 3.2
"""Arrowhead length as a multiple of the edge's stroke width (plus a 4 px minimum)."""


def clip_segments(seg: np.ndarray, rect: tuple[float, float, float, float]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Liang-Barsky clip of ``[k, 4]`` segments to ``rect`` (x, y, w, h).

    Returns the clipped segments and a mask of the input rows that meet the rect.
    """
    x0, y0, x1, y1 = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    dx, dy = x1 - x0, y1 - y0
    lo, hi = np.zeros(len(seg)), np.ones(len(seg))
    ok = np.ones(len(seg), dtype=bool)
    rx, ry, rw, rh = rect
    for p, q in ((-dx, x0 - rx), (dx, rx + rw - x0), (-dy, y0 - ry), (dy, ry + rh - y0)):
        par = p == 0
        ok &= ~(par & (q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(par, 0.0, q / np.where(par, 1.0, p))
        lo = np.where(~par & (p < 0), np.maximum(lo, t), lo)
        hi = np.where(~par & (p > 0), np.minimum(hi, t), hi)
    ok &= lo <= hi
    out = np.column_stack([x0 + lo * dx, y0 + lo * dy, x0 + hi * dx, y0 + hi * dy])
    return out[ok], ok


def shorten_to_box(seg: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Move each segment's end back along it to the edge of its target's box
    (``half`` = ``[k, 2]`` half width and height), so an arrowhead touches the glyph."""
    d = seg[:, 2:] - seg[:, :2]
    with np.errstate(divide="ignore"):
        t = np.minimum(half[:, 0] / np.abs(d[:, 0]), half[:, 1] / np.abs(d[:, 1]))
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=1.0), 0.0, 1.0)
    out = seg.copy()
    out[:, 2:] -= d * t[:, None]
    return out


def arrowheads(seg: np.ndarray, width: float) -> np.ndarray:
    """``[k, 6]`` triangles with their tip at each segment's end."""
    d = seg[:, 2:] - seg[:, :2]
    norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    u = d / norm
    n = np.column_stack([-u[:, 1], u[:, 0]])
    length = ARROW_LEN * width + 4.0
    tip = seg[:, 2:]
    back = tip - u * np.minimum(length, norm * 0.5)
    half = 0.45 * length
    return np.hstack([tip, back + n * half, back - n * half])


def edge_buckets(graph: Graph, edges: np.ndarray, display: np.ndarray, centres: np.ndarray,
                 half_sizes: np.ndarray, plot: tuple[float, float, float, float], theme: Theme,
                 *, arrows: bool = False) -> list[EdgeBucket]:
    """One bucket per (magnitude bin, sign), weakest first so strong edges are on top.

    Edges between the same two drawn items (a supernode counts as one) are summed into
    one, so the width and colour of a group-to-group edge follow its total weight.
    """
    s, t, w = sum_between(graph.source[edges], graph.target[edges], graph.weight[edges],
                          display)
    pct = input_share(t, w)
    seg = np.hstack([centres[s], centres[t]]) if s.size else np.zeros((0, 4))
    if arrows and s.size:
        seg = shorten_to_box(seg, half_sizes[t] + 1.0)
    clipped, keep = clip_segments(seg, plot)
    ends_inside = (np.abs(clipped[:, 2:] - seg[keep, 2:]) < 1e-6).all(axis=1)
    pct = pct[keep]
    mag = np.minimum(np.abs(pct) / PCT_SCALE, 1.0)
    bins = np.clip(np.searchsorted(MAG_BINS, mag, side="right") - 1, 0, len(MAG_BINS) - 2)
    out: list[EdgeBucket] = []
    for b in range(len(MAG_BINS) - 1):
        rep = 0.5 * (MAG_BINS[b] + MAG_BINS[b + 1]) * PCT_SCALE
        for sign in (1, -1):
            sel = (bins == b) & ((pct >= 0) if sign > 0 else (pct < 0))
            if not sel.any():
                continue
            width = edge_width(rep)
            lines, heads = clipped[sel], np.zeros((0, 6))
            if arrows:
                headed = ends_inside[sel]
                heads = arrowheads(lines[headed], width)
                lines = lines.copy()
                # The stroke stops at the arrow's base, so its flat end never pokes out.
                lines[headed, 2:] = 0.5 * (heads[:, 2:4] + heads[:, 4:6])
            out.append(EdgeBucket(color=edge_color(theme, sign * rep), width=width,
                                  segments=lines, sign=sign, magnitude=rep, arrows=heads))
    return out
