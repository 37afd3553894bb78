"""Edge density: all edges, the strongest N % (by share of the target's input), or only the
edges of the selected, clicked and pinned nodes. The choice is remembered per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from ..folders import path_digest

CHOICES: tuple[tuple[str, str], ...] = (
    ("all", "Edges: all"),
    ("top50", "Edges: strongest 50%"),
    ("top20", "Edges: strongest 20%"),
    ("top5", "Edges: strongest 5%"),
    ("selected", "Edges: selected only"),
)


def density_mask(mode: str, drawn: np.ndarray, share: np.ndarray, source: np.ndarray,
                 target: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The subset of edge indices ``drawn`` that ``mode`` keeps.

    Args:
        mode: One of the keys of :data:`CHOICES`.
        drawn: Indices of the visible edges.
        share: Each edge's share of its target's input.
        source, target: Edge endpoints.
        chosen: Node mask of the selected, clicked and pinned nodes.
    """
    if mode.startswith("top") and drawn.size:
        keep = max(1, round(drawn.size * int(mode[3:]) / 100))
        order = np.argpartition(-np.abs(share[drawn]), keep - 1)[:keep]
        return np.sort(drawn[order])
    if mode == "selected":
        return drawn[chosen[source[drawn]] | chosen[target[drawn]]]
    return drawn


def settings_key(path: Path | None) -> str | None:
    if path is None:
        return None
    return f"edge_density/{path_digest(path)}"


class DensityBox(QComboBox):
    """The small chooser in the canvas's top-right corner.

    Signals:
        density_chosen(str): the user picked a mode.
    """

    density_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for key, text in CHOICES:
            self.addItem(text, key)
        self.setToolTip("Which edges to draw (remembered for this file)")
        self.activated.connect(lambda i: self.density_chosen.emit(self.itemData(i)))

    def show_mode(self, mode: str) -> None:
        i = self.findData(mode)
        self.blockSignals(True)
        self.setCurrentIndex(max(i, 0))
        self.blockSignals(False)


def remembered(settings: Any, path: Path | None) -> str:
    key = settings_key(path)
    if settings is None or key is None:
        return "all"
    value = settings.value(key, "all")
    return value if value in dict(CHOICES) else "all"


def remember(settings: Any, path: Path | None, mode: str) -> None:
    key = settings_key(path)
    if settings is not None and key is not None:
        settings.setValue(key, mode)
