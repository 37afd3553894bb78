"""Figures: a graph and its view state described as plain drawing data (no Qt), and the SVG
writer. ``app/figure_png.py`` paints the same description into PNG and PDF.
"""

from .build import build_figure
from .options import ExportOptions, FigureOptions
from .style import Figure
from .svg_writer import figure_to_svg, write_svg

__all__ = ["ExportOptions", "Figure", "FigureOptions", "build_figure", "figure_to_svg", "write_svg"]
