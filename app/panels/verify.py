"""The verify panel: rerun the circuit's interventions on the local model, predicted vs observed.

Model work runs on the task runner's one-thread "model" queue; rows arrive per batch.
The panel keeps only results (what the model said) and reads everything else from the
document and the window's current prune result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...graph.analysis.supernodes import subgraph_units
from ...graph.analysis.verify import summarise
from ...graph.figure.verify_svg import VERDICT_COLORS, scatter_svg
from .device_choice import DeviceChooser
from .result_files import export_buttons, save_path, write_csv, write_json


class VerifyHost(Protocol):
    """What the panel needs from the window around it (it never imports the window)."""

    doc: Any
    prune_result: Any
    runner: Any
    @property
    def canvas(self) -> Any: ...  # built on first use (read-only)

    def with_backend(self, then: Callable[[Any, list[int]], object]) -> None: ...

    def choose_model(self) -> None: ...

SCOPES = ("Kept features", "Selection", "Pinned", "Supernodes")
FREEZES = (("Attention frozen", "attention"), ("Nothing frozen", "none"),
           ("All layers (direct effects)", "all"))
COLUMNS = ("node", "predicted", "observed", "verdict", "direct", "total")
MISMATCH_COLOR = VERDICT_COLORS["contradicted"]


class _Num(QTableWidgetItem):
    """Sorts by value, not text."""

    def __init__(self, value: float) -> None:
        super().__init__("–" if not np.isfinite(value) else f"{value:+.5f}")
        self.value = value if np.isfinite(value) else -np.inf

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", -np.inf)


class VerifyPanel(QWidget):
    """Signals: ``finished()`` when a run ends (done, failed or cancelled)."""

    finished = Signal()

    def __init__(self, window: VerifyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.rows: list[Any] = []
        self.report: Any = None
        self.check: Any = None
        """The activation check of the last run (models/activation_check.py), or None."""
        self._build()

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        self.model_label = QLabel("Model: not loaded")
        self.model_label.setWordWrap(True)
        self.choose_button = QPushButton("Choose model…")
        self.choose_button.clicked.connect(self.window_.choose_model)
        self.device_chooser = DeviceChooser()
        self.scope = QComboBox()
        self.scope.addItems(SCOPES)
        self.mode = QComboBox()
        self.mode.addItems(["Ablate", "Scale ×k"])
        self.factor = QDoubleSpinBox()
        self.factor.setRange(-100, 100)
        self.factor.setValue(2.0)
        self.factor.setPrefix("k = ")
        self.freeze = QComboBox()
        for text, _ in FREEZES:
            self.freeze.addItem(text)
        self.downstream = QCheckBox("pinned features downstream")
        self.downstream.setToolTip("Also compare the predicted and observed change of every "
                                   "pinned feature's pre-activation")
        self.run_button = QPushButton("Verify")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._show_tokens)
        self.table.itemSelectionChanged.connect(self._select_node)
        self.plot = pg.PlotWidget(background="w")
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # no "(x1e-06)" on an empty plot
        self.plot.setLabel("bottom", "predicted Δ target logit")
        self.plot.setLabel("left", "observed Δ")
        self.scatter = pg.ScatterPlotItem(size=7, pen=pg.mkPen(40, 40, 40))
        self.diagonal = pg.PlotCurveItem(pen=pg.mkPen(150, 150, 150, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.diagonal)
        self.plot.addItem(self.scatter)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.fit = QLabel("")  # whether the model reproduced the graph's activations
        self.fit.setWordWrap(True)
        self.fit.hide()
        self.tokens = QLabel("")
        self.tokens.setWordWrap(True)
        self.tokens.setTextFormat(Qt.TextFormat.RichText)
        self.steer_edit = QLineEdit()
        self.steer_edit.setPlaceholderText("steer: LAYER:POS:FEATURE=VALUE, …  (Enter)")
        self.steer_edit.returnPressed.connect(self.steer)
        exports = export_buttons(self)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(self.device_chooser)
        top.addWidget(self.choose_button)
        controls = QHBoxLayout()
        for w in (QLabel("Test"), self.scope, self.mode, self.factor, QLabel("Freeze"),
                  self.freeze, self.downstream, self.run_button, self.cancel_button):
            controls.addWidget(w)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([420, 300])
        self.table.setMinimumHeight(120)
        self.plot.setMinimumHeight(120)
        side = QVBoxLayout()
        side.addWidget(self.fit)
        side.addWidget(self.summary)
        side.addWidget(self.tokens, 1)
        side.addWidget(self.steer_edit)
        side.addLayout(exports)
        body = QHBoxLayout()
        body.addWidget(split, 3)
        body.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(controls)
        layout.addLayout(body, 1)

    # ------------------------------------------------------------------ running

    def claims(self) -> list[Any]:
        """What the chosen scope tests, as claims (supernodes ablate their members together)."""
        from ...models.verify import Claim, feature_claims

        w = self.window_
        doc = w.doc
        if doc is None:
            return []
        g, state = doc.graph, doc.state
        scope = SCOPES[self.scope.currentIndex()]
        if scope == "Supernodes":
            return [Claim(u.key, u.label, u.rows) for u in subgraph_units(g, state)
                    if u.key.startswith("group:")]
        if scope == "Kept features":
            rows = np.flatnonzero(w.canvas.node_visible)
        else:
            ids = state.selected if scope == "Selection" else state.pinned
            rows = np.array(sorted(g.index_of(i) for i in ids if g.has_node(i)), dtype=int)
        return feature_claims(g, rows)

    def run(self) -> None:
        w = self.window_
        if w.doc is None:
            return
        claims = [c for c in self.claims() if c.rows]
        if not claims:
            self.summary.setText("Nothing to test: choose a scope with feature nodes.")
            return
        self.rows = []
        self.table.setRowCount(0)
        self.show_check(None)
        self._redraw()
        mode = "ablate" if self.mode.currentIndex() == 0 else "scale"
        freeze = FREEZES[self.freeze.currentIndex()][1]
        edge_mask = None if w.prune_result is None else w.prune_result.edge_mask
        graph, factor = w.doc.graph, float(self.factor.value())
        targets = ([graph.index_of(i) for i in sorted(w.doc.state.pinned) if graph.has_node(i)]
                   if self.downstream.isChecked() else [])
        self.summary.setText(f"Verifying {len(claims)} claim(s)…")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)

        def work(backend: Any, ids: list[int], *, progress: Any, cancel: Any, partial: Any) -> Any:
            from ...models.verify import run_verification

            return run_verification(backend, graph, claims, ids, mode=mode, factor=factor,
                                    freeze=freeze, edge_mask=edge_mask, feature_targets=targets,
                                    on_rows=partial, on_check=partial, progress=progress,
                                    cancel=cancel)

        w.with_backend(lambda backend, ids: w.runner.submit(
            "verify", lambda **kw: work(backend, ids, **kw), queue="model",
            on_partial=self._on_partial, on_done=self._done,
            on_error=lambda e: self.not_run(f"Failed after {len(self.rows)} claim(s): {e}")))

    def cancel(self) -> None:
        if self.window_.runner.is_running("verify"):
            self.summary.setText("cancelling…")
            self.window_.runner.cancel("verify")

    def invalidate(self) -> None:
        """The graph or the pruning changed: results of a running sweep are stale."""
        if self.window_.runner.is_running("verify"):
            self.window_.runner.cancel("verify")

    def on_cancelled(self) -> None:
        self.summary.setText(f"Cancelled after {len(self.rows)} claim(s).")
        self._ended()

    def not_run(self, reason: str) -> None:
        """A run could not start or failed: back to idle, saying why."""
        self.summary.setText(reason)
        self._ended()

    def reset(self, saved: dict[str, Any] | None) -> None:
        """Another graph is open: nothing of the previous one stays (model, results, text)."""
        self.invalidate()
        self.model_label.setText("Model: not loaded")
        self.summary.setText("")
        self.show_check(None)
        self.tokens.setText("")
        self.steer_edit.clear()
        self._ended()
        self.restore(saved)

    def _select_node(self) -> None:
        """A result row selects its feature (or its supernode's members) on the canvas."""
        from ...graph import document as cmd

        doc = self.window_.doc
        items = self.table.selectedItems()
        if doc is None or not items:
            return
        index = self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        if index is None or not 0 <= int(index) < len(self.rows):
            return
        key = self.rows[int(index)].key
        if doc.graph.has_node(key):
            cmd.click(doc, key)
        elif key.startswith("group:"):
            members = next((s.members for s in doc.state.supernodes if f"group:{s.name}" == key), ())
            cmd.select(doc, members)

    def _ended(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.finished.emit()

    def _on_partial(self, value: Any) -> None:
        """A batch of rows, or the activation check that comes before them."""
        if isinstance(value, list):
            self._add_rows(value)
        else:
            self.show_check(value)

    def show_check(self, check: Any) -> None:
        """Say whether the model reproduced the graph's activations; a mismatch in red, as
        every verdict below it may be about another computation. None: say nothing."""
        self.check = check
        self.fit.setVisible(check is not None)
        if check is None:
            self.fit.setText("")
            return
        self.fit.setText(check.text())
        self.fit.setStyleSheet("" if check.ok else f"color: {MISMATCH_COLOR}; font-weight: bold")

    def _add_rows(self, rows: list[Any]) -> None:
        self.rows.extend(rows)
        self.table.setSortingEnabled(False)
        for r in rows:
            k = self.table.rowCount()
            self.table.insertRow(k)
            self.table.setItem(k, 0, QTableWidgetItem(r.label))
            self.table.item(k, 0).setData(Qt.ItemDataRole.UserRole, len(self.rows) - len(rows) + rows.index(r))
            for col, value in ((1, r.predicted), (2, r.observed), (4, r.predicted_direct),
                               (5, r.predicted_total)):
                self.table.setItem(k, col, _Num(value))
            item = QTableWidgetItem(r.verdict)
            item.setForeground(QBrush(QColor(VERDICT_COLORS.get(r.verdict, "#333333"))))
            self.table.setItem(k, 3, item)
        self.table.setSortingEnabled(True)
        self._redraw()

    def _done(self, report: Any) -> None:
        self.report = report
        self._redraw()
        self._ended()

    def _redraw(self) -> None:
        p = np.array([r.predicted for r in self.rows], dtype=float)
        o = np.array([r.observed for r in self.rows], dtype=float)
        ok = np.isfinite(p) & np.isfinite(o)
        brushes = [pg.mkBrush(VERDICT_COLORS.get(r.verdict, "#333333"))
                   for r, good in zip(self.rows, ok) if good]
        self.scatter.setData(x=p[ok], y=o[ok], brush=brushes)
        lim = float(max(np.abs(p[ok]).max(initial=0), np.abs(o[ok]).max(initial=0))) * 1.1
        lim = lim if lim > 0 else 1.0  # an empty plot shows a plain ±1 frame
        self.diagonal.setData([-lim, lim], [-lim, lim])
        if not self.rows:
            self.plot.setRange(xRange=(-lim, lim), yRange=(-lim, lim), padding=0)
            return
        s = summarise(p, o)
        counts = ", ".join(f"{n} {v}" for v, n in sorted(s.verdicts.items()))
        head = f"Target {self.report.target_token!r} · " if self.report is not None else ""
        self.summary.setText(f"{head}{s.n} claim(s) · correlation {s.correlation:.3f} · "
                             f"sign agreement {s.sign_agreement:.0%} · {counts}")

    def _show_tokens(self) -> None:
        items = self.table.selectedItems()
        if not items or self.report is None:
            return
        idx = self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        row = self.rows[int(idx)]

        def fmt(tokens: Any) -> str:
            return ", ".join(f"{t.token!r} {t.prob:.2f}" for t in tokens)

        lines = [f"<b>before</b>: {fmt(self.report.baseline_top[:5])}",
                 f"<b>after</b>: {fmt(row.top_after)}"]
        if row.downstream:
            lines.append("<b>downstream</b> (Δ pre-activation, predicted → observed): " + ", ".join(
                f"{d.key} {d.predicted:+.3f} → {d.observed:+.3f}" for d in row.downstream))
        self.tokens.setText("<br>".join(lines))

    def steer(self) -> None:
        """Free-form steering: set any features to any values and show the new top tokens."""
        from ...models.protocol import Intervention
        from ..commands.intervene import parse_set

        try:
            sets = [parse_set(part) for part in self.steer_edit.text().split(",") if part.strip()]
        except Exception as exc:  # noqa: BLE001 - shown to the user as is
            self.tokens.setText(str(exc))
            return
        freeze = FREEZES[self.freeze.currentIndex()][1]
        interventions = [Intervention(*s) for s in sets]

        def work(backend: Any, ids: list[int], *, progress: Any, cancel: Any) -> str:
            base = backend.intervene(ids, [], freeze=freeze, return_activations=False)
            res = backend.intervene(ids, interventions, freeze=freeze, return_activations=False)
            before = backend.top_tokens(base.logits[-1], 5)
            after = backend.top_tokens(res.logits[-1], 5)
            return (f"<b>before</b>: {', '.join(f'{t.token!r} {t.prob:.2f}' for t in before)}<br>"
                    f"<b>steered</b>: {', '.join(f'{t.token!r} {t.prob:.2f}' for t in after)}")

        self.window_.with_backend(lambda backend, ids: self.window_.runner.submit(
            "steer", lambda **kw: work(backend, ids, **kw), queue="model",
            on_done=self.tokens.setText))

    # ------------------------------------------------------------------ saving

    def results_json(self) -> dict[str, Any]:
        return {"target": getattr(self.report, "target_token", ""),
                "activation_check": None if self.check is None else self.check.as_json(),
                "rows": [{"key": r.key, "label": r.label, "predicted": r.predicted,
                          "predicted_direct": r.predicted_direct,
                          "predicted_total": r.predicted_total, "observed": r.observed,
                          "verdict": r.verdict,
                          "downstream": [[d.key, d.predicted, d.observed] for d in r.downstream]}
                         for r in self.rows]}

    def restore(self, saved: dict[str, Any] | None) -> None:
        """Show results saved with a session (no model needed)."""
        from ...models.activation_check import ActivationCheck
        from ...models.verify import Downstream, VerifyRow

        self.rows, self.report = [], None
        self.table.setRowCount(0)
        self.show_check(ActivationCheck.from_json(saved.get("activation_check"))
                        if isinstance(saved, dict) else None)
        if saved and isinstance(saved.get("rows"), list):
            rows = [VerifyRow(r["key"], r["label"], r["predicted"], r["predicted_direct"],
                              r["predicted_total"], r["observed"], r["verdict"],
                              downstream=tuple(Downstream(*d) for d in r.get("downstream", [])))
                    for r in saved["rows"] if isinstance(r, dict)]
            self._add_rows(rows)
        self._redraw()

    def export_csv(self, path: str | None = None) -> None:
        path = save_path(self, "Export results", "CSV (*.csv)", path)
        if path:
            data = self.results_json()["rows"]
            write_csv(path, data, [k for k in (data[0] if data else {"key": 0}) if k != "downstream"])

    def export_json(self, path: str | None = None) -> None:
        path = save_path(self, "Export results", "JSON (*.json)", path)
        if path:
            write_json(path, self.results_json())

    def export_svg(self, path: str | None = None) -> None:
        path = save_path(self, "Export plot", "SVG (*.svg)", path)
        if path:
            svg = scatter_svg([r.predicted for r in self.rows], [r.observed for r in self.rows],
                              [r.verdict for r in self.rows],
                              title=f"target {getattr(self.report, 'target_token', '')}")
            Path(path).write_text(svg, encoding="utf-8")
