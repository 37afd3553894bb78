"""Errors reach the user: a failing GUI slot or job shows a dialog with the traceback (issue 13),
and a missing Qt platform library is named in one line (app/qt_platform.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from circuitdesk.app import qt_platform  # noqa: E402
from circuitdesk.app.error_report import install_excepthook  # noqa: E402

from .gui_util import make_window  # noqa: E402

pytestmark = pytest.mark.gui


def _shown(window) -> QMessageBox:  # type: ignore[no-untyped-def]
    box = window._error_box
    assert box is not None and box.isVisible()
    return box


def test_a_failing_steer_slot_is_shown_with_its_traceback(qtbot, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)
    # the installed-wheel failure: the steer box's import of app/commands fails
    monkeypatch.setitem(sys.modules, "circuitdesk.app.commands.intervene", None)
    restore = install_excepthook(window.show_error)
    try:
        window.verify_panel.steer_edit.setText("1:2:3=0")
        window.verify_panel.steer_edit.returnPressed.emit()
    finally:
        restore()
    box = _shown(window)
    assert "circuitdesk.app.commands.intervene" in box.text()
    assert "Traceback" in box.detailedText() and "steer" in box.detailedText()
    box.close()
    window.close()


def test_a_failing_job_is_shown_with_its_traceback(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)

    def work(*, progress, cancel):  # type: ignore[no-untyped-def]
        return {}["missing key"]

    with qtbot.waitSignal(window.runner.job_failed, timeout=5000):
        window.runner.submit("export", work)
    box = _shown(window)
    assert box.windowTitle() == "Export failed" and "KeyError" in box.text()
    assert "in work" in box.detailedText()
    box.close()
    window.runner.shutdown()
    window.close()


def test_gui_setup_failure_after_load_is_reported(qtbot, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import FIXTURES

    window = make_window(qtbot, tmp_path)
    monkeypatch.setattr("circuitdesk.app.window.state_from_qparams",
                        lambda graph: [].pop())
    with qtbot.waitSignal(window.load_failed, timeout=20000) as blocker:
        window.open_file(str(FIXTURES["legacy"]))
    assert FIXTURES["legacy"].name in blocker.args[0] and "IndexError" in blocker.args[0]
    assert "Traceback" in _shown(window).detailedText()
    _shown(window).close()
    window.close()


def test_missing_xcb_libraries_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("xcb is Linux only")
    monkeypatch.setattr(qt_platform, "_loads", lambda lib: lib not in {
        "libxcb-icccm.so.4", "libxcb-keysyms.so.1"})
    env = {"DISPLAY": ":0"}
    line = qt_platform.platform_problem(env)
    assert line is not None and "\n" not in line
    assert "apt-get install libxcb-icccm4 libxcb-keysyms1" in line
    assert "QT_QPA_PLATFORM=offscreen" in line and "libxcb-cursor0" not in line
    assert qt_platform.platform_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert "DISPLAY" in (qt_platform.platform_problem({}) or "")
    monkeypatch.setattr(qt_platform, "_loads", lambda lib: True)
    assert qt_platform.platform_problem(env) is None


def test_readme_apt_line_names_every_xcb_package() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert qt_platform.APT_LINE in readme
