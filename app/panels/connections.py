"""Side panels: the clicked node's connections, and its details (label editable, and the
feature's dashboard when one was built)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QFormLayout, QLabel, QLineEdit, QScrollArea, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
    QWidget,
)

from ...graph import document as cmd
from ...graph.document import Document, display_label, is_automatic_label
from ...graph.model import NodeKind
from ..canvas.palette import share_color

ROW_ROLE = Qt.ItemDataRole.UserRole


BARS = " ▁▂▃▄▅▆▇█"
"""Histogram bars by eighths (index 0 is never drawn: empty bins are blank)."""


def dashboard_html(board: Any) -> str:
    """A feature's dashboard as rich text: density, histogram, top contexts highlighted."""
    hist = [int(h) for h in board.histogram]
    top = max(hist) if hist and max(hist) > 0 else 1
    # empty bins as no-break spaces, so the bars keep their places in rich text
    bars = "".join(BARS[max(1, min(8, round(8 * h / top)))] if h else "\u00a0" for h in hist)
    lines = [f"<b>dashboard</b>: fires on {board.density:.2%} of tokens",
             f"<span style='font-family: monospace'>{html.escape(bars)}</span> "
             f"<small>activations {board.edges[0]:g} … {board.edges[-1]:g} (log)</small>"]
    peak_all = max((c.value for c in board.contexts), default=1.0) or 1.0
    for c in board.contexts[:10]:
        parts = []
        for k, (tok, a) in enumerate(zip(c.tokens, c.activations)):
            alpha = max(0.0, min(1.0, float(a) / peak_all))
            text = html.escape(tok.replace("\n", "⏎"))
            # orange over white by the activation (Qt's rich text has no rgba backgrounds)
            rgb = [round(255 + (channel - 255) * alpha) for channel in (255, 140, 0)]
            style = "background-color: #{:02x}{:02x}{:02x}".format(*rgb)
            parts.append(f"<span style='{style}'>{'<b>' + text + '</b>' if k == c.peak else text}</span>")
        lines.append(f"<small>{c.value:.3g}</small> " + "".join(parts))
    return "<br>".join(lines)


def _node_text(doc: Document, row: int) -> str:
    """A node by name: the user's label, its clerp or an automatic label, else a readable
    fallback (L5/123)."""
    # imported here: the figure's label module (and its text metrics) is 7 ms of the
    # window's first frame, and no row is listed before a graph is open
    from ...graph.figure.labels import node_label

    return display_label(doc, row).strip() or node_label(doc.graph, doc.state, row)


MAX_ROWS = 200
"""Links listed per section, strongest first: a hub of a raw engine graph has thousands, and
a row each would cost the GUI thread seconds for links no one reads."""


class ConnectionsPanel(QWidget):
    """Inputs and outputs of the clicked node, strongest first; clicking a row walks there."""

    def __init__(self, visible_edges: Callable[[], np.ndarray], share: Callable[[], np.ndarray],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._visible_edges = visible_edges
        self._share = share
        self.doc: Document | None = None
        self.title = QLabel("Click a node to see its connections")
        self.title.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["node", "layer", "pos", "weight", "share"])
        self.tree.setRootIsDecorated(True)
        self.tree.itemActivated.connect(self._go)
        self.tree.itemClicked.connect(self._go)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tree)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        doc.state_changed.connect(self._on_changed)
        doc.graph_replaced.connect(self.refresh)
        self.refresh()

    def _on_changed(self, changed: frozenset[str]) -> None:
        if changed & {"clicked", "hidden", "labels"}:
            self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        doc = self.doc
        if doc is None or doc.state.clicked is None or not doc.graph.has_node(doc.state.clicked):
            self.title.setText("Click a node to see its connections")
            return
        g = doc.graph
        c = g.index_of(doc.state.clicked)
        self.title.setText(f"<b>{_node_text(doc, c)}</b>")
        visible = self._visible_edges()
        share = self._share()
        for name, inputs, other in (("Inputs", True, g.source), ("Outputs", False, g.target)):
            edges = g.edges_of(c, inputs=inputs, outputs=not inputs)
            edges = edges[visible[edges]] if len(visible) == g.n_edges else edges[:0]
            for sign_name, positive in (("positive", True), ("negative", False)):
                w = g.weight[edges]
                sel = edges[(w >= 0) if positive else (w < 0)]
                sel = sel[np.argsort(-np.abs(g.weight[sel]), kind="stable")]
                head = QTreeWidgetItem([f"{name} ({sign_name}): {len(sel)}"])
                self.tree.addTopLevelItem(head)
                for e in sel[:MAX_ROWS].tolist():
                    row = int(other[e])
                    layer = "E" if g.nodes.kind[row] == NodeKind.EMBEDDING else str(int(g.nodes.layer[row]))
                    item = QTreeWidgetItem([_node_text(doc, row), layer, str(int(g.nodes.position[row])),
                                            f"{float(g.weight[e]):+.4g}", f"{float(share[e]):+.1%}"])
                    item.setData(0, ROW_ROLE, row)
                    item.setForeground(3, QBrush(share_color(1.0 if g.weight[e] >= 0 else -1.0)))
                    head.addChild(item)
                if len(sel) > MAX_ROWS:
                    head.addChild(QTreeWidgetItem([f"… {len(sel) - MAX_ROWS} weaker links not listed"]))
                head.setExpanded(True)
        for col in range(1, 5):
            self.tree.resizeColumnToContents(col)

    def _go(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        row = item.data(0, ROW_ROLE)
        if row is not None and self.doc is not None:
            cmd.click(self.doc, self.doc.graph.nodes.ids[int(row)])


class DetailPanel(QWidget):
    """Kind, layer, position, feature, activation, influence and the editable label."""

    FIELDS = ("id", "kind", "layer", "position", "token", "feature", "activation", "influence",
              "probability")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self._row: int | None = None
        form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for name in self.FIELDS:
            label = QLabel("–")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[name] = label
            form.addRow(name, label)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("label (clerp)")
        self.label_edit.editingFinished.connect(self._commit_label)
        form.addRow("label", self.label_edit)
        self.label_note = QLabel("")
        form.addRow("", self.label_note)
        self.dashboard_of: Callable[[int], Any] | None = None
        """Set by the window: the open graph's dashboard of a feature row, or None."""
        self.dashboard_view = QLabel("")
        self.dashboard_view.setWordWrap(True)
        self.dashboard_view.setTextFormat(Qt.TextFormat.RichText)
        self.dashboard_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.dashboard_view)
        form.addRow(scroll)

    def set_document(self, doc: Document) -> None:
        self.doc = doc
        doc.state_changed.connect(lambda changed: self.refresh() if changed & {"clicked", "labels", "selected"} else None)
        doc.graph_replaced.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        doc = self.doc
        nid = None
        if doc is not None:
            nid = doc.state.clicked or (next(iter(sorted(doc.state.selected)), None))
        if doc is None or nid is None or not doc.graph.has_node(nid):
            self._row = None
            for label in self.values.values():
                label.setText("–")
            self.label_edit.setText("")
            self.label_edit.setEnabled(False)
            self.label_note.setText("")
            self.dashboard_view.setText("")
            return
        g, row = doc.graph, doc.graph.index_of(nid)
        self._row = row
        n = g.nodes
        tokens = g.metadata.prompt_tokens
        pos = int(n.position[row])

        def num(v: float) -> str:
            return f"{float(v):.6g}" if np.isfinite(v) else "–"

        values = {
            "id": n.file_ids[row], "kind": NodeKind(int(n.kind[row])).label,
            "layer": "E" if n.kind[row] == NodeKind.EMBEDDING else str(int(n.layer[row])),
            "position": str(pos), "token": repr(tokens[pos]) if pos < len(tokens) else "–",
            "feature": str(int(n.feature[row])) if n.feature[row] >= 0 else "–",
            "activation": num(n.activation[row]), "influence": num(n.influence[row]),
            "probability": num(n.token_prob[row]),
        }
        for name, text in values.items():
            self.values[name].setText(text)
        self.label_edit.setEnabled(True)
        if not self.label_edit.hasFocus():
            self.label_edit.setText(display_label(doc, row))
        self.label_note.setText("<i>automatic label (edit to replace it)</i>"
                                if is_automatic_label(doc, row) else "")
        board = self.dashboard_of(row) if (self.dashboard_of is not None
                                           and n.kind[row] == NodeKind.FEATURE) else None
        self.dashboard_view.setText(dashboard_html(board) if board is not None else "")

    def _commit_label(self) -> None:
        if self.doc is None or self._row is None:
            return
        text = self.label_edit.text()
        if text != display_label(self.doc, self._row):
            cmd.set_label(self.doc, self.doc.graph.nodes.ids[self._row], text)
