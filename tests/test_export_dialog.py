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
