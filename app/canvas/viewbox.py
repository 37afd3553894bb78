"""A ViewBox whose left-drag moves nodes (in their row; Alt frees them), Shift+drag draws a
rubber band, and otherwise pans.

It only translates mouse gestures into calls on its owner (the canvas); the
owner decides what is under the cursor and what a gesture means for the document.
"""

from __future__ import annotations

from typing import Any, Protocol

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal


class DragOwner(Protocol):
    def node_at(self, scene_pos: QPointF, radius_px: float = ...) -> int | None: ...
    def drag_node(self, index: int, view_pos: QPointF, phase: str, free: bool = ...) -> None: ...
    def rubber_band(self, rect: QRectF, add: bool, final: bool) -> None: ...


class CanvasViewBox(pg.ViewBox):  # type: ignore[misc]
    """Emits ``interacting(bool)``: True while the user pans or zooms, False once the view rests."""

    interacting = Signal(bool)
    REST_MS = 180

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owner: DragOwner | None = None
        self._dragging: int | None = None
        self._banding = False
        self._active = False
        self._rest = QTimer(self)
        self._rest.setSingleShot(True)
        self._rest.setInterval(self.REST_MS)
        self._rest.timeout.connect(self._on_rest)
        self.setMenuEnabled(False)

    # -- interaction state (for the edge cache / level of detail)

    def _touch(self) -> None:
        if not self._active:
            self._active = True
            self.interacting.emit(True)
        self._rest.start()

    def _on_rest(self) -> None:
        if self._active and self._dragging is None:
            self._active = False
            self.interacting.emit(False)

    @property
    def is_interacting(self) -> bool:
        return self._active

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:
        self._touch()
        super().wheelEvent(ev, axis)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.owner is None:
            self._touch()
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            hit = None if shift else self.owner.node_at(ev.buttonDownScenePos())
            self._dragging = hit
            self._banding = shift
        if self._dragging is not None:
            phase = "start" if ev.isStart() else "finish" if ev.isFinish() else "move"
            free = bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier)  # Shift: rubber band
            self.owner.drag_node(self._dragging, self.mapSceneToView(ev.scenePos()), phase, free)
            if ev.isFinish():
                self._dragging = None
            return
        if self._banding:
            a = self.mapSceneToView(ev.buttonDownScenePos())
            b = self.mapSceneToView(ev.scenePos())
            rect = QRectF(a, b).normalized()
            add = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self.owner.rubber_band(rect, add, ev.isFinish())
            if ev.isFinish():
                self._banding = False
            return
        self._touch()
        super().mouseDragEvent(ev, axis)
