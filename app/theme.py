"""Light and dark themes for the whole window (Qt palette + the plots' backgrounds)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .canvas.graph_canvas import DARK, LIGHT

_light: list[QPalette] = []
"""Fusion's standard palette, taken once: switching back to light restores it."""


def _dark_palette() -> QPalette:
    p = QPalette()
    base, text, mid = QColor("#1e1f22"), QColor("#d0d0d0"), QColor("#2b2d31")
    for role, color in ((QPalette.ColorRole.Window, mid), (QPalette.ColorRole.WindowText, text),
                        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, mid),
                        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, mid),
                        (QPalette.ColorRole.ButtonText, text),
                        (QPalette.ColorRole.ToolTipBase, mid), (QPalette.ColorRole.ToolTipText, text),
                        (QPalette.ColorRole.Highlight, QColor("#3d6fb4")),
                        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
                        (QPalette.ColorRole.PlaceholderText, QColor("#8a8a8a"))):
        p.setColor(role, color)
    return p


def apply_theme(dark: bool, canvas: Any, subgraph: Any, plot: Any) -> None:
    """Switch the canvas, the subgraph view, the verify plot and the widgets' palette."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        if not _light:
            app.setStyle("Fusion")  # the platform styles ignore much of the palette
            _light.append(app.style().standardPalette())
        app.setPalette(_dark_palette() if dark else _light[0])
    theme = DARK if dark else LIGHT
    canvas.set_theme(theme)
    subgraph.set_colors(theme.background, theme.foreground)
    plot.setBackground(theme.background)
