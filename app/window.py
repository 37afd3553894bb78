"""The main window: menus, canvas, status bar; loading runs through the task runner."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar, QWidget,
)

from ..graph import document as cmd
from ..graph.document import Document
from ..graph.load import load_graph
from ..graph.model import Graph
from ..graph.session import state_from_qparams
from .canvas import GraphCanvas
from .resources import app_icon, demo_graph_path
from .tasks import TaskRunner

log = logging.getLogger(__name__)

MAX_RECENT = 10
FILE_FILTER = "Attribution graphs (*.json *.pt);;JSON graphs (*.json);;circuit-tracer graphs (*.pt);;All files (*)"


class MainWindow(QMainWindow):
    """One window, one open document.

    Signals:
        graph_loaded(str path): a graph was opened and drawn.
        load_failed(str message): a file could not be opened (the old graph stays).
    """

    graph_loaded = Signal(str)
    load_failed = Signal(str)

    def __init__(self, settings: QSettings | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("CircuitDesk")
        self.setWindowIcon(app_icon())
        self.resize(1200, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("CircuitDesk", "CircuitDesk")
        self.runner = runner or TaskRunner(self)
        self.doc: Document | None = None
        self.canvas = GraphCanvas(parent=self)
        self.setCentralWidget(self.canvas)
        self._error_box: QMessageBox | None = None
        self._build_status_bar()
        self._build_menus()
        self.runner.job_progressed.connect(self._on_progress)
        self.runner.job_cancelled.connect(self._hide_progress)

    # ---------------------------------------------------------------- UI set-up

    def _build_status_bar(self) -> None:
        self.counts_label = QLabel("No graph")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.progress)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(file_menu, "&Open…", self.choose_file, QKeySequence.StandardKey.Open)
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        self._action(file_menu, "Open &Demo Graph", self.open_demo)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, QKeySequence("Ctrl+Shift+Z"))
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Reset View", self.canvas.reset_view, QKeySequence("Ctrl+0"))
        self._refresh_recent()

    def _action(self, menu: QMenu, text: str, slot: object,
                shortcut: QKeySequence | QKeySequence.StandardKey | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ---------------------------------------------------------------- opening

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open attribution graph", "", FILE_FILTER)
        if path:
            self.open_file(path)

    def open_demo(self) -> None:
        self.open_file(str(demo_graph_path()))

    def open_file(self, path: str) -> None:
        """Load ``path`` off the GUI thread; the current graph stays until it succeeds."""
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        self.progress.setValue(0)
        self.progress.show()
        self.runner.submit(
            "load", lambda progress, cancel: load_graph(path, progress=progress, cancel=cancel),
            on_done=lambda graph: self._on_loaded(path, graph),
            on_error=lambda exc: self._on_load_error(path, exc),
        )

    def _on_progress(self, kind: str, fraction: float, phase: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{phase} %p%")

    def _hide_progress(self, *_: object) -> None:
        self.progress.hide()

    def _on_loaded(self, path: str, graph: Graph) -> None:
        self.progress.hide()
        state = state_from_qparams(graph)
        if self.doc is None:
            self.doc = Document(graph, Path(path), state)
            self.doc.state_changed.connect(self._on_state_changed)
            self.canvas.set_document(self.doc)
        else:
            self.doc.replace_graph(graph, Path(path), state)
        self._remember(path)
        title = graph.metadata.prompt or Path(path).name
        self.setWindowTitle(f"{Path(path).name} — CircuitDesk")
        note = f" ({len(graph.warnings)} warning(s): {graph.warnings[0]})" if graph.warnings else ""
        self.statusBar().showMessage(f"Opened {title!r}{note}", 10000)
        self._update_counts()
        self._update_undo_actions()
        self.graph_loaded.emit(path)

    def _on_load_error(self, path: str, exc: BaseException) -> None:
        self.progress.hide()
        message = str(exc) if str(exc) else f"{path}: {type(exc).__name__}"
        self.statusBar().showMessage(f"Could not open {Path(path).name}", 10000)
        self.show_error("Could not open graph", message)
        self.load_failed.emit(message)

    def show_error(self, title: str, message: str) -> None:
        """A non-blocking error dialog; the app stays usable behind it."""
        if self._error_box is not None:
            self._error_box.close()
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _=0: setattr(self, "_error_box", None))
        self._error_box = box
        box.open()

    # ---------------------------------------------------------------- recent files

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: str) -> None:
        full = str(Path(path).resolve())
        if full == str(demo_graph_path().resolve()):
            return
        recent = [full] + [p for p in self.recent_files() if p != full]
        self.settings.setValue("recent_files", recent[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            action = self.recent_menu.addAction(Path(p).name)
            action.setToolTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_file(p))
        self.recent_menu.setEnabled(bool(files))

    # ---------------------------------------------------------------- editing

    def undo(self) -> None:
        if self.doc is not None:
            self.doc.undo()

    def redo(self) -> None:
        if self.doc is not None:
            self.doc.redo()

    def _on_state_changed(self, changed: frozenset[str]) -> None:
        self._update_counts()
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        doc = self.doc
        self.undo_action.setEnabled(bool(doc and doc.can_undo))
        self.redo_action.setEnabled(bool(doc and doc.can_redo))
        self.undo_action.setText(f"&Undo {doc.undo_text()}" if doc and doc.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {doc.redo_text()}" if doc and doc.can_redo else "&Redo")

    def _update_counts(self) -> None:
        if self.doc is None:
            self.counts_label.setText("No graph")
            return
        c = self.canvas
        self.counts_label.setText(
            f"{int(c.node_visible.sum())}/{self.doc.graph.n_nodes} nodes · "
            f"{int(c.edge_visible.sum())}/{self.doc.graph.n_edges} links · "
            f"{len(self.doc.state.pinned)} pinned")

    # ---------------------------------------------------------------- drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.open_file(files[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        self.canvas.detach()
        super().closeEvent(event)
