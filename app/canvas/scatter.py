"""A pyqtgraph scatter whose points all share the item's style, placed without a per-point loop.

pyqtgraph 0.14 looks every new point up in its symbol atlas through a Python list of
(symbol, size, pen, brush) tuples: 12 µs a point, 120 ms on the GUI thread each time the
10k nodes of a big graph are set. When no point carries its own style (our node glyphs, the
rings), every point has the item's style, so one lookup serves them all.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import _DEFAULT_STYLE

_STYLE = ("symbol", "size", "pen", "brush")


class UniformScatter(pg.ScatterPlotItem):
    """A ScatterPlotItem with the atlas lookup vectorised when its points share one style."""

    def updateSpots(self, dataSet: np.ndarray | None = None) -> None:
        data = self.data if dataSet is None else dataSet
        if not (self.opts["pxMode"] and self.opts["useCache"]) or self.opts["hoverable"]:
            super().updateSpots(dataSet)
            return
        new = data["sourceRect"]["w"] == 0
        if not new.any():
            super().updateSpots(dataSet)
            return
        if not all(np.equal(data[o][new], _DEFAULT_STYLE[o]).all() for o in _STYLE):
            super().updateSpots(dataSet)  # some points have their own style
            return
        style = tuple(self.opts[o] for o in _STYLE)
        data["sourceRect"][new] = self.fragmentAtlas[[style]][0]
        self._maybeRebuildAtlas()
        self._updateMaxSpotSizes(data=data)
        self.invalidate()
