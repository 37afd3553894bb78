"""``circuitdesk screenshot GRAPH -o OUT.png``: the main window as a user sees it after opening.

The window is built offscreen at the given size, the graph is opened through the same
path as File ▸ Open, and the picture is taken once every background job (load, prune,
edge image) has finished: the command waits on the task runner's signals, never on a
timer. ``--report`` also writes what was drawn (nodes, labels, the canvas and subgraph
rectangles) in the PNG's pixel coordinates, so tests and docs can check legibility
with numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ...graph.errors import CircuitDeskError

WAIT_LIMIT_MS = 300_000
"""A job still running after this long is a hang: give up with an error, not a picture."""


def register(sub: Any) -> None:
    p = sub.add_parser("screenshot", help="render the main window offscreen to a PNG")
    p.add_argument("file", metavar="GRAPH")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--size", default="1600x1000", metavar="WxH")
    p.add_argument("--session", metavar="FILE", help="a session JSON whose qParams to apply")
    p.add_argument("--select", metavar="NODE_ID", help="click this node (its links highlighted)")
    p.add_argument("--pin", metavar="NODE_ID", action="append", default=[],
                   help="pin this node (repeatable)")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--report", metavar="OUT.json", help="also write what was drawn, as JSON")
    p.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m or not (200 <= int(m.group(1)) <= 8000 and 200 <= int(m.group(2)) <= 8000):
        raise CircuitDeskError(f"--size {text!r}: give WxH, each 200 to 8000 px (e.g. 1600x1000)")
    return int(m.group(1)), int(m.group(2))


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    if not Path(args.file).is_file():
        raise CircuitDeskError(f"{args.file}: no such file")
    for out in (args.output, args.report):
        if out and not Path(out).resolve().parent.is_dir():
            raise CircuitDeskError(f"{out}: its folder does not exist")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["circuitdesk"])
    with tempfile.TemporaryDirectory(prefix="circuitdesk-shot-") as tmp:
        return _shoot(app, args, size, Path(tmp))


def _shoot(app: Any, args: argparse.Namespace, size: tuple[int, int], tmp: Path) -> int:
    from PySide6.QtCore import QSettings

    from ..window import MainWindow

    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("autosave_dir", str(tmp / "autosave"))  # never touch the user's files
    settings.setValue("ask_before_quit", False)  # its pins are for the picture, not to keep
    window = MainWindow(settings)
    try:
        window.resize(*size)
        window.show()
        if args.theme == "dark":
            window.set_dark_theme(True)
        watcher = JobWatcher(window.runner)
        _open(app, window, args.file)
        _apply_view(window, args)
        watcher.wait_idle()
        image = grab(window)
        if not image.save(args.output, "PNG"):
            raise CircuitDeskError(f"{args.output}: could not write the PNG")
        if args.report:
            report = window_report(window)
            Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=1))
        print(f"wrote {args.output} ({image.width()}x{image.height()})")
        return 0
    finally:
        window.close()
        window.deleteLater()


class JobWatcher:
    """Knows which runner jobs were started and waits, on signals, until none is running."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.kinds: set[str] = set()
        runner.job_started.connect(self.kinds.add)

    def busy(self) -> bool:
        return any(self.runner.is_running(k) for k in self.kinds)

    def wait_idle(self) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        if not self.busy():
            return
        loop = QEventLoop()
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)

        def check(*_: object) -> None:
            if not self.busy():
                loop.quit()

        signals = (self.runner.job_finished, self.runner.job_failed, self.runner.job_cancelled)
        for sig in signals:
            sig.connect(check)
        timer.start(WAIT_LIMIT_MS)
        loop.exec()
        for sig in signals:
            sig.disconnect(check)
        if self.busy():
            raise CircuitDeskError("a background job did not finish; no screenshot taken")


def _open(app: Any, window: Any, path: str) -> None:
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    failed: list[str] = []
    window.graph_loaded.connect(lambda _p: loop.quit())
    window.load_failed.connect(lambda msg: (failed.append(msg), loop.quit()))
    window.open_file(path)
    loop.exec()
    if failed:
        raise CircuitDeskError(failed[0].splitlines()[0] if failed[0] else f"{path}: cannot open")


def _node_id(doc: Any, text: str) -> str:
    graph = doc.graph
    if graph.has_node(text):
        return text
    for ids in (graph.nodes.file_ids, graph.nodes.js_ids):
        if text in ids:
            return graph.nodes.ids[ids.index(text)]
    raise CircuitDeskError(f"node {text!r} is not in {doc.path.name if doc.path else 'the graph'}")


def _apply_view(window: Any, args: argparse.Namespace) -> None:
    from ...graph import document as cmd

    doc = window.doc
    if args.session:
        from .export import read_session

        doc.apply(read_session(args.session, doc.graph), "Open session")
    if args.pin:
        cmd.pin(doc, [_node_id(doc, p) for p in args.pin])
    if args.select:
        cmd.click(doc, _node_id(doc, args.select))


def grab(window: Any) -> Any:
    """The window's picture with the edge image rendered for exactly this view."""
    from PySide6.QtCore import QCoreApplication, QEvent

    # the last job's status text asked for a relayout that has not run yet: without it the
    # picture shows the counts clipped at the window edge, which the user never sees
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    canvas = window.canvas
    canvas.edge_layer.synchronous = True
    canvas.edge_layer.invalidate()  # drop a render in flight: it would skip this one
    canvas.refresh_view()
    window.subgraph.refresh_view()
    window.grab()  # the first paint renders the edge image for this view
    return window.grab().toImage()


def _rect_in(window: Any, widget: Any, rect: list[float]) -> list[float]:
    from PySide6.QtCore import QPoint

    o = widget.mapTo(window, QPoint(0, 0))
    return [round(rect[0] + o.x(), 1), round(rect[1] + o.y(), 1), round(rect[2], 1),
            round(rect[3], 1)]


def window_report(window: Any) -> dict[str, Any]:
    """What was drawn, in window (= PNG) pixels."""
    canvas, sub = window.canvas, window.subgraph
    drawn = canvas.drawn_report()
    sub_drawn = sub.drawn_report()

    def moved(widget: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**item, "rect": _rect_in(window, widget, item["rect"])} for item in items]

    visible = sub.isVisible()  # false when its dock is closed or behind another tab
    return {
        "window": [window.width(), window.height()],
        "canvas": _rect_in(window, canvas, drawn["canvas"]),
        "edges_drawn": int(canvas.edges_drawn),
        "nodes": moved(canvas, drawn["nodes"]),
        "labels": moved(canvas, drawn["labels"]),
        "subgraph": {
            "rect": _rect_in(window, sub, sub_drawn["canvas"]) if visible else None,
            "nodes": moved(sub, sub_drawn["nodes"]) if visible else [],
            "labels": moved(sub, sub_drawn["labels"]) if visible else [],
        },
        "status": [{"text": label.text(), "needs": label.sizeHint().width(),
                    "rect": _rect_in(window, label, [0, 0, label.width(), label.height()])}
                   for label in (window.prune_bar.scores, window.counts_label) if label.text()],
    }
