"""The "Export figure…" dialog: what to draw, how big, which theme, which file.

A standalone QDialog over a :class:`~circuitdesk.graph.document.Document` and the
canvas's visible rectangle. :meth:`ExportDialog.options` gives the
:class:`~circuitdesk.graph.figure.build.ExportOptions`; accepting writes the file, through
the app's task runner when one is given (a 100k-edge PNG at 300 DPI takes seconds),
else right away.

With a runner the dialog closes (and, with ``WA_DeleteOnClose``, is deleted) while the
job still runs, so the job's callbacks must not touch the dialog: they call the plain
``on_exported`` / ``on_failed`` callables the caller gave, and emit the dialog's own
signals only while it still exists. The file dialog starts in the last folder written
to, else the user's Documents folder, never inside the installed package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...graph.document import Document
from ...graph.errors import CircuitDeskError
from ...graph.figure import ExportOptions, FigureOptions
from ..figure_png import export_document
from ..folders import default_folder, remember_folder
from ..tasks import TaskRunner

_SCOPES = (("graph", "Whole graph"), ("view", "Current view"),
           ("subgraph", "Subgraph (pinned nodes and supernodes)"))
_FORMATS = (("svg", "SVG (vector)"), ("png", "PNG (raster)"), ("pdf", "PDF (vector)"))


class ExportDialog(QDialog):
    """Choose and write a figure of the document.

    Args:
        doc: The open document (its graph and current view state are drawn).
        view_rect: The canvas's visible area ``(x0, y0, x1, y1)`` in layout units, or
            None when unknown (then "Current view" is disabled).
        node_mask: Nodes kept by pruning, as the canvas shows them (None = all).
        edge_mask: Edges kept by pruning (None = all).
        runner: The app's task runner; without one the file is written on accept.
        options: Initial options (e.g. the last ones used).
        settings: Where the last folder written to is remembered (None: this session only).
        on_exported: Called with the path written, even after the dialog is gone.
        on_failed: Called with a one-line error message, even after the dialog is gone.

    Signals:
        exported(str): the path written.
        export_failed(str): a one-line error message.
    """

    exported = Signal(str)
    export_failed = Signal(str)

    def __init__(self, doc: Document, view_rect: tuple[float, float, float, float] | None = None,
                 *, node_mask: np.ndarray | None = None, edge_mask: np.ndarray | None = None,
                 runner: TaskRunner | None = None, options: ExportOptions | None = None,
                 settings: QSettings | None = None,
                 on_exported: Callable[[str], None] | None = None,
                 on_failed: Callable[[str], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export figure")
        self._doc, self._view_rect, self._runner = doc, view_rect, runner
        self._settings, self._on_exported, self._on_failed = settings, on_exported, on_failed
        self._node_mask, self._edge_mask = node_mask, edge_mask
        self._build()
        self.set_options(options or ExportOptions(path=self._default_path()))

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        self.scope = QComboBox()
        for key, text in _SCOPES:
            self.scope.addItem(text, key)
        model = self.scope.model()
        state = self._doc.state
        model.item(1).setEnabled(self._view_rect is not None)  # type: ignore[attr-defined]
        model.item(2).setEnabled(bool(state.pinned or state.supernodes))  # type: ignore[attr-defined]
        self.width_px, self.height_px = QSpinBox(), QSpinBox()
        for box in (self.width_px, self.height_px):
            box.setRange(200, 20000)
            box.setSuffix(" px")
        self.dpi = QSpinBox()
        self.dpi.setRange(36, 1200)
        self.theme = QComboBox()
        self.theme.addItem("Light (paper)", "light")
        self.theme.addItem("Dark", "dark")
        self.labels = QCheckBox("Label pinned, selected and output nodes")
        self.all_labels = QCheckBox("Label every visible node (capped)")
        self.legend = QCheckBox("Legend")
        self.transparent = QCheckBox("Transparent background")
        self.format = QComboBox()
        for key, text in _FORMATS:
            self.format.addItem(text, key)
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c92a2a")
        self.error.setWordWrap(True)
        self.error.hide()

        form = QFormLayout()
        form.addRow("Show", self.scope)
        form.addRow("Width", self.width_px)
        form.addRow("Height", self.height_px)
        form.addRow("Theme", self.theme)
        form.addRow("", self.labels)
        form.addRow("", self.all_labels)
        form.addRow("", self.legend)
        form.addRow("", self.transparent)
        form.addRow("Format", self.format)
        form.addRow("Resolution", self.dpi)
        form.addRow("File", path_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.labels.toggled.connect(self.all_labels.setEnabled)
        self.path.editingFinished.connect(self._path_edited)

    def _default_path(self) -> str:
        src = self._doc.path
        stem = src.stem if src is not None else "graph"
        return str(default_folder(self._settings) / f"{stem}-figure.svg")

    # ------------------------------------------------------------------ options

    def set_options(self, options: ExportOptions) -> None:
        """Show ``options`` in the widgets."""
        fig = options.figure
        self.scope.setCurrentIndex(max(0, [k for k, _ in _SCOPES].index(fig.scope)))
        self.width_px.setValue(fig.width)
        self.height_px.setValue(fig.height)
        self.theme.setCurrentIndex(0 if fig.theme == "light" else 1)
        self.labels.setChecked(fig.labels)
        self.all_labels.setChecked(fig.all_labels)
        self.all_labels.setEnabled(fig.labels)
        self.legend.setChecked(fig.legend)
        self.transparent.setChecked(fig.transparent)
        self.format.setCurrentIndex([k for k, _ in _FORMATS].index(options.format))
        self.dpi.setValue(round(options.dpi) if options.format == "png" else 300)
        self.path.setText(options.path)
        self._format_changed()

    def options(self) -> ExportOptions:
        """The options the widgets show."""
        scope = self.scope.currentData()
        fig = FigureOptions(
            width=self.width_px.value(), height=self.height_px.value(),
            theme=self.theme.currentData(), labels=self.labels.isChecked(),
            all_labels=self.labels.isChecked() and self.all_labels.isChecked(),
            legend=self.legend.isChecked(), transparent=self.transparent.isChecked(),
            scope=scope, view_rect=self._view_rect if scope == "view" else None)
        fmt = self.format.currentData()
        return ExportOptions(path=self.path.text().strip(), format=fmt,
                             dpi=float(self.dpi.value()) if fmt == "png" else 96.0, figure=fig)

    def _format_changed(self) -> None:
        fmt = self.format.currentData()
        self.dpi.setEnabled(fmt == "png")
        text = self.path.text().strip()
        if text:
            self.path.setText(str(Path(text).with_suffix("." + fmt)))

    def _path_edited(self) -> None:
        suffix = Path(self.path.text()).suffix.lower().lstrip(".")
        keys = [k for k, _ in _FORMATS]
        if suffix in keys and suffix != self.format.currentData():
            self.format.setCurrentIndex(keys.index(suffix))

    def _browse(self) -> None:
        fmt = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export figure", self.path.text(),
                                              f"{fmt.upper()} files (*.{fmt})")
        if path:
            self.path.setText(path)
            self._path_edited()

    # ------------------------------------------------------------------ writing

    def accept(self) -> None:
        options = self.options()
        if not options.path:
            self._show_error("Choose a file to write.")
            return
        if Path(options.path).suffix.lower() != "." + options.format:
            options = replace(options, path=options.path + "." + options.format)
        if self._runner is not None:
            self._submit(self._runner, options)
            super().accept()
            return
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            export_document(self._doc, options, node_mask=self._node_mask,
                            edge_mask=self._edge_mask)
        except (CircuitDeskError, ValueError) as exc:
            self._show_error(str(exc))
            self._failed(str(exc))
            return
        finally:
            self.unsetCursor()
        self._written(options.path)
        super().accept()

    def _submit(self, runner: TaskRunner, options: ExportOptions) -> None:
        snapshot = Document(self._doc.graph, self._doc.path, self._doc.state)
        node_mask, edge_mask = self._node_mask, self._edge_mask
        runner.submit(
            "export",
            lambda progress, cancel: export_document(
                snapshot, options, node_mask=node_mask, edge_mask=edge_mask,
                progress=progress, cancel=cancel),
            on_done=lambda _fig: self._written(options.path),
            on_error=lambda exc: self._failed(str(exc)))

    def _written(self, path: str) -> None:
        remember_folder(path, self._settings)
        if self._on_exported is not None:
            self._on_exported(path)
        if shiboken6.isValid(self):  # the dialog may be deleted while the job ran
            self.exported.emit(path)

    def _failed(self, message: str) -> None:
        if self._on_failed is not None:
            self._on_failed(message)
        if shiboken6.isValid(self):
            self.export_failed.emit(message)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
