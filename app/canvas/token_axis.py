"""The token axis: readable on long prompts (ticks from token_ticks.py); the full token (and
its position) is the axis tooltip under the mouse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

from ...graph.text import token_text
from .token_ticks import tick_texts


class TokenAxis(pg.AxisItem):  # type: ignore[misc]
    """Bottom axis whose tooltip names the full token under the mouse."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("bottom", **kwargs)
        self.tokens: list[str] = []
        self.column_x = np.zeros(0)
        self.full: list[str] = []
        self.setAcceptHoverEvents(True)

    def set_columns(self, graph: Any, column_x: np.ndarray) -> None:
        self.tokens = [token_text(graph, p) for p in range(len(column_x))]
        raw = graph.metadata.prompt_tokens
        self.full = [repr(raw[p])[1:-1] if p < len(raw) else str(p) for p in range(len(column_x))]
        self.column_x = np.asarray(column_x, dtype=float)

    def refresh(self, view_range: tuple[float, float], width_px: float,
                column_width: np.ndarray) -> None:
        scale = width_px / max(view_range[1] - view_range[0], 1e-9)
        self.setTicks([tick_texts(self.tokens, self.column_x, column_width, scale)])

    def hoverMoveEvent(self, ev: Any) -> None:
        if not len(self.column_x) or self.linkedView() is None:
            return
        x = self.linkedView().mapSceneToView(ev.scenePos()).x()
        p = int(np.argmin(np.abs(self.column_x - x)))
        self.setToolTip(f"{p}: {self.full[p]!r}" if p < len(self.full) else "")
