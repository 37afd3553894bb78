"""The window's panels: node connections and details, the subgraph view, the prune bar,
verification and the export dialog. Each gets what it needs passed in (the document, the
runner, callbacks) and answers through signals; none imports the window.

Import the modules themselves: this package imports nothing, so the window's light panels
load without the plotting ones (pyqtgraph comes after the first frame; app/first_sight.py).
"""
