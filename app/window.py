"""The main window: canvas, docks, toolbar, status bar; loading and pruning run as tasks."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedLayout,
    QWidget,
)

from ..graph import document as cmd
from ..graph.analysis.layout import default_layout
from ..graph.analysis.prune import prune
from ..graph.analysis.scores import graph_scores
from ..graph.analysis.search import search
from ..graph.document import TRANSIENT, Document
from ..graph.errors import CircuitDeskError
from ..graph.io.load import load_graph
from ..graph.io.session import save_session, state_from_qparams
from ..graph.model import Graph
from . import long_lived
from .actions import build_menus
from .canvas.palette import DARK, LIGHT
from .error_report import details_of, one_line
from .first_sight import FirstSight, opening_nodes, render_sketch
from .folders import default_folder, remember_folder
from .labels_lookup import find_labels
from .model_binding import ModelBinding
from .panels.connections import ConnectionsPanel, DetailPanel
from .panels.prune_bar import PruneBar
from .resources import app_icon, demo_graph_path
from .session_io import autosave_path, read_autosave, write_autosave
from .tasks import TaskRunner
from .theme import apply_palette, theme_plots

if TYPE_CHECKING:
    from .canvas.graph_canvas import GraphCanvas
    from .panels.faithfulness import FaithfulnessPanel
    from .panels.subgraph import SubgraphView
    from .panels.verify import VerifyPanel

log = logging.getLogger(__name__)

MAX_RECENT = 10
FILE_FILTER = ("Attribution graphs (*.json *.pt);;JSON graphs (*.json);;"
               "circuit-tracer graphs (*.pt);;All files (*)")
AUTOSAVE_MS = 1500
SKETCH_WAIT_S = 0.25
"""How long the first load's worker waits for the first frame to be on screen."""
PLOT_MODULES = (".canvas.graph_canvas", ".panels.subgraph", ".panels.verify",
                ".panels.faithfulness")


def import_plot_modules() -> None:
    """Import pyqtgraph, psygnal and the plotting widgets' modules (on the first load's worker:
    their 0.15-0.25 s would freeze the first frame; the widgets are built on the GUI thread)."""
    for name in PLOT_MODULES:
        importlib.import_module(name, __package__)
    importlib.import_module("psygnal")  # the document's signals (graph/document.py)


def _wait_unless_cancelled(event: threading.Event, cancel: Any, limit_s: float) -> None:
    """Wait for ``event`` at most ``limit_s``, and not at all once ``cancel`` is cancelled
    (a cancelled job's partial result is dropped, so nobody would set the event)."""
    deadline = time.monotonic() + limit_s
    while not cancel.cancelled and not event.wait(0.01) and time.monotonic() < deadline:
        pass


class MainWindow(ModelBinding, QMainWindow):
    """One window, one open document.

    The plots (canvas, subgraph view, verify and circuit-test panels) are built after the
    first frame, which shows the first graph's nodes without them (first_sight.py), or at
    once when anything asks for one of them.

    Signals:
        first_sight(str path): the first graph's nodes are on screen; the canvas comes next.
        graph_loaded(str path): a graph was opened and drawn.
        load_failed(str message): a file could not be opened (the old graph stays).
        pruned(): a prune result was applied to the canvas.
    """

    first_sight = Signal(str)
    graph_loaded = Signal(str)
    load_failed = Signal(str)
    pruned = Signal()

    def __init__(self, settings: QSettings | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("CircuitDesk")
        self.setWindowIcon(app_icon())
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("CircuitDesk", "CircuitDesk")
        self.runner = runner or TaskRunner(self)
        self.doc: Document | None = None
        self.prune_result: Any = None
        self._whole_scores: tuple[int, Any] | None = None
        self._error_box: QMessageBox | None = None
        self.restore_box: QMessageBox | None = None
        self.quit_box: QMessageBox | None = None
        self._plots_built = self._panels_built = False
        self.dark = False
        self.sketch: FirstSight | None = FirstSight()
        # the canvas goes under the sketch in this holder (the docks keep their sizes), gets
        # its size there and is uncovered once it has drawn the first graph
        holder = QWidget()
        self._stack = QStackedLayout(holder)
        self._stack.setStackingMode(QStackedLayout.StackingMode.StackAll)
        self._stack.addWidget(self.sketch)
        self.setCentralWidget(holder)
        self.connections = ConnectionsPanel(lambda: self.canvas.edge_visible, lambda: self.canvas.share)
        self.details = DetailPanel()
        self.backends: dict[tuple[str, ...], Any] = {}
        self._bound: tuple[int, Any, list[int]] | None = None
        self.bound_model_dir: str | None = None
        self.bound_transcoders_dir: str | None = None
        self.dashboards: Any = None
        self.details.dashboard_of = self.dashboard_of
        self.docks = {name: self._dock(title, widget, area) for name, title, widget, area in (
            ("connections", "Connections", self.connections, Qt.DockWidgetArea.RightDockWidgetArea),
            ("details", "Node", self.details, Qt.DockWidgetArea.RightDockWidgetArea),
            # the plotting panels are put in by build_plots
            ("subgraph", "Subgraph (pinned)", QWidget(), Qt.DockWidgetArea.BottomDockWidgetArea),
            ("verify", "Verify on the model", QWidget(), Qt.DockWidgetArea.BottomDockWidgetArea),
            ("faithfulness", "Circuit test", QWidget(), Qt.DockWidgetArea.BottomDockWidgetArea),
        )}
        self.docks["verify"].visibilityChanged.connect(self._on_verify_shown)
        self.docks["faithfulness"].visibilityChanged.connect(
            lambda shown: self.build_panels() if shown else None)
        self.tabifyDockWidget(self.docks["subgraph"], self.docks["verify"])
        self.tabifyDockWidget(self.docks["verify"], self.docks["faithfulness"])
        self.docks["subgraph"].raise_()
        self.resizeDocks([self.docks["subgraph"]], [300], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["connections"]], [340], Qt.Orientation.Horizontal)
        self.prune_bar = PruneBar()
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search label, id, L12, token…  (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.returnPressed.connect(self.run_search)
        self.search_box.textChanged.connect(lambda text: None if text.strip() else self.clear_search())
        self.search_box.setMinimumWidth(220)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.addWidget(self.prune_bar)
        toolbar.addSeparator()
        toolbar.addWidget(self.search_box)
        self._build_status_bar()
        build_menus(self)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        if self.settings.value("theme") == "dark":
            self.set_dark_theme(True)
        self.runner.job_progressed.connect(self._on_progress)
        self.runner.job_cancelled.connect(self._on_job_cancelled)
        self.runner.job_finished.connect(lambda kind: self.progress.hide())
        self.runner.job_failed.connect(self._on_job_failed)
        self._close_confirmed = False
        self._restore_layout()

    def build_plots(self, under_sketch: bool = False) -> None:
        """Build the canvas and the subgraph view (once). Their modules are imported already
        when the first load's worker ran :func:`import_plot_modules`, else here.
        ``under_sketch``: the sketch stays on top until :meth:`_drop_sketch`."""
        if self._plots_built:
            return
        self._plots_built = True
        from .canvas.graph_canvas import GraphCanvas
        from .panels.subgraph import SubgraphView

        self._canvas = GraphCanvas()
        self._canvas.settings = self.settings  # edge density remembered per file
        self._subgraph = SubgraphView()
        self._stack.addWidget(self._canvas)
        self._canvas.show()
        self._stack.activate()  # its size now: the first graph fits to it
        self._put_in_dock("subgraph", self._subgraph)
        self._theme_plots()
        long_lived.freeze()  # the plots stay for good
        if under_sketch and self.sketch is not None:
            self._stack.setCurrentWidget(self.sketch)
            self.sketch.raise_()
        else:
            self._drop_sketch()

    def _drop_sketch(self) -> None:
        if self.sketch is not None:
            self._stack.removeWidget(self.sketch)
            self.sketch.deleteLater()
            self.sketch = None
            self._stack.setCurrentWidget(self._canvas)

    def build_panels(self) -> None:
        """Build the verify and circuit-test panels (once), showing the open session's saved
        results: when their tab is first shown or anything asks for one of them (two more
        plots, about 40 ms of the GUI thread, kept out of the turns that open the first
        graph)."""
        if self._panels_built:
            return
        self.build_plots()
        self._panels_built = True
        from .panels.faithfulness import FaithfulnessPanel
        from .panels.verify import VerifyPanel

        self._verify_panel = VerifyPanel(self, self)
        self._faithfulness = FaithfulnessPanel(self, self)
        self._put_in_dock("verify", self._verify_panel)
        self._put_in_dock("faithfulness", self._faithfulness)
        self.init_device_choice()
        if self.doc is not None:
            self._verify_panel.reset(self._saved_ours("verify"))
            self._faithfulness.reset(self._saved_ours("faithfulness"))
        self._theme_plots()
        long_lived.freeze()  # the panels stay for good

    def _put_in_dock(self, name: str, widget: QWidget) -> None:
        """``widget`` in place of the dock's empty placeholder (deleted: setWidget keeps it)."""
        placeholder = self.docks[name].widget()
        self.docks[name].setWidget(widget)
        placeholder.deleteLater()

    def _on_verify_shown(self, shown: bool) -> None:
        if shown:  # the panel at once; the device list once torch has probed (seconds)
            self.build_panels()
            self.probe_devices()

    @property
    def canvas(self) -> GraphCanvas:
        self.build_plots()
        return self._canvas

    @property
    def subgraph(self) -> SubgraphView:
        self.build_plots()
        return self._subgraph

    @property
    def verify_panel(self) -> VerifyPanel:
        self.build_panels()
        return self._verify_panel

    @property
    def faithfulness(self) -> FaithfulnessPanel:
        self.build_panels()
        return self._faithfulness

    def dashboard_of(self, row: int) -> Any:
        """The open graph's dashboard of feature node ``row`` (None without dashboards)."""
        if self.doc is None or self.dashboards is None:
            return None
        n = self.doc.graph.nodes
        try:
            return self.dashboards.dashboard(int(n.layer[row]), int(n.feature[row]))
        except Exception:  # noqa: BLE001 - a damaged file: the panel shows no dashboard
            log.warning("cannot read dashboards %s", self.dashboards.path, exc_info=True)
            return None

    def set_dark_theme(self, dark: bool) -> None:
        """Switch the whole window's theme and remember it across launches."""
        self.dark = dark
        apply_palette(dark)
        if self.sketch is not None:
            self.sketch.theme = DARK if dark else LIGHT
            self.sketch.update()
        self._theme_plots()
        self.settings.setValue("theme", "dark" if dark else "light")

    def _theme_plots(self) -> None:
        if self._plots_built:
            plots = (self._verify_panel.plot, self._faithfulness.plot) if self._panels_built else ()
            theme_plots(DARK if self.dark else LIGHT, self._canvas, self._subgraph, *plots)

    def _restore_layout(self) -> None:
        """Window size and dock layout as the user left them (QSettings)."""
        geometry, layout = self.settings.value("geometry"), self.settings.value("dock_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if layout is not None:
            self.restoreState(layout)

    def _save_layout(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("dock_state", self.saveState())

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.counts_label = QLabel("No graph")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.prune_bar.scores)  # long text: not in the toolbar
        self.statusBar().addPermanentWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.progress)

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
        models, dbs = self.remembered_models(), self.remembered_dashboards()
        # the default store is found on the worker: its module loads sqlite3 (7 ms here)
        chosen = self.settings.value("label_store")
        store = str(chosen) if chosen else None

        sketch = self.sketch  # no plots yet: sketch the nodes, import the plots
        shown = threading.Event()
        sketch_args = None if sketch is None else (
            sketch.width(), sketch.height(), sketch.theme, sketch.devicePixelRatioF())

        def work(*, progress: Any, cancel: Any, partial: Any = None) -> tuple[Graph, Any]:
            graph = load_graph(path, progress=progress, cancel=cancel)
            default_layout(graph)  # the layout, not on the GUI thread
            if partial is not None and sketch_args is not None:
                # the first frame shows it while the rest is done here, once it is on screen:
                # running on would hold the GIL that the GUI thread paints it with (15 ms)
                image = render_sketch(graph, *sketch_args, visible=opening_nodes(graph))
                partial((graph, image, shown))
                _wait_unless_cancelled(shown, cancel, SKETCH_WAIT_S)
            graph.index_edges()  # sorts millions of edges: here, not at the first click
            labels = find_labels(graph, store, models, dbs)
            if sketch_args is not None:
                import_plot_modules()
            return graph, labels

        self.runner.submit("load", work, on_done=lambda got: self._on_loaded(path, *got),
                           on_error=lambda exc: self._on_load_error(path, exc),
                           on_partial=None if sketch_args is None
                           else (lambda got: self._sketch(path, *got)))

    def _on_progress(self, kind: str, fraction: float, phase: str) -> None:
        self.progress.show()
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{kind}: {phase} %p%")

    def _on_loaded(self, path: str, graph: Graph, labels: Any = None) -> None:
        """Set the window up for ``graph`` as one transaction: if any part fails, the previous
        document comes back and the error (naming the file) is shown by the runner."""
        self.progress.hide()
        if not self._plots_built:
            # the first graph: build the plots now (the worker imported their modules) and
            # open the graph in the next turn, so no turn holds the GUI thread long
            long_lived.freeze()  # pyqtgraph's modules: no 50 ms full collector pass over them
            self.build_plots(under_sketch=True)
            QTimer.singleShot(0, lambda: self._open_later(path, graph, labels))
            return
        if self.doc is not None and self.doc.modified:
            self.autosave()  # the graph being replaced keeps its edits
        previous = self.doc.checkpoint() if self.doc is not None else None
        try:
            self._install(path, graph, labels)
        except Exception:
            if previous is not None and self.doc is not None:
                try:
                    self.doc.rollback(previous)
                except Exception:  # noqa: BLE001 - the error being raised is the one to show
                    log.exception("could not restore the previous graph")
            raise
        self._remember(path)
        log.info("opened %s: %d nodes, %d links (%s)", path, graph.n_nodes, graph.n_edges,
                 graph.format)
        self.setWindowTitle(f"{Path(path).name} — CircuitDesk")
        note = f" ({len(graph.warnings)} warning(s): {graph.warnings[0]})" if graph.warnings else ""
        self.statusBar().showMessage(f"Opened {graph.metadata.prompt or Path(path).name!r}{note}", 10000)
        self._drop_sketch()
        self._offer_restore(Path(path), graph)
        self.graph_loaded.emit(path)

    def _open_later(self, path: str, graph: Graph, labels: Any) -> None:
        try:
            self._on_loaded(path, graph, labels)
        except Exception as exc:  # noqa: BLE001 - shown as the runner shows a failed load
            log.error("load job failed", exc_info=exc)
            self._drop_sketch()
            self._on_load_error(path, exc)

    def _sketch(self, path: str, graph: Graph, image: QImage, shown: threading.Event) -> None:
        """The first frame: the graph's nodes, before the plots are imported and built."""
        try:
            if self.sketch is None:
                return  # something asked for the plots meanwhile: the canvas draws it soon
            self.sketch.show_image(image, graph.n_nodes)
            self.repaint()  # the whole window on screen now, not after this turn
            self.first_sight.emit(path)
        finally:
            shown.set()  # the load's worker goes on

    def _install(self, path: str, graph: Graph, labels: Any = None) -> None:
        state = state_from_qparams(graph)
        self.prune_result = None
        auto, self.dashboards = labels if labels is not None else ({}, None)
        if self.doc is None:
            self.doc = Document(graph, Path(path), state)
            self.doc.auto_labels = auto
            # widgets first, so they have redrawn the new graph before the window re-prunes
            for widget in (self.canvas, self.connections, self.details, self.subgraph, self.prune_bar):
                widget.set_document(self.doc)
            self.doc.state_changed.connect(self._on_state_changed)
            self.doc.graph_replaced.connect(self._on_graph_replaced)
            self._on_graph_replaced()
        else:
            self.doc.replace_graph(graph, Path(path), state, auto)

    def _on_load_error(self, path: str, exc: BaseException) -> None:
        self.progress.hide()
        if isinstance(exc, CircuitDeskError) and str(exc):
            message, details = str(exc), ""  # ours: one line that names the file
        else:
            message, details = f"{Path(path).name}: {one_line(exc)}", details_of(exc)
        self.statusBar().showMessage(f"Could not open {Path(path).name}", 10000)
        if self.sketch is not None:  # the first graph failed: no sketch of it, empty plots
            self.sketch.show_image(None)
            QTimer.singleShot(0, self.build_plots)
        self.show_error("Could not open graph", message, details)
        self.load_failed.emit(message)

    def _on_job_failed(self, kind: str, message: str, details: str) -> None:
        self.progress.hide()
        if kind != "load":
            self.show_error(f"{kind.capitalize()} failed", message, details)

    def _on_job_cancelled(self, kind: str) -> None:
        self.progress.hide()
        if kind == "verify" or (kind == "model-open" and self.verify_panel.cancel_button.isEnabled()):
            self.verify_panel.on_cancelled()
        if kind == "dashboards":
            self.statusBar().showMessage("Dashboard build cancelled; build again to resume", 8000)
        if kind == "faithfulness" or (kind == "model-open"
                                      and self.faithfulness.cancel_button.isEnabled()):
            self.faithfulness.on_cancelled()

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """A non-blocking error dialog (the traceback under "Show Details…"); the app stays
        usable behind it."""
        if self._error_box is not None:
            self._error_box.close()
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
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
        self.refresh_recent()

    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            action = self.recent_menu.addAction(Path(p).name)
            action.setToolTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_file(p))
        self.recent_menu.setEnabled(bool(files))

    # ---------------------------------------------------------------- document changes

    def _on_graph_replaced(self) -> None:
        self._whole_scores = None
        self._bound = None
        self.bound_model_dir = self.bound_transcoders_dir = None
        if self._panels_built:  # else they show the saved results when built
            self._verify_panel.reset(self._saved_ours("verify"))
            self._faithfulness.reset(self._saved_ours("faithfulness"))
        self.clear_search()
        self.request_prune()
        self._update_status()

    def _on_state_changed(self, changed: frozenset[str]) -> None:
        if changed & {"pruning", "node_threshold", "edge_threshold"} or (
                changed & {"pinned"} and self.doc is not None and self.doc.state.pruning):
            self.request_prune()
        self._update_status()
        if changed - TRANSIENT:
            self._autosave_timer.start()

    def _saved_ours(self, key: str) -> Any:
        """What a saved session of ours holds under ``key`` (None when absent)."""
        ours = self.doc.graph.qparams.get("circuitdesk") if self.doc is not None else None
        return ours.get(key) if isinstance(ours, dict) else None

    def request_prune(self) -> None:
        """Re-prune off the GUI thread; a newer request cancels this one (and stale verifies)."""
        doc = self.doc
        if doc is None:
            return
        if self._panels_built:  # else no verification is running
            self._verify_panel.invalidate()
        if not doc.state.pruning:
            self.runner.cancel("prune")
            self.prune_result = None
            self.canvas.set_prune_masks(None, None)
            self._after_masks()
            self.pruned.emit()
            return
        graph, state = doc.graph, doc.state
        pinned = tuple(sorted(state.pinned))
        cached = self._whole_scores[1] if self._whole_scores and self._whole_scores[0] == id(graph) else None
        view = self.canvas.plan_inputs()  # the drawing data is planned in the worker too

        def work(*, progress: Any, cancel: Any) -> tuple[Any, Any, Any, Any]:
            result = prune(graph, state.node_threshold, state.edge_threshold, pinned=pinned,
                           progress=progress, cancel=cancel)
            whole = cached or graph_scores(graph, cancel=cancel)
            sub = graph_scores(graph, result.node_mask, cancel=cancel)
            planned = None
            if view is not None:
                from .canvas.edge_plan import plan_edges  # imported after the first frame

                inputs = view.with_masks(result.node_mask, result.edge_mask)
                planned = (inputs, plan_edges(graph, inputs))
            return result, whole, sub, planned

        self.runner.submit("prune", work, on_done=lambda r: self._on_pruned(graph, r))

    def _on_pruned(self, graph: Graph, result: tuple[Any, Any, Any]) -> None:
        if self.doc is None or self.doc.graph is not graph:
            return
        self.progress.hide()
        self.prune_result, whole, sub, planned = result
        self._whole_scores = (id(graph), whole)
        self.canvas.set_prune_masks(self.prune_result.node_mask, self.prune_result.edge_mask,
                                    planned)
        self.prune_bar.scores.setText(
            f"replacement {sub.replacement:.3f} (graph {whole.replacement:.3f}) · "
            f"completeness {sub.completeness:.3f} (graph {whole.completeness:.3f})")
        for w in self.prune_result.warnings:
            self.statusBar().showMessage(w, 8000)
        self._after_masks()
        self.pruned.emit()

    def _after_masks(self) -> None:
        """What is shown changed: a clicked or selected node that is no longer drawn stops
        being the panels' subject, and the panels recompute over the visible edges."""
        doc = self.doc
        if doc is not None:
            shown = {doc.graph.nodes.ids[i] for i in np.flatnonzero(self.canvas.node_visible)}
            if doc.state.clicked is not None and doc.state.clicked not in shown:
                cmd.click(doc, None)
            elif not doc.state.selected <= shown:
                cmd.select(doc, doc.state.selected & shown)
        self.connections.refresh()
        self.details.refresh()
        self._update_status()

    def _update_status(self) -> None:
        doc = self.doc
        if doc is None:
            self.counts_label.setText("No graph")
            return
        c = self.canvas
        self.counts_label.setText(
            f"{int(c.node_visible.sum())}/{doc.graph.n_nodes} nodes · "
            f"{c.n_edges_visible}/{doc.graph.n_edges} links · "
            f"{len(doc.state.pinned)} pinned · {len(doc.state.selected)} selected"
            + (" · strongest 300k links drawn" if c.edges_capped else ""))
        if not doc.state.pruning:
            self.prune_bar.scores.setText("")
        for label in (self.prune_bar.scores, self.counts_label):  # whole, never elided by a message
            label.setMinimumWidth(label.sizeHint().width())
        self.undo_action.setEnabled(doc.can_undo)
        self.redo_action.setEnabled(doc.can_redo)
        self.undo_action.setText(f"&Undo {doc.undo_text()}" if doc.can_undo else "&Undo")
        self.redo_action.setText(f"&Redo {doc.redo_text()}" if doc.can_redo else "&Redo")

    # ---------------------------------------------------------------- search

    def clear_search(self) -> None:
        """An empty search box: no hits and no stale "N matches" message."""
        self.canvas.set_search_hits([])
        if self.statusBar().currentMessage().endswith(" visible") and "match" in self.statusBar().currentMessage():
            self.statusBar().clearMessage()

    def run_search(self) -> None:
        if self.doc is None:
            return
        labels = [self.doc.state.labels.get(i, t) for i, t in zip(self.doc.graph.nodes.ids,
                                                                   self.doc.graph.nodes.label)]
        if not self.search_box.text().strip():
            self.clear_search()
            return
        rows = search(self.doc.graph, self.search_box.text(), labels)
        self.canvas.set_search_hits(rows)
        visible = sum(1 for r in rows if self.canvas.node_visible[r])
        self.statusBar().showMessage(f"{len(rows)} match(es), {visible} visible", 8000)

    # ---------------------------------------------------------------- sessions

    def save_session_as(self, path: str | None = None) -> None:
        if self.doc is None:
            return
        if path is None:
            stem = self.doc.path.stem if self.doc.path else "graph"
            start = str(default_folder(self.settings) / f"{stem}.session.json")
            path, _ = QFileDialog.getSaveFileName(self, "Save session", start, "JSON (*.json)")
            if not path:
                return
        try:
            save_session(path, self.doc.graph, self.doc.state,
                         extra={"verify": self.verify_panel.results_json(),
                                "faithfulness": self.faithfulness.results_json()})
        except OSError as exc:
            self.show_error("Could not save", f"{path}: {exc.strerror or exc}")
            return
        self.doc.mark_saved()
        remember_folder(path, self.settings)
        self.statusBar().showMessage(f"Saved {path}", 8000)

    def autosave(self) -> None:
        doc = self.doc
        if doc is None or doc.path is None or doc.path == demo_graph_path():
            return
        try:
            if doc.state.persistent() == state_from_qparams(doc.graph).persistent():
                self._autosave_path(doc.path).unlink(missing_ok=True)  # back as the file has it
                return
            write_autosave(self._autosave_path(doc.path), doc.path, doc.graph, doc.state)
        except OSError as exc:
            log.warning("autosave failed: %s", exc)

    def _autosave_path(self, path: Path) -> Path:
        return autosave_path(path, self.settings.value("autosave_dir") or None)

    def _offer_restore(self, path: Path, graph: Graph) -> None:
        target = self._autosave_path(path)
        if not target.exists() or self.doc is None:
            return
        saved = read_autosave(target, graph)
        if saved is None or saved.persistent() == self.doc.state.persistent():
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Restore session?",
                          f"{path.name} has unsaved view changes from an earlier session "
                          "(pins, groups, positions, labels). Restore them?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        doc = self.doc

        def done(code: int) -> None:
            self.restore_box = None
            if code == QMessageBox.StandardButton.Yes and self.doc is doc and doc.graph is graph:
                doc.apply(saved, "Restore autosaved session")

        box.finished.connect(done)
        self.restore_box = box
        box.open()

    # ---------------------------------------------------------------- window events

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.open_file(files[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_confirmed and self._ask_before_close():
            event.ignore()
            return
        self._autosave_timer.stop()
        self.autosave()
        self._save_layout()
        self.runner.shutdown()
        QThreadPool.globalInstance().waitForDone(10000)  # edge images being rendered
        for backend in self.backends.values():
            backend.close()
        self.backends.clear()
        if self._plots_built:
            self._canvas.detach()
        super().closeEvent(event)

    def _ask_before_close(self) -> bool:
        """Open a Save / Discard / Cancel question when the view has unsaved changes (the demo
        included); True means the close waits for the answer."""
        doc = self.doc
        if doc is None or not doc.modified or self.settings.value("ask_before_quit", True) in (
                False, "false"):
            return False
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          f"Save the session of {doc.path.name if doc.path else 'this graph'} "
                          "before closing? (pins, groups, positions, labels)",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(code: int) -> None:
            self.quit_box = None
            if code == QMessageBox.StandardButton.Save:
                self.save_session_as()
                if doc.modified:
                    return  # the save dialog was cancelled: keep the window
            elif code != QMessageBox.StandardButton.Discard:
                return
            elif doc.path is not None:
                self._autosave_path(doc.path).unlink(missing_ok=True)
                doc.mark_saved()
            self._close_confirmed = True
            self.close()

        box.finished.connect(answered)
        self.quit_box = box
        box.open()
        return True
