"""Helpers for GUI tests (imported only by modules that already require PySide6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from circuitdesk.app.window import MainWindow


def make_window(qtbot: Any, tmp_path: Path, size: tuple[int, int] = (1400, 900)) -> MainWindow:
    """A shown main window whose settings and autosaves live in ``tmp_path``."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("autosave_dir", str(tmp_path / "autosave"))
    settings.setValue("ask_before_quit", False)
    window = MainWindow(settings)
    window.resize(*size)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_graph(qtbot: Any, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.graph_loaded, timeout=20000):
        window.open_file(str(path))
