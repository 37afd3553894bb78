"""What a figure shows and how, and where an export writes it (plain data, shared by the
figure's builder and its parts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["graph", "view", "subgraph"]
Format = Literal["svg", "png", "pdf"]


@dataclass(frozen=True)
class FigureOptions:
    """What the figure shows and how.

    Attributes:
        width: Canvas width in px (96 px = 1 inch).
        height: Canvas height in px.
        theme: ``"light"`` (for papers) or ``"dark"``.
        labels: Label logits, pinned and selected nodes, and nodes with a feature label
            (clerp) where there is room.
        all_labels: Also label every other visible node (up to ``max_labels``).
        max_labels: Cap on node labels.
        transparent: No background or row bands.
        legend: Draw the key on the right.
        scope: ``"graph"`` (all visible), ``"view"`` (``view_rect`` only) or
            ``"subgraph"`` (pinned nodes and supernodes only).
        view_rect: ``(x0, y0, x1, y1)`` in layout units (x = position, y = row), for
            scope ``"view"``.
        font_size: Base font size in px.
        title: Optional title line.
        short_logit_labels: Label logits ``" Paris" (p=0.987)`` rather than with the
            full clerp ``Output " Paris" (p=0.987)``.
        max_logit_labels: Label at most this many logits (most probable first); the
            rest are left out with a note.
        arrows: Arrowheads on edges (at the target's glyph).
        compact_rows: Close up layers with no visible node (not with scope ``"view"``,
            whose rectangle is in the canvas's coordinates).
    """

    width: int = 1200
    height: int = 800
    theme: str = "light"
    labels: bool = True
    all_labels: bool = False
    max_labels: int = 60
    transparent: bool = False
    legend: bool = True
    scope: Scope = "graph"
    view_rect: tuple[float, float, float, float] | None = None
    font_size: float = 11.0
    title: str = ""
    compact_rows: bool = True
    short_logit_labels: bool = True
    max_logit_labels: int = 12
    arrows: bool = False


@dataclass(frozen=True)
class ExportOptions:
    """A figure export request: the figure plus where and how to write it."""

    path: str = ""
    format: Format = "svg"
    dpi: float = 96.0
    figure: FigureOptions = field(default_factory=FigureOptions)
