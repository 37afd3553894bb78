"""Light and dark themes for the whole window (Qt palette + the plots' backgrounds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .canvas import DARK, LIGHT

if TYPE_CHECKING:
    from .window import MainWindow


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


def apply_theme(window: MainWindow, dark: bool) -> None:
    """Switch the canvas, the subgraph view, the verify plot and the widgets' palette."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        if not hasattr(window, "_light_palette"):
            app.setStyle("Fusion")  # the platform styles ignore much of the palette
            window._light_palette = app.style().standardPalette()  # type: ignore[attr-defined]
        app.setPalette(_dark_palette() if dark else window._light_palette)  # type: ignore[attr-defined]
    theme = DARK if dark else LIGHT
    window.canvas.set_theme(theme)
    window.subgraph.set_colors(theme.background, theme.foreground)
    window.verify_panel.plot.setBackground(theme.background)
    window.settings.setValue("theme", "dark" if dark else "light")
