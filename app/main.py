"""Start the GUI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from .window import MainWindow


def run_app(files: Sequence[str]) -> int:
    """Open the window with ``files`` (or the demo graph on first launch) and run Qt."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CircuitDesk")
    app.setOrganizationName("CircuitDesk")
    app.setDesktopFileName("circuitdesk")
    window = MainWindow(QSettings())
    window.show()
    if files:
        QTimer.singleShot(0, lambda: window.open_file(files[0]))
    else:
        QTimer.singleShot(0, window.open_demo)
    return int(app.exec())
