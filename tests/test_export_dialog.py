"""The export dialog writes the file its options say."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
from circuitdesk.app.panels.export_dialog import ExportDialog
from circuitdesk.app.tasks import TaskRunner
from circuitdesk.graph import load_graph
from circuitdesk.graph.document import Document
from circuitdesk.graph.io.session import state_from_qparams
from PySide6.QtGui import QImage

from .conftest import FIXTURES

pytestmark = pytest.mark.gui


def _doc() -> Document:
    g = load_graph(FIXTURES["tc"])
    return Document(g, FIXTURES["tc"], state_from_qparams(g))


def test_png_of_current_view(qtbot, tmp_path: Path) -> None:
    dlg = ExportDialog(_doc(), view_rect=(0.0, -0.5, 4.0, 6.5))
    qtbot.addWidget(dlg)
    dlg.scope.setCurrentIndex(1)
    dlg.format.setCurrentIndex(1)  # PNG
    dlg.width_px.setValue(640)
    dlg.height_px.setValue(480)
    dlg.dpi.setValue(192)
    dlg.theme.setCurrentIndex(1)
    dlg.path.setText(str(tmp_path / "view.png"))
    opts = dlg.options()
    assert (opts.format, opts.dpi, opts.figure.scope, opts.figure.theme) == ("png", 192, "view",
                                                                            "dark")
    assert opts.figure.view_rect == (0.0, -0.5, 4.0, 6.5)
    with qtbot.waitSignal(dlg.exported) as sig:
        dlg.accept()
    assert sig.args == [str(tmp_path / "view.png")]
    img = QImage(str(tmp_path / "view.png"))
    assert (img.width(), img.height()) == (1280, 960)
    assert dlg.result() == dlg.DialogCode.Accepted


def test_format_follows_path_and_errors_stay_in_dialog(qtbot, tmp_path: Path) -> None:
    dlg = ExportDialog(_doc())
    qtbot.addWidget(dlg)
    assert not dlg.scope.model().item(1).isEnabled()  # no view rectangle given
    dlg.format.setCurrentIndex(2)
    assert dlg.path.text().endswith(".pdf")
    dlg.path.setText(str(tmp_path / "missing" / "f.svg"))
    dlg.path.editingFinished.emit()
    assert dlg.options().format == "svg"
    with qtbot.waitSignal(dlg.export_failed):
        dlg.accept()
    assert dlg.error.isVisibleTo(dlg) and "missing" in dlg.error.text()
    assert dlg.result() != dlg.DialogCode.Accepted


def test_subgraph_svg_through_the_task_runner(qtbot, tmp_path: Path) -> None:
    runner = TaskRunner(synchronous=True)
    dlg = ExportDialog(_doc(), runner=runner)
    qtbot.addWidget(dlg)
    dlg.scope.setCurrentIndex(2)
    dlg.labels.setChecked(False)
    dlg.path.setText(str(tmp_path / "sub.svg"))
    with qtbot.waitSignal(dlg.exported):
        dlg.accept()
    text = (tmp_path / "sub.svg").read_text(encoding="utf-8")
    assert "small/little/tiny" in text and 'class="label"' not in text
    runner.shutdown()


def test_export_from_a_deleted_dialog_ends_cleanly(qtbot, tmp_path: Path) -> None:
    """The app's dialog deletes itself on close while its job runs on a worker thread:
    the job must still report through the caller's callback, raise nothing (pytest-qt
    fails on an exception in a slot, as "Signal source has been deleted" was), and end
    with job_finished so the status bar clears."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    runner = TaskRunner()
    parent = QWidget()
    qtbot.addWidget(parent)
    written: list[str] = []
    phases: list[tuple[float, str]] = []
    runner.job_progressed.connect(lambda kind, f, phase: phases.append((f, phase)))
    dlg = ExportDialog(_doc(), runner=runner, parent=parent, on_exported=written.append)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.path.setText(str(tmp_path / "fig.svg"))
    with qtbot.waitSignal(runner.job_finished, timeout=30000):
        dlg.accept()
    qtbot.waitUntil(lambda: not runner.is_running("export"))
    assert written == [str(tmp_path / "fig.svg")] and (tmp_path / "fig.svg").stat().st_size
    assert [p for _, p in phases][:1] == ["building figure"] and phases[-1][0] == 1.0
    runner.shutdown()


def test_default_folder_is_last_used_else_documents_never_the_package(qtbot, tmp_path: Path
                                                                      ) -> None:
    from circuitdesk.app import folders
    from circuitdesk.app.resources import demo_graph_path
    from PySide6.QtCore import QSettings

    demo = demo_graph_path()
    g = load_graph(demo)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    folders._last = None
    dlg = ExportDialog(Document(g, demo, state_from_qparams(g)), settings=settings)
    qtbot.addWidget(dlg)
    first = Path(dlg.path.text())
    assert first.parent == folders.documents_folder() and first.name.endswith("-figure.svg")
    assert folders.is_installed_path(demo) and not folders.is_installed_path(first)
    out = tmp_path / "out"
    out.mkdir()
    dlg.path.setText(str(out / "a.svg"))
    with qtbot.waitSignal(dlg.exported):
        dlg.accept()
    again = ExportDialog(Document(g, demo, state_from_qparams(g)), settings=settings)
    qtbot.addWidget(again)
    assert Path(again.path.text()).parent == out.resolve()
    assert settings.value("last_folder") == str(out.resolve())


def test_window_export_clears_its_progress_and_says_where(qtbot, tmp_path: Path) -> None:
    from circuitdesk.app.actions import export_figure

    from .gui_util import make_window, open_graph

    window = make_window(qtbot, tmp_path, (1000, 700))
    open_graph(qtbot, window, FIXTURES["tc"])
    export_figure(window)
    dlg = window.export_dialog
    dlg.path.setText(str(tmp_path / "w.svg"))
    with qtbot.waitSignal(window.runner.job_finished, timeout=30000):
        dlg.accept()
    qtbot.waitUntil(lambda: not window.runner.is_running("export"))
    assert (tmp_path / "w.svg").exists()
    assert not window.progress.isVisible()
    assert window.statusBar().currentMessage() == f"Exported {tmp_path / 'w.svg'}"
    window.close()
