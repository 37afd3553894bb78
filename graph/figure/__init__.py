"""Figures: a graph and its view state described as plain drawing data (no Qt), and the SVG
writer. ``app/figure_png.py`` paints the same description into PNG and PDF.

The names below load on first use: the canvas imports only ``figure.labels`` at start-up and
should not pay for the figure builder and SVG writer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import build_figure
    from .options import ExportOptions, FigureOptions
    from .style import Figure
    from .svg_writer import figure_to_svg, write_svg

_HOMES = {"build_figure": "build", "ExportOptions": "options", "FigureOptions": "options",
          "Figure": "style", "figure_to_svg": "svg_writer", "write_svg": "svg_writer"}

__all__ = ["ExportOptions", "Figure", "FigureOptions", "build_figure", "figure_to_svg", "write_svg"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
