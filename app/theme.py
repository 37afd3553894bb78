"""Light and dark themes for the whole window (Qt palette + the plots' backgrounds)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .canvas.palette import Theme

_light: list[QPalette] = []
"""Fusion's standard palette, taken once: switching back to light restores it."""


def _dark_palette() -> QPalette:
    """Fusion in dark colours, with a distinct disabled group (greyed text, flat controls) and
    input fields lighter than the window, so check boxes and spin boxes stand out."""
    p = QPalette()
    R = QPalette.ColorRole
    base, text, window = QColor("#474a51"), QColor("#d8d8d8"), QColor("#2b2d31")
    for role, color in ((R.Window, window), (R.WindowText, text), (R.Base, base),
                        (R.AlternateBase, QColor("#33363b")), (R.Text, text),
                        (R.Button, QColor("#3a3d43")), (R.ButtonText, text),
                        (R.Light, QColor("#5a5e66")), (R.Midlight, QColor("#4a4d54")),
                        (R.Mid, QColor("#24262a")), (R.Dark, QColor("#1b1c1f")),
                        (R.Shadow, QColor("#101113")),
                        (R.ToolTipBase, window), (R.ToolTipText, text),
                        (R.Highlight, QColor("#3d6fb4")), (R.HighlightedText, QColor("#ffffff")),
                        (R.PlaceholderText, QColor("#8a8a8a"))):
        p.setColor(role, color)
    off = QPalette.ColorGroup.Disabled
    grey = QColor("#74777d")
    for role in (R.WindowText, R.Text, R.ButtonText, R.HighlightedText, R.PlaceholderText):
        p.setColor(off, role, grey)
    for role, color in ((R.Base, window), (R.Button, window), (R.Highlight, QColor("#4a4d54"))):
        p.setColor(off, role, color)
    return p


def apply_palette(dark: bool) -> None:
    """The widgets' palette: Fusion, in dark colours or its standard ones."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        if not _light:
            app.setStyle("Fusion")  # the platform styles ignore much of the palette
            _light.append(app.style().standardPalette())
        app.setPalette(_dark_palette() if dark else _light[0])


def theme_plots(theme: Theme, canvas: Any, subgraph: Any, *plots: Any) -> None:
    """The canvas, the subgraph view and the panels' plots in ``theme``."""
    canvas.set_theme(theme)
    subgraph.set_colors(theme.background, theme.foreground)
    for plot in plots:
        plot.setBackground(theme.background)
