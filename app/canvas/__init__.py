"""The graph canvas: batched node and edge items, labels, gestures, the view box and the
colour palette. Never imports the panels or the window.
"""

from .graph_canvas import DARK, LIGHT, GraphCanvas

__all__ = ["DARK", "LIGHT", "GraphCanvas"]
