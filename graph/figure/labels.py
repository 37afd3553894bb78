"""Label placement for figures: logit labels stacked above the plot with leader lines, and
node labels placed greedily where they cover no other label or glyph (pure data, no Qt).

Logit labels are horizontal (every renderer draws them, and they read like a paper's),
spread in as few rows above the plot as fit, each joined to its node by a thin leader
line that passes behind the labels' background boxes. The figure's headroom is then
exactly the rows used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..document import ViewState
from ..model import Graph, NodeKind
from .options import FigureOptions
from ..text import clean_text, token_text
from .style import Figure, LineItem, RectItem, TextItem, Theme, text_width

LABEL_CHARS = 34
LOGIT_ROWS = 4
"""At most this many rows of logit labels; the least probable are left out, with a note."""
LOGIT_GAP = 8.0
"""Horizontal gap between two logit labels in one row, in px."""
_OUTPUT_CLERP = re.compile(r'^\s*output:?\s*(".*")\s*\(p=([-+0-9.eE]+)\)\s*$', re.IGNORECASE)

Box = tuple[float, float, float, float]


def clip_text(text: str, n: int) -> str:
    text = clean_text(text)
    return text if len(text) <= n else text[:n - 1] + "…"


def fallback_label(graph: Graph, i: int) -> str:
    """A label for a node whose file gives none."""
    n = graph.nodes
    kind = NodeKind(int(n.kind[i]))
    if kind == NodeKind.EMBEDDING:
        return f"Emb: {token_text(graph, int(n.position[i]))}"
    if kind == NodeKind.ERROR:
        return f"Error L{int(n.layer[i])}"
    if kind == NodeKind.LOGIT:
        return f"Logit {int(n.vocab_id[i])}"
    return f"L{int(n.layer[i])}/{int(n.feature[i])}"


def own_label(graph: Graph, state: ViewState, i: int) -> str:
    """The user's label, else the file's (the clerp); empty when neither gives one."""
    return (state.labels.get(graph.nodes.ids[i]) or graph.nodes.label[i]).strip()


def node_label(graph: Graph, state: ViewState, i: int) -> str:
    """The user's label, else the file's (the clerp), else a fallback."""
    return own_label(graph, state, i) or fallback_label(graph, i)


def logit_label(graph: Graph, state: ViewState, i: int, short: bool = True) -> str:
    """A logit's label; ``short`` turns ``Output " Paris" (p=0.987)`` into ``" Paris" (p=0.987)``
    (the row is already labelled "Logit"). A user's own label is kept as is."""
    text = node_label(graph, state, i)
    if not short or graph.nodes.ids[i] in state.labels:
        return text
    m = _OUTPUT_CLERP.match(text)
    return f"{m.group(1)} (p={m.group(2)})" if m else text


@dataclass(frozen=True)
class LogitLabels:
    """Where the logit labels go: ``(node row, label centre x, text, stack row)`` each."""

    placed: tuple[tuple[int, float, str, int], ...] = ()
    left_out: int = 0
    line_height: float = 0.0

    @property
    def headroom(self) -> float:
        """Space above the plot that the stacked rows need (0 when nothing is placed)."""
        if not self.placed:
            return 0.0
        return (max(r for *_, r in self.placed) + 1) * self.line_height + 8.0


def spread(centres: list[float], widths: list[float], lo: float, hi: float) -> list[float] | None:
    """Centres as near ``centres`` (sorted) as possible with no two intervals overlapping,
    all inside ``[lo, hi]``; None when their total width does not fit.

    Overlapping runs merge into clusters placed at their members' mean wish, the
    usual one-dimensional label layout.
    """
    if sum(widths) > hi - lo:
        return None
    clusters: list[list[int]] = []
    lefts: list[float] = []

    def best_left(members: list[int]) -> float:
        offs = np.cumsum([0.0] + [widths[k] for k in members[:-1]])
        want = np.mean([centres[k] - widths[k] / 2 - o for k, o in zip(members, offs)])
        total = sum(widths[k] for k in members)
        return float(min(max(want, lo), hi - total))

    for k in range(len(centres)):
        clusters.append([k])
        lefts.append(best_left([k]))
        while len(clusters) > 1:
            prev_right = lefts[-2] + sum(widths[m] for m in clusters[-2])
            if prev_right <= lefts[-1]:
                break
            merged = clusters[-2] + clusters.pop()
            lefts.pop()
            clusters[-1], lefts[-1] = merged, best_left(merged)
    out = [0.0] * len(centres)
    for members, left in zip(clusters, lefts):
        for k in members:
            out[k] = left + widths[k] / 2
            left += widths[k]
    return out


def place_logit_labels(graph: Graph, state: ViewState, logits: list[int], px: np.ndarray,
                       bounds: tuple[float, float], opts: FigureOptions) -> LogitLabels:
    """Lay out the labels of ``logits`` (most probable first) in rows above the plot.

    As few rows as their total width allows (at most :data:`LOGIT_ROWS`); in x order,
    label k goes in row ``k % rows`` and each row is spread so no two labels meet.
    The least probable labels are dropped (and counted) until every row fits.
    """
    fs = opts.font_size * 0.85
    chosen = logits[:max(opts.max_logit_labels, 0)]
    texts = {i: clip_text(logit_label(graph, state, i, opts.short_logit_labels), LABEL_CHARS)
             for i in chosen}
    room = bounds[1] - bounds[0]
    while chosen:
        items = sorted(chosen, key=lambda i: (float(px[i]), i))
        widths = {i: text_width(texts[i], fs) + LOGIT_GAP for i in items}
        # Rows at most ~60% full keep labels near their logits and leaders short.
        n_rows = max(1, math.ceil(sum(widths.values()) / (0.6 * room)))
        n_rows = min(n_rows, LOGIT_ROWS) if len(items) > 1 else 1
        rows = [items[r::n_rows] for r in range(n_rows)] if n_rows <= LOGIT_ROWS else []
        spots = [spread([float(px[i]) for i in row], [widths[i] for i in row], *bounds)
                 for row in rows]
        if rows and all(s is not None for s in spots):
            placed = tuple((i, x, texts[i], r) for r, (row, xs) in enumerate(zip(rows, spots))
                           for i, x in zip(row, xs or []))
            return LogitLabels(placed, len(logits) - len(chosen), fs * 1.35)
        chosen = chosen[:-1]
    return LogitLabels((), len(logits), fs * 1.35)


def add_logit_labels(fig: Figure, labels: LogitLabels, pxy: np.ndarray, glyph_h: dict[int, float],
                     opts: FigureOptions, theme: Theme) -> None:
    """Write the placed logit labels and their leader lines into ``fig``."""
    fs = opts.font_size * 0.85
    top = fig.plot_rect[1]
    for i, x, text, r in labels.placed:
        base = top - 6.0 - r * labels.line_height
        tw = text_width(text, fs)
        fig.label_boxes.append(RectItem(x - tw / 2 - 1.5, base - fs * 1.05, tw + 3.0, fs * 1.2,
                                        theme.background, radius=2.0))
        fig.texts.append(TextItem(x, base - fs * 0.2, text, fs, theme.text, "middle",
                                  role="label"))
        node_top = float(pxy[i, 1]) - glyph_h.get(i, 0.0) / 2 - 1.0
        fig.leaders.append(LineItem(float(pxy[i, 0]), node_top, x, base + 2.0, theme.muted, 0.6))
    if labels.left_out:
        fig.notes.append(f"{labels.left_out} logit label(s) left out (no room; the most "
                         f"probable {len(labels.placed)} are labelled)")


def label_order(graph: Graph, state: ViewState, nodes: np.ndarray, opts: FigureOptions
                ) -> list[int]:
    """Pinned, then selected or clicked, then features with a label by influence; with
    ``all_labels`` every other visible node follows (logits are placed separately)."""
    ids, kind = graph.nodes.ids, graph.nodes.kind
    inner = nodes & (kind != NodeKind.LOGIT)
    marked = [i for i in np.flatnonzero(inner).tolist()
              if ids[i] in state.pinned or ids[i] in state.selected or ids[i] == state.clicked]
    marked.sort(key=lambda i: ids[i] not in state.pinned)
    rest = np.flatnonzero(inner & (kind != NodeKind.EMBEDDING))
    infl = np.nan_to_num(graph.nodes.influence[rest].astype(np.float64), nan=2.0)
    order = rest[np.argsort(infl, kind="stable")].tolist()  # lower cumulative = more important
    seen = set(marked)
    named = [i for i in order if i not in seen and kind[i] == NodeKind.FEATURE
             and own_label(graph, state, i)]
    if not opts.all_labels:
        return marked + named
    seen.update(named)
    return marked + named + [i for i in order if i not in seen]


def add_node_labels(fig: Figure, graph: Graph, state: ViewState, nodes: np.ndarray,
                    pxy: np.ndarray, opts: FigureOptions, theme: Theme) -> None:
    """Label the chosen nodes where a label fits without covering another label or glyph;
    each label sits on a box of the background colour so edges do not run through it."""
    fs = opts.font_size * 0.85
    glyph_w = {g.node_id: g.w for g in fig.nodes}
    boxes = np.array([(g.x - g.w / 2, g.y - g.h / 2, g.x + g.w / 2, g.y + g.h / 2)
                      for g in fig.nodes] or np.zeros((0, 4)), dtype=np.float64).reshape(-1, 4)
    placed: list[Box] = []
    x, y, w, h = fig.plot_rect
    bounds = (x, y, x + w, y + h)
    shown = skipped = 0
    for i in label_order(graph, state, nodes, opts):
        nid = graph.nodes.ids[i]
        if nid not in glyph_w:
            continue
        if shown >= opts.max_labels:
            skipped += 1
            continue
        text = clip_text(node_label(graph, state, i), LABEL_CHARS)
        spot = _free_spot(float(pxy[i, 0]), float(pxy[i, 1]), glyph_w[nid] / 2 + 2.0,
                          text_width(text, fs), fs, bounds, placed, boxes)
        if spot is None:
            skipped += 1
            continue
        lx, ly, anchor, box = spot
        placed.append(box)
        fig.label_boxes.append(RectItem(box[0] - 1.5, box[1], box[2] - box[0] + 3.0,
                                        box[3] - box[1], theme.background, radius=2.0))
        fig.texts.append(TextItem(lx, ly + 0.35 * fs, text, fs, theme.text, anchor,  # type: ignore[arg-type]
                                  role="label"))
        shown += 1
    if skipped:
        fig.notes.append(f"{skipped} node label(s) left out (no room or over the cap of "
                         f"{opts.max_labels})")


def _free_spot(cx: float, cy: float, r: float, tw: float, fs: float, bounds: Box,
               placed: list[Box], boxes: np.ndarray) -> tuple[float, float, str, Box] | None:
    """The first of right, left, above, below and the four diagonals where the label's
    box is free."""
    up, down = cy - r - fs * 0.6, cy + r + fs * 0.6
    for lx, ly, anchor in ((cx + r, cy, "start"), (cx - r, cy, "end"), (cx, up, "middle"),
                           (cx, down, "middle"), (cx + r, up, "start"), (cx - r, up, "end"),
                           (cx + r, down, "start"), (cx - r, down, "end")):
        left = lx if anchor == "start" else lx - tw if anchor == "end" else lx - tw / 2
        box = (left - 1.5, ly - fs * 0.6, left + tw + 1.5, ly + fs * 0.6)
        if (fits(box, bounds) and not any(overlap(box, b) for b in placed)
                and not hits(box, boxes)):
            return lx, ly, anchor, box
    return None


def hits(box: Box, boxes: np.ndarray) -> bool:
    """Whether ``box`` meets any row of the ``[k, 4]`` array ``boxes``."""
    return bool(((boxes[:, 0] < box[2]) & (box[0] < boxes[:, 2])
                 & (boxes[:, 1] < box[3]) & (box[1] < boxes[:, 3])).any())


def fits(box: Box, bounds: Box) -> bool:
    return box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
