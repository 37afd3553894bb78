"""The circuit test: is the circuit necessary and sufficient for the target logit, alone or
swept over node thresholds as a faithfulness curve (models/faithfulness.py).

Gets its host (document, runner, model binding) passed in and never imports the window.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...graph.figure.verify_svg import curve_svg
from ...models.protocol import ERRORS_MODES
from .result_files import export_buttons, save_path, write_csv, write_json
from .verify import FREEZES, MISMATCH_COLOR

SCOPES = ("Kept nodes (current thresholds)", "Pinned nodes and supernodes")
SUFFICIENCY, NECESSITY = "#1565c0", "#c62828"
CSV_FIELDS = ("label", "threshold", "errors", "size", "necessity_removed", "sufficiency_recovered",
              "predicted_direct", "predicted_total", "necessity_logit", "necessity_prob",
              "necessity_rank", "sufficiency_logit", "sufficiency_prob", "sufficiency_rank")


class FaithfulnessHost(Protocol):
    """What the panel needs from the window around it."""

    doc: Any
    prune_result: Any
    runner: Any
    @property
    def canvas(self) -> Any: ...  # built on first use (read-only)
    bound_model_dir: str | None

    def with_backend(self, then: Callable[[Any, list[int]], object],
                     failed: Callable[[str], None] | None = None) -> None: ...


class FaithfulnessPanel(QWidget):
    def __init__(self, host: FaithfulnessHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.report: Any = None
        self.points: list[Any] = []
        self.mean_file: str | None = None
        self._build()

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        self.scope = QComboBox()
        self.scope.addItems(SCOPES)
        self.freeze = QComboBox()
        self.freeze.addItems([text for text, _ in FREEZES])
        self.ablation = QComboBox()
        self.ablation.addItems(["Zero ablation", "Mean over a text file…"])
        self.ablation.activated.connect(self._on_ablation)
        self.hold_errors = QCheckBox("Hold error nodes at clean values")
        self.hold_errors.setChecked(True)
        self.hold_errors.setToolTip(
            "On: every MLP output is the transcoder reconstruction of the current features plus "
            "the clean run's error, so only features move (as in the graph). Off: the model's "
            "own MLPs run and the errors follow the inputs. With all layers frozen both agree.")
        self.test_button = QPushButton("Test circuit")
        self.test_button.clicked.connect(self.test_circuit)
        self.thresholds = QLineEdit("0.5,0.6,0.7,0.8,0.9")
        self.thresholds.setToolTip("node thresholds to sweep (the edge threshold stays as set)")
        self.sweep_button = QPushButton("Sweep curve")
        self.sweep_button.clicked.connect(self.sweep)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "circuit size (features)")
        self.plot.setLabel("left", "share of the clean effect")
        for axis in ("bottom", "left"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        # bottom right: both curves rise with circuit size, so that corner is usually empty
        self.plot.addLegend(offset=(-10, -10))
        self.curves = {
            "sufficiency": self.plot.plot([], [], pen=pg.mkPen(SUFFICIENCY, width=2), symbol="o",
                                          symbolBrush=SUFFICIENCY, name="sufficiency recovered"),
            "necessity": self.plot.plot([], [], pen=pg.mkPen(NECESSITY, width=2), symbol="s",
                                        symbolBrush=NECESSITY, name="necessity removed"),
        }
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1))
        self.summary = QLabel("Test the kept circuit, or sweep the node threshold for the curve.")
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        for w in (QLabel("Circuit"), self.scope, QLabel("Freeze"), self.freeze, self.hold_errors,
                  self.ablation, self.test_button, QLabel("thresholds"), self.thresholds, self.sweep_button,
                  self.cancel_button):
            controls.addWidget(w)
        exports = export_buttons(self)
        exports.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.summary)
        side = QVBoxLayout()
        side.addWidget(scroll, 1)
        side.addLayout(exports)
        body = QHBoxLayout()
        body.addWidget(self.plot, 3)
        body.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(body, 1)

    def _on_ablation(self, index: int) -> None:
        if index == 1:
            path, _ = QFileDialog.getOpenFileName(self, "Text for mean activations", "",
                                                  "Text (*.txt *.md);;All files (*)")
            if path:
                self.set_mean_file(path)
            elif self.mean_file is None:
                self.ablation.setCurrentIndex(0)

    def set_mean_file(self, path: str | None) -> None:
        """Ablate to each feature's mean over ``path`` (None: to zero)."""
        self.mean_file = path
        self.ablation.setItemText(1, f"Mean over {Path(path).name}" if path else
                                  "Mean over a text file…")
        self.ablation.setCurrentIndex(1 if path else 0)

    # ------------------------------------------------------------------ running

    def _circuits(self, sweep: bool) -> list[Any]:
        from ...graph.analysis.supernodes import subgraph_units
        from ...graph.model import NodeKind
        from ...models.faithfulness import Circuit

        doc = self.host.doc
        graph = doc.graph
        if sweep:
            return []  # built on the worker (pruning at each threshold)
        if self.scope.currentIndex() == 0:
            rows = np.flatnonzero(self.host.canvas.node_visible & (graph.nodes.kind == NodeKind.FEATURE))
            return [Circuit("kept nodes", tuple(int(r) for r in rows), None)]
        rows = sorted({r for u in subgraph_units(graph, doc.state) for r in u.rows
                       if graph.nodes.kind[r] == NodeKind.FEATURE})
        return [Circuit("pinned and supernodes", tuple(rows), None)]

    def test_circuit(self) -> None:
        self._start(sweep=False)

    def sweep(self) -> None:
        self._start(sweep=True)

    def _start(self, sweep: bool) -> None:
        from ...graph.errors import CircuitDeskError
        from ..commands.faithfulness import mean_cache_dirs, parse_thresholds

        host = self.host
        if host.doc is None:
            return
        try:
            thresholds = parse_thresholds(self.thresholds.text()) if sweep else []
        except CircuitDeskError as exc:
            self.summary.setText(str(exc))
            return
        circuits = self._circuits(sweep)
        if not sweep and not circuits[0].rows:
            self.summary.setText("Nothing to test: the circuit has no feature nodes.")
            return
        graph, freeze = host.doc.graph, FREEZES[self.freeze.currentIndex()][1]
        errors = self.errors_mode()
        edge_threshold = host.doc.state.edge_threshold
        edge_mask = None if host.prune_result is None else host.prune_result.edge_mask
        mean_file = self.mean_file if self.ablation.currentIndex() == 1 else None
        self.points, self.report = [], None
        self._redraw()
        self.summary.setText("Testing the circuit…" if not sweep else
                             f"Sweeping {len(thresholds)} threshold(s)…")
        self._busy(True)

        def work(backend: Any, ids: list[int], *, progress: Any, cancel: Any, partial: Any) -> Any:
            from ...models.faithfulness import cached_means, run_faithfulness, threshold_circuits

            chosen = threshold_circuits(graph, thresholds, edge_threshold, cancel=cancel) \
                if sweep else circuits
            dirs = mean_cache_dirs(host.bound_model_dir, None)
            means = None if mean_file is None else cached_means(backend, mean_file, dirs,
                                                                cancel=cancel)
            return run_faithfulness(backend, graph, chosen, ids, freeze=freeze, errors=errors,
                                    means=means,
                                    edge_mask=None if sweep else edge_mask, on_point=partial,
                                    progress=progress, cancel=cancel)

        host.with_backend(lambda backend, ids: host.runner.submit(
            "faithfulness", lambda **kw: work(backend, ids, **kw), queue="model",
            on_partial=self._add_point, on_done=self._done,
            on_error=lambda e: self.not_run(f"Failed: {e}")), self.not_run)

    def cancel(self) -> None:
        if self.host.runner.is_running("faithfulness"):
            self.summary.setText("cancelling…")
            self.host.runner.cancel("faithfulness")

    def on_cancelled(self) -> None:
        self.summary.setText(f"Cancelled after {len(self.points)} circuit(s).")
        self._busy(False)

    def not_run(self, reason: str) -> None:
        self.summary.setText(reason)
        self._busy(False)

    def reset(self, saved: dict[str, Any] | None) -> None:
        """Another graph is open: forget this one's results (show the session's, if any)."""
        if self.host.runner.is_running("faithfulness"):
            self.host.runner.cancel("faithfulness")
        self._busy(False)
        self.restore(saved)

    def _busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.sweep_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _add_point(self, point: Any) -> None:
        self.points.append(point)
        self._redraw()

    def _done(self, report: Any) -> None:
        self.report = report
        self.points = list(report.points)
        self._busy(False)
        self._redraw()

    # ------------------------------------------------------------------ showing

    def _redraw(self) -> None:
        pts = sorted(self.points, key=lambda p: p.size)
        x = np.array([p.size for p in pts], dtype=float)
        for name, curve in self.curves.items():
            y = np.array([getattr(p, f"{name}_{'recovered' if name == 'sufficiency' else 'removed'}")
                          for p in pts], dtype=float)
            ok = np.isfinite(y)
            curve.setData(x[ok], y[ok])
        if pts:
            self.plot.enableAutoRange()
        else:
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1))
        self.summary.setText(self._summary_html())

    def _summary_html(self) -> str:
        from ...models.faithfulness import DEFINITIONS

        r = self.report
        if r is None and not self.points:
            return "Test the kept circuit, or sweep the node threshold for the curve."
        lines = []
        check = getattr(r, "activation_check", None)
        if check is not None:  # a mismatch in red: the numbers below may be about another model
            text = html.escape(check.text())
            lines.append(text if check.ok else
                         f"<span style='color: {MISMATCH_COLOR}'><b>{text}</b></span>")
        if r is not None:
            lines.append(f"target <b>{r.target_token}</b> · freeze {r.freeze} · errors {r.errors}"
                         f" · {r.ablation} "
                         f"ablation · {r.active_features} active features<br>clean logit "
                         f"{r.clean.logit:+.3f} (p={r.clean.prob:.3f}, rank {r.clean.rank}) · all "
                         f"ablated {r.all_ablated.logit:+.3f} (p={r.all_ablated.prob:.3f}, rank "
                         f"{r.all_ablated.rank})")
        for p in self.points:
            lines.append(f"<b>{p.label}</b> ({p.size} features): necessity removed "
                         f"{p.necessity_removed:.3f} (logit {p.necessity.logit:+.3f}, p="
                         f"{p.necessity.prob:.3f}, rank {p.necessity.rank}) · sufficiency "
                         f"recovered {p.sufficiency_recovered:.3f} (logit "
                         f"{p.sufficiency.logit:+.3f}, p={p.sufficiency.prob:.3f}, rank "
                         f"{p.sufficiency.rank}) · predicted {p.predicted_direct:+.3f} direct, "
                         f"{p.predicted_total:+.3f} total")
        lines.append("<small>" + "<br>".join(f"{k}: {v}" for k, v in DEFINITIONS.items())
                     + "</small>")
        return "<br>".join(lines)

    # ------------------------------------------------------------------ saving

    def errors_mode(self) -> str:
        """``clean`` when error nodes are held at their clean values, else ``respond``."""
        return "clean" if self.hold_errors.isChecked() else "respond"

    def results_json(self) -> dict[str, Any]:
        """The report (when there is one) and the panel's settings, for the session."""
        out = {} if self.report is None else self.report.to_json()
        return {**out, "settings": {"errors": self.errors_mode()}}

    def restore(self, saved: dict[str, Any] | None) -> None:
        """Show a curve and settings saved with a session (no model needed); ignore what is
        malformed."""
        from ...models.faithfulness import FaithfulnessReport

        self.report, self.points = None, []
        if isinstance(saved, dict) and "target_token" in saved:
            try:
                self.report = FaithfulnessReport.from_json(saved)
                self.points = list(self.report.points)
            except (TypeError, KeyError, ValueError):
                self.report = None
        # The saved checkbox, else the saved report's mode; neither: keep the user's choice.
        settings = saved.get("settings") if isinstance(saved, dict) else None
        errors = settings.get("errors") if isinstance(settings, dict) else None
        if errors not in ERRORS_MODES and self.report is not None:
            errors = self.report.errors
        if errors in ERRORS_MODES:
            self.hold_errors.setChecked(errors == "clean")
        self._redraw()

    def _rows(self) -> list[dict[str, Any]]:
        errors = getattr(self.report, "errors", self.errors_mode())
        return [{"label": p.label, "threshold": p.threshold, "errors": errors, "size": p.size,
                 "necessity_removed": p.necessity_removed,
                 "sufficiency_recovered": p.sufficiency_recovered,
                 "predicted_direct": p.predicted_direct, "predicted_total": p.predicted_total,
                 **{f"{k}_{f}": getattr(getattr(p, k), f) for k in ("necessity", "sufficiency")
                    for f in ("logit", "prob", "rank")}} for p in self.points]

    def export_csv(self, path: str | None = None) -> None:
        path = save_path(self, "Export curve", "CSV (*.csv)", path)
        if path:
            write_csv(path, self._rows(), CSV_FIELDS)

    def export_json(self, path: str | None = None) -> None:
        path = save_path(self, "Export curve", "JSON (*.json)", path)
        if path:
            write_json(path, self.results_json())

    def export_svg(self, path: str | None = None) -> None:
        path = save_path(self, "Export curve", "SVG (*.svg)", path)
        if path:
            pts = sorted(self.points, key=lambda p: p.size)
            sizes = [float(p.size) for p in pts]
            svg = curve_svg([("sufficiency recovered", sizes,
                              [p.sufficiency_recovered for p in pts], SUFFICIENCY),
                             ("necessity removed", sizes, [p.necessity_removed for p in pts],
                              NECESSITY)], "circuit size (features)", "share of the clean effect",
                            title=f"target {getattr(self.report, 'target_token', '')}")
            Path(path).write_text(svg, encoding="utf-8")
