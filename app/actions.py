"""Menus and keyboard shortcuts of the main window; every edit goes through a document command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMenu, QMenuBar, QStatusBar

from ..graph import document as cmd
from . import labels_actions


class MenuHost(Protocol):
    """The window as the menus see it (this module never imports the window class)."""

    doc: Any
    @property
    def canvas(self) -> Any: ...  # built on first use (read-only)
    dark: bool
    runner: Any
    prune_result: Any
    search_box: Any
    docks: dict[str, Any]
    recent_menu: QMenu
    undo_action: QAction
    redo_action: QAction
    export_dialog: Any
    settings: Any

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)
    def statusBar(self) -> QStatusBar: ...  # noqa: N802
    def close(self) -> bool: ...
    def choose_file(self) -> None: ...
    def open_demo(self) -> None: ...
    def save_session_as(self, path: str | None = None) -> None: ...
    def refresh_recent(self) -> None: ...
    def set_dark_theme(self, dark: bool) -> None: ...



Shortcut = QKeySequence | QKeySequence.StandardKey | str | None


def _add(window: MenuHost, menu: QMenu, text: str, slot: Callable[[], object],
         shortcut: Shortcut = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut) if isinstance(shortcut, str) else shortcut)
    action.triggered.connect(lambda _=False: slot())
    menu.addAction(action)
    return action


def _with_doc(window: MenuHost, fn: Callable[..., None]) -> Callable[[], None]:
    def run() -> None:
        if window.doc is not None:
            fn(window.doc)
    return run


def group_selection(window: MenuHost, name: str | None = None) -> None:
    """Make a supernode of the selection (asks for a name unless given)."""
    doc = window.doc
    if doc is None or not doc.state.selected:
        window.statusBar().showMessage("Select nodes to group first (Shift+drag or Shift+click)", 5000)
        return
    if name is None:
        default = f"group {len(doc.state.supernodes) + 1}"
        name, ok = QInputDialog.getText(window, "Group", "Name of the supernode:", text=default)
        if not ok or not name:
            return
    cmd.group(doc, doc.state.selected, name, pin=True)


def rename_group(window: MenuHost) -> None:
    doc = window.doc
    if doc is None or not doc.state.supernodes:
        return
    names = [s.name for s in doc.state.supernodes]
    old, ok = QInputDialog.getItem(window, "Rename group", "Group:", names, 0, False)
    if ok:
        new, ok = QInputDialog.getText(window, "Rename group", "New name:", text=old)
        if ok and new:
            cmd.rename_group(doc, old, new)


def ungroup_selection(window: MenuHost) -> None:
    doc = window.doc
    if doc is None:
        return
    for s in doc.state.supernodes:
        if set(s.members) & doc.state.selected:
            cmd.ungroup(doc, s.name)


def toggle_theme(window: MenuHost) -> None:
    window.set_dark_theme(not window.dark)


def export_figure(window: MenuHost) -> None:
    from .panels.export_dialog import ExportDialog

    if window.doc is None:
        return
    (x0, x1), (y0, y1) = window.canvas.vb.viewRange()
    result = window.prune_result
    status = window.statusBar()
    # The dialog is gone before the job ends: report through the status bar, not the dialog.
    dialog = ExportDialog(window.doc, (x0, y0, x1, y1), runner=window.runner, parent=window,
                          node_mask=None if result is None else result.node_mask,
                          edge_mask=None if result is None else result.edge_mask,
                          settings=window.settings,
                          on_exported=lambda path: status.showMessage(f"Exported {path}", 8000))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.export_dialog = dialog
    dialog.open()


def build_menus(window: MenuHost) -> None:
    bar = window.menuBar()
    f = bar.addMenu("&File")
    _add(window, f, "&Open…", window.choose_file, QKeySequence.StandardKey.Open)
    window.recent_menu = f.addMenu("Open &Recent")
    _add(window, f, "Open &Demo Graph", window.open_demo)
    f.addSeparator()
    _add(window, f, "&Save Session As…", window.save_session_as, QKeySequence.StandardKey.Save)
    _add(window, f, "&Export Figure…", lambda: export_figure(window), "Ctrl+E")
    f.addSeparator()
    _add(window, f, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    e = bar.addMenu("&Edit")
    window.undo_action = _add(window, e, "&Undo", lambda: window.doc and window.doc.undo(),
                              QKeySequence.StandardKey.Undo)
    window.redo_action = _add(window, e, "&Redo", lambda: window.doc and window.doc.redo(),
                              "Ctrl+Shift+Z")
    e.addSeparator()
    _add(window, e, "&Pin / Unpin Selected", _with_doc(window, lambda d: (
        cmd.unpin(d, d.state.selected) if d.state.selected <= d.state.pinned
        else cmd.pin(d, d.state.selected))), "P")
    _add(window, e, "Clear &Pins", _with_doc(window, cmd.clear_pins))
    _add(window, e, "&Group Selected…", lambda: group_selection(window), "G")
    _add(window, e, "Ungroup Selected", lambda: ungroup_selection(window), "Shift+G")
    _add(window, e, "Rename Group…", lambda: rename_group(window))
    e.addSeparator()
    _add(window, e, "&Drop Selected", _with_doc(window, lambda d: cmd.drop(d, d.state.selected)),
         QKeySequence.StandardKey.Delete)
    _add(window, e, "&Keep Only Selected", _with_doc(window, lambda d: cmd.keep_only(d, d.state.selected)),
         "Ctrl+K")
    _add(window, e, "&Restore Dropped Nodes", _with_doc(window, cmd.restore_all))
    _add(window, e, "Reset Node &Positions", _with_doc(window, cmd.reset_positions))
    _add(window, e, "Select &All Visible", _with_doc(window, lambda d: cmd.select(
        d, [d.graph.nodes.ids[i] for i in window.canvas.node_visible.nonzero()[0]])), "Ctrl+A")

    t = bar.addMenu("&Tools")
    _add(window, t, "Build Feature &Dashboards…", lambda: labels_actions.build_dashboards(window))
    _add(window, t, "Cancel Dashboard Build", lambda: window.runner.cancel("dashboards"))
    _add(window, t, "&Import Feature Labels…", lambda: labels_actions.import_labels(window))

    v = bar.addMenu("&View")
    _add(window, v, "&Reset View", lambda: window.canvas.reset_view(), "Ctrl+0")
    _add(window, v, "&Find…", lambda: (window.search_box.setFocus(), window.search_box.selectAll()),
         QKeySequence.StandardKey.Find)
    _add(window, v, "&Dark Theme", lambda: toggle_theme(window), "Ctrl+Shift+D")
    v.addSeparator()
    for dock in window.docks.values():
        v.addAction(dock.toggleViewAction())
    window.refresh_recent()
