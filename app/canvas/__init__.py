"""The graph canvas: batched node and edge items, labels, gestures, the view box and the
colour palette. Never imports the panels or the window.

Import the modules themselves (``canvas.graph_canvas``, ``canvas.palette``): this package
imports nothing, so the palette and the layout helpers are usable before pyqtgraph is loaded
(the window's first frame is drawn without it; app/first_sight.py).
"""
