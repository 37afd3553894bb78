"""Start the GUI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

# numpy and the graph layer first: once PySide6 is imported, every import passes through its
# __feature__ hook, which reads the importing module's source (10-15 ms more at launch)
from ..graph import analysis, io  # noqa: F401, I001

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from . import long_lived
from .error_report import install_excepthook
from .qt_platform import platform_problem
from .window import MainWindow


def run_app(files: Sequence[str]) -> int:
    """Open the window with ``files`` (or the demo graph on first launch) and run Qt."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if QApplication.instance() is None and (problem := platform_problem()) is not None:
        print(f"circuitdesk: {problem}", file=sys.stderr)  # instead of Qt's abort text
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CircuitDesk")
    app.setOrganizationName("CircuitDesk")
    app.setDesktopFileName("circuitdesk")
    window = MainWindow(QSettings())
    install_excepthook(window.show_error)
    window.show()
    long_lived.freeze()  # modules and the window stay for good: later collector passes skip them
    if files:
        QTimer.singleShot(0, lambda: window.open_file(files[0]))
    else:
        QTimer.singleShot(0, window.open_demo)
    return int(app.exec())
