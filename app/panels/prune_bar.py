"""Toolbar controls for live pruning: on/off, node and edge thresholds (slider + typed value)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget

from ...graph import document as cmd
from ...graph.document import Document, ViewState

STEPS = 1000


class ThresholdControl(QWidget):
    """A slider and a spin box bound to one threshold in [0, 1]."""

    value_changed = Signal(float)
    gesture_ended = Signal()
    """A slider drag was released or a typed value committed: the next change is a new undo step."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setMinimumWidth(140)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.01)
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel(title))
        layout.addWidget(self.slider)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(lambda v: self._emit(v / STEPS))
        self.spin.valueChanged.connect(self._emit)
        self.slider.sliderReleased.connect(self.gesture_ended)
        self.spin.editingFinished.connect(self.gesture_ended)
        self._echo = False

    def set_value(self, value: float) -> None:
        self._echo = True  # programmatic update: do not write back to the document
        self.slider.setValue(round(value * STEPS))
        self.spin.setValue(value)
        self._echo = False

    def value(self) -> float:
        return float(self.spin.value())

    def _emit(self, value: float) -> None:
        if not self._echo:
            self.set_value(value)
            self.value_changed.emit(float(value))


class PruneBar(QWidget):
    """Bound both ways to the document's ``pruning`` / thresholds; no state of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.enabled = QCheckBox("Prune")
        self.node = ThresholdControl("node")
        self.edge = ThresholdControl("edge")
        self.scores = QLabel("")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.enabled, self.node, self.edge, self.scores):
            layout.addWidget(w)
        self.enabled.toggled.connect(self._on_enabled)
        self.node.value_changed.connect(lambda _v: self._on_threshold("node threshold"))
        self.edge.value_changed.connect(lambda _v: self._on_threshold("edge threshold"))
        for control in (self.node, self.edge):
            control.gesture_ended.connect(lambda: self.doc is not None and self.doc.end_merge())
        self._show(ViewState())  # the defaults, greyed out, until a graph is open
        self.setEnabled(False)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        self.setEnabled(True)
        doc.state_changed.connect(self._on_state)
        doc.graph_replaced.connect(self.sync)
        self.sync()

    def _on_state(self, changed: frozenset[str]) -> None:
        if changed & {"pruning", "node_threshold", "edge_threshold"}:
            self.sync()

    def sync(self) -> None:
        if self.doc is not None:
            self._show(self.doc.state)

    def _show(self, state: ViewState) -> None:
        self.enabled.blockSignals(True)
        self.enabled.setChecked(state.pruning)
        self.enabled.blockSignals(False)
        self.node.set_value(state.node_threshold)
        self.edge.set_value(state.edge_threshold)
        self.node.setEnabled(state.pruning)
        self.edge.setEnabled(state.pruning)

    def _on_enabled(self, on: bool) -> None:
        if self.doc is not None:
            cmd.set_pruning(self.doc, on)

    def _on_threshold(self, gesture: str) -> None:
        if self.doc is not None:
            cmd.set_thresholds(self.doc, self.node.value(), self.edge.value(), gesture=gesture)
