"""Entry point of the frozen CircuitDesk: the ``circuitdesk`` command, as pip installs it.

PyInstaller freezes this script (packaging/circuitdesk.spec). It runs ``circuitdesk.app.cli``
with one addition: ``--help`` ends with a note on what the bundle leaves out (torch) and where
the full install is. The same file also runs unfrozen, with any Python that has circuitdesk
installed, which is how benchmarks/bench_bundle_startup.py times the pip-installed app with
exactly the code it times frozen.

Two checks, for tests and the start-up benchmark only, are chosen by the environment variable
``CIRCUITDESK_BUNDLE_CHECK`` (a variable, not an option, so the command line stays the
app's own):

- ``imports``: import every subpackage that the bundle must hold, and open the demo graph's
  model as the Verify panel does (which backend: "onnx" without torch); print one JSON line,
  exit 0 when all imported and the model opened;
- ``drawn``: start the app as a user does (no argument: the window with the bundled demo
  graph), and once the demo graph's logit nodes are painted on the canvas print one JSON line
  and exit 0 (1 if loading failed or nothing was drawn within two minutes). Use it offscreen
  (``QT_QPA_PLATFORM=offscreen``) with ``HOME`` pointing at a scratch folder: the app keeps
  its settings there.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from typing import Any

CHECK_VARIABLE = "CIRCUITDESK_BUNDLE_CHECK"

SUBPACKAGES = (
    "circuitdesk.app", "circuitdesk.app.canvas", "circuitdesk.app.panels",
    "circuitdesk.app.commands", "circuitdesk.graph", "circuitdesk.graph.io",
    "circuitdesk.graph.analysis", "circuitdesk.graph.figure", "circuitdesk.models",
    "circuitdesk.models.onnx", "circuitdesk.models.onnx.backend", "circuitdesk.resources",
    "onnxruntime", "tokenizers",
)
"""What the frozen app must be able to import: ours, and the torch-free verification path."""

BUNDLE_NOTE = """\
This is the CircuitDesk desktop bundle: the window, info, prune, export, and intervene /
verify with an ONNX export (--onnx FILE; the bundled demo ships its exports). It holds no
torch (circuit-tracer .pt graphs open through CircuitDesk's own reader), so trace, export-onnx,
and verify / intervene with
--model and --transcoders need the full install, from a clone of the CircuitDesk repository:

    python3.11 -m venv .venv && .venv/bin/pip install ".[models,onnx]"

See README-BUNDLE.txt beside this program."""

LOGIT_RGB = (230, 145, 56)
"""Colour of logit nodes on the canvas (as tests/installed/window_smoke.py checks)."""


def _start_seconds() -> float:
    """Seconds since this process started, by the OS clock (Linux), else since this import."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            return float(uptime.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


_T0 = time.perf_counter() - _start_seconds()


def demo_backend() -> tuple[bool, str]:
    """Open the demo graph's model as the Verify panel does: (opened, backend name or error)."""
    try:
        from circuitdesk.graph import load_graph
        from circuitdesk.models.binding import graph_input_ids
        from circuitdesk.models.locate import demo_dir, find_model
        from circuitdesk.models.registry import open_backend

        graph = load_graph(demo_dir() / "graphs" / "capital-france_plt.json")
        model_dir, transcoders_dir = find_model(graph)
        backend = open_backend(None, model_dir=model_dir, transcoders_dir=transcoders_dir)
        graph_input_ids(backend, graph)
        return True, str(backend.name)
    except Exception as exc:  # noqa: BLE001 (reported, not hidden)
        return False, f"{type(exc).__name__}: {exc}"


def check_imports() -> int:
    """Import each of SUBPACKAGES and open the demo's model; print the results as one JSON
    line ({name: "ok" or the error}, and the demo's backend)."""
    results: dict[str, str] = {}
    for name in SUBPACKAGES:
        try:
            importlib.import_module(name)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 (reported, not hidden)
            results[name] = f"{type(exc).__name__}: {exc}"
    torch_absent = importlib.util.find_spec("torch") is None
    opened, backend = demo_backend()
    print(json.dumps({"frozen": bool(getattr(sys, "frozen", False)), "imports": results,
                      "torch_absent": torch_absent, "demo_backend": backend}))
    return 0 if opened and all(v == "ok" for v in results.values()) else 1


def _painted(image: Any, x: int, y: int, tol: int = 40) -> bool:
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            c = image.pixelColor(x + dx, y + dy)
            if all(abs(a - b) <= tol for a, b in zip((c.red(), c.green(), c.blue()), LOGIT_RGB)):
                return True
    return False


def _drawn_report(window: Any) -> dict[str, Any]:
    """How many of the open graph's logit nodes are visible and painted on the canvas."""
    from circuitdesk.graph import NodeKind

    graph = window.doc.graph
    canvas = window.canvas
    image = canvas.grab().toImage()
    logits = [int(i) for i in (graph.nodes.kind == NodeKind.LOGIT).nonzero()[0]]
    drawn = [i for i in logits if canvas.node_visible[i] and _painted(
        image, round(canvas.view_point(i).x()), round(canvas.view_point(i).y()))]
    return {"nodes": graph.n_nodes, "logits": len(logits), "logits_drawn": len(drawn),
            "title": window.windowTitle()}


def watch_until_drawn() -> None:
    """Create the QApplication the app will reuse, and exit it once the demo graph is drawn.

    The app itself (``cli.main`` with no argument) then builds the window and opens the demo,
    exactly as on a user's first launch; this only watches its signals.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])

    def finish(window: Any, report: dict[str, Any], code: int) -> None:
        report["seconds_in_process"] = round(time.perf_counter() - _T0, 3)
        print(json.dumps(report), flush=True)
        if window is not None:
            window.runner.shutdown()
        app.exit(code)

    def check(window: Any) -> None:
        if any(window.runner.is_running(kind) for kind in ("load", "prune")):
            QTimer.singleShot(20, lambda: check(window))
            return
        report = _drawn_report(window)
        finish(window, report, 0 if report["logits"] and
               report["logits_drawn"] == report["logits"] else 1)

    def attach() -> None:
        window = next((w for w in app.topLevelWidgets() if hasattr(w, "graph_loaded")), None)
        if window is None:
            finish(None, {"error": "no main window"}, 1)
            return
        window.graph_loaded.connect(lambda _path: QTimer.singleShot(0, lambda: check(window)))
        window.load_failed.connect(lambda message: finish(window, {"error": message}, 1))

    QTimer.singleShot(0, attach)  # queued before the app's own open_demo
    QTimer.singleShot(120_000, lambda: finish(None, {"error": "timed out"}, 1))


def _with_bundle_note(build: Any) -> Any:
    def build_parser() -> argparse.ArgumentParser:
        parser = build()
        parser.epilog = BUNDLE_NOTE
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser
    return build_parser


def main() -> int:
    check = os.environ.get(CHECK_VARIABLE, "")
    if check == "imports":
        return check_imports()
    from circuitdesk.app import cli

    if getattr(sys, "frozen", False):
        cli.build_parser = _with_bundle_note(cli.build_parser)
    if check == "drawn":
        watch_until_drawn()
        return cli.main([])
    if check:
        print(f"circuitdesk: unknown {CHECK_VARIABLE}={check!r}", file=sys.stderr)
        return 2
    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
