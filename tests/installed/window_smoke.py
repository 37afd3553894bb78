"""Open the installed app's window offscreen on the bundled demo and check it was drawn.

Run by tests/test_installed.py with the python of a venv that holds the installed wheel,
from a folder outside the source tree. Prints one JSON line; exit status 0 when the demo
graph was opened and its logit nodes are painted on the canvas.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import circuitdesk  # noqa: E402
from circuitdesk.app.window import MainWindow  # noqa: E402
from circuitdesk.graph import NodeKind  # noqa: E402

LOGIT_RGB = (230, 145, 56)


def painted(image, x: int, y: int, rgb: tuple[int, int, int], tol: int = 40) -> bool:
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            c = image.pixelColor(x + dx, y + dy)
            if all(abs(a - b) <= tol for a, b in zip((c.red(), c.green(), c.blue()), rgb)):
                return True
    return False


def main() -> int:
    work = Path(sys.argv[1])
    app = QApplication([])
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("autosave_dir", str(work / "autosave"))
    settings.setValue("ask_before_quit", False)
    window = MainWindow(settings)
    window.resize(1600, 1000)
    window.show()
    report: dict[str, object] = {"package": list(circuitdesk.__path__)}

    def check() -> None:
        if any(window.runner.is_running(k) for k in ("load", "prune")):
            QTimer.singleShot(50, check)
            return
        graph = window.doc.graph
        image = window.canvas.grab().toImage()
        logits = [int(i) for i in (graph.nodes.kind == NodeKind.LOGIT).nonzero()[0]]
        drawn = [i for i in logits if window.canvas.node_visible[i] and painted(
            image, round(window.canvas.view_point(i).x()), round(window.canvas.view_point(i).y()),
            LOGIT_RGB)]
        report.update(nodes=graph.n_nodes, logits=len(logits), logits_drawn=len(drawn),
                      title=window.windowTitle())
        app.exit(0 if logits and len(drawn) == len(logits) else 1)

    window.graph_loaded.connect(lambda _path: QTimer.singleShot(0, check))
    window.load_failed.connect(lambda message: (report.update(error=message), app.exit(1)))
    QTimer.singleShot(0, window.open_demo)
    QTimer.singleShot(120_000, lambda: (report.update(error="timed out"), app.exit(1)))
    code = app.exec()
    window.runner.shutdown()
    print(json.dumps(report))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
