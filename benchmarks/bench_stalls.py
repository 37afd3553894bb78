"""GUI-thread stalls while a big circuit-tracer ``.pt`` is opened by a fresh window (as at
launch: the plots are built on the way), reopened, pruned, clicked and hovered, measured with a
heartbeat timer in the same run; and first-sight start-up.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_stalls.py [--nodes 10000] [--startup] [--why]
        [--model] [--no-freeze]

A 5 ms QTimer runs on the GUI thread for the whole sequence; the longest gap between two of
its ticks during each phase is the longest time the window could not repaint or answer input
(goal: under 100 ms). ``--model`` opens the demo model first, as a researcher's first
verification does (torch and transformers imported); ``--no-freeze`` leaves out the app's
garbage-collector freeze (app/long_lived.py), the baseline for it. ``--startup`` also times, in
fresh processes, the main window showing the demo graph against a bare PySide6 window (goal: at
most 3x). ``bench_canvas.py`` runs this too.
The .pt is written once from the engine-shaped synthetic graph of bench_prune.py into a
temporary folder, with the config class pickled under the engine's name (as test_pt_io does).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
TEMPLATE = HERE.parent / "tests" / "data" / "ct050_small.pt"


def write_pt(path: Path, n: int, n_layers: int = 16, n_pos: int = 40) -> None:
    """An engine-layout .pt of ``n`` nodes (template fields, synthetic dense graph)."""
    import torch
    from bench_prune import synthetic
    from circuitdesk.graph.io.pt_io import _torch_load

    data = synthetic(n, n_layers, n_pos)
    d = _torch_load(torch, TEMPLATE)
    d.update(adjacency_matrix=torch.from_numpy(data.adjacency),
             active_features=torch.from_numpy(data.active_features),
             activation_values=torch.from_numpy(data.activation_values),
             selected_features=torch.from_numpy(data.selected_features),
             input_tokens=torch.from_numpy(data.input_tokens),
             logit_probabilities=torch.from_numpy(data.logit_probabilities),
             logit_targets=torch.tensor(data.logit_tokens))
    engine = types.ModuleType("circuit_tracer.utils.tl_nnsight_mapping")
    config_cls = type("UnifiedConfig", (), {"__module__": engine.__name__})
    engine.UnifiedConfig = config_cls  # type: ignore[attr-defined]
    for parent in ("circuit_tracer", "circuit_tracer.utils"):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    sys.modules[engine.__name__] = engine
    cfg = config_cls()
    cfg.__dict__.update(d["cfg"].__dict__)
    cfg.__dict__.update(n_layers=n_layers, tokenizer_name=None)
    d["cfg"] = cfg
    torch.save(d, path)


class Heartbeat:
    """Longest gap between ticks of a 5 ms timer on the GUI thread, per named phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()
        self.gap = 0.0
        self.gap_cpu = 0.0
        self.gap_at = (0.0, 0.0)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if now - self.last > self.gap:
            self.gap, self.gap_at = now - self.last, (self.last, now)
            self.gap_cpu = cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu

    def start_phase(self) -> None:
        self.last, self.gap, self.gap_cpu = time.perf_counter(), 0.0, 0.0
        self.last_cpu = time.thread_time()
        self.timer.start()

    def end_phase(self) -> float:
        self._tick()
        self.timer.stop()
        return self.gap


class StallSampler:
    """What the GUI thread was running while the heartbeat was late (``--why``).

    A daemon thread looks every 10 ms; once the last tick is over 50 ms old it records the GUI
    thread's innermost frames of our package (or the innermost frame when none is ours), so each
    phase can print where its long gaps were spent. It needs the GIL to look, so a C call that
    holds the GIL shows up as the frame that was waiting when the GIL came back.
    """

    def __init__(self, beat: Heartbeat) -> None:
        import threading

        self.beat, self.samples = beat, list[tuple[float, str]]()
        self.gui = threading.get_ident()
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import threading

        while not self._stop.wait(0.01):
            if self.beat.timer.isActive() and time.perf_counter() - self.beat.last > 0.05:
                frames = sys._current_frames()
                frame = frames.pop(self.gui, None)
                if frame is None:
                    continue
                where = _where(frame)
                if where.startswith(Path(__file__).name):
                    # the GUI thread is inside Qt's event loop: Qt's own C++ work, or it waits for
                    # the GIL that a worker holds; name the busy workers
                    busy = [_where(f) for t, f in frames.items()
                            if t != threading.get_ident() and f.f_code.co_name not in IDLE]
                    where = "Qt event loop; workers: " + (" | ".join(busy) or "none")
                self.samples.append((time.perf_counter(), where))

    def take(self) -> list[tuple[str, int]]:
        """Where the GUI thread was during the phase's longest gap, most samples first."""
        start, end = self.beat.gap_at
        hits = collections.Counter(w for t, w in self.samples if start <= t <= end + 0.02)
        self.samples = []
        return hits.most_common(8)

    def stop(self) -> None:
        self._stop.set()


def held(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(seconds ``fn`` took, longest wait of a 2 ms heartbeat thread meanwhile, result): how long
    ``fn`` held the GIL at a time, without Qt (bench_load, bench_token_strings)."""
    gaps: list[float] = []
    stop = threading.Event()

    def beat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    t = threading.Thread(target=beat)
    t.start()
    t0 = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t0
    stop.set()
    t.join()
    return took, max(gaps, default=0.0), out


class GcPasses:
    """Longest pass of Python's cyclic garbage collector since the last :meth:`take`.

    A full pass holds the GIL while it walks every tracked object, so it stalls the GUI thread
    whichever thread set it off (app/long_lived.py)."""

    def __init__(self) -> None:
        self.started, self.longest = 0.0, 0.0
        gc.callbacks.append(self._on_pass)

    def _on_pass(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self.started)

    def take(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest

    def stop(self) -> None:
        gc.callbacks.remove(self._on_pass)


def open_demo_model(window: object) -> None:
    """Open the demo graph and its model the way the verify panel does (imports the model
    stack, then the app freezes what is alive: app/long_lived.py)."""
    from PySide6.QtCore import QEventLoop, QTimer

    window.open_demo()  # type: ignore[attr-defined]
    wait_for(window.graph_loaded)  # type: ignore[attr-defined]
    loop = QEventLoop()
    got: list[object] = []
    window.with_backend(lambda backend, ids: (got.append(backend), loop.quit()),  # type: ignore[attr-defined]
                        lambda reason: (got.append(reason), loop.quit()))
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    if not got or isinstance(got[0], str):
        raise SystemExit(f"the demo model did not open: {got}")
    import torch  # noqa: F401 - imported by the backend already; asserts the premise
    print(f"demo model open ({type(got[0]).__name__}); {len(sys.modules)} modules imported")


IDLE = {"wait", "_wait_for_tstate_lock", "get", "select", "accept", "poll", "run", "_run"}
OURS = ("circuitdesk", "/app/", "/graph/", "/models/")


def _where(frame: types.FrameType) -> str:
    """The innermost three frames in circuitdesk (else the innermost frame), as file:line."""
    ours, f = [], frame
    while f is not None and len(ours) < 3:
        if any(part in f.f_code.co_filename for part in OURS):
            ours.append(f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}")
        f = f.f_back
    if not ours:
        ours = [f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"]
    return " < ".join(ours)


def wait_for(signal: object, limit_ms: int = 600_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    QTimer.singleShot(limit_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)  # type: ignore[attr-defined]


def settle(ms: int = 400) -> None:
    """Let queued work (edge images, throttled handlers) run while the heartbeat watches."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def stalls(n: int, why: bool = False, model: bool = False
           ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per phase: the longest heartbeat gap, the GUI thread's own CPU time within it (far
    below the gap: the thread waited for the GIL or for a core, not on its own work), and the
    longest garbage-collector pass. ``model``: the demo model is opened first, so torch and
    transformers are imported, as after a researcher's first verification."""
    from circuitdesk.app import long_lived
    from circuitdesk.app.window import MainWindow
    from circuitdesk.graph import document as cmd
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out: dict[str, float] = {}
    cpu: dict[str, float] = {}
    gc_ms: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / f"big_{n}.pt"
        t0 = time.perf_counter()
        # in a child: importing torch here made each collector pass 5x longer (see GcPasses)
        subprocess.run([sys.executable, __file__, "--write-pt", str(pt), str(n)], check=True)
        print(f"wrote {pt.name}: {pt.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s")
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("autosave_dir", str(Path(tmp) / "autosave"))
        window = MainWindow(settings)
        window.resize(1600, 1000)
        window.show()
        long_lived.freeze()  # as run_app does
        if model:
            open_demo_model(window)
        t0 = time.perf_counter()
        gc.collect()  # what each full pass that comes on its own costs the GUI thread
        print(f"one full collector pass now: {(time.perf_counter() - t0) * 1e3:.0f} ms "
              f"({len(gc.get_objects())} objects in its sight)")
        beat = Heartbeat()
        passes = GcPasses()
        sampler = StallSampler(beat) if why else None

        def start() -> None:
            passes.take()  # passes before the phase are not its own
            beat.start_phase()

        def end(phase: str) -> None:
            out[phase] = beat.end_phase()
            cpu[phase] = beat.gap_cpu
            gc_ms[phase] = passes.take()
            for where, hits in sampler.take() if sampler else ():
                print(f"    {phase}, longest gap: ~{hits * 10} ms in {where}")

        # "launch": the first graph of a fresh window, as `circuitdesk big.pt` opens it (the
        # sketch, pyqtgraph imported by the load's worker, the plots built, the graph drawn)
        first = "open" if window._plots_built else "launch"  # --model built the plots
        for phase in (first, "reopen"):
            start()
            t0 = time.perf_counter()
            window.open_file(str(pt))
            wait_for(window.graph_loaded)
            if window.runner.is_running("prune"):
                wait_for(window.pruned)
            settle()
            end(phase)
            print(f"{phase}: {time.perf_counter() - t0:.1f} s, {window.doc.graph.n_edges} links")
        doc = window.doc
        start()
        cmd.set_thresholds(doc, 0.6, 0.95)
        wait_for(window.pruned)
        settle()
        end("prune")
        visible = [int(i) for i in window.canvas.node_visible.nonzero()[0][:40]]
        start()
        cmd.click(doc, doc.graph.nodes.ids[visible[0]])
        settle()
        end("click")
        start()
        for row in visible:
            window.canvas.set_hovered(row)
            app.processEvents()  # one hover per event-loop turn, as the mouse would give
        settle()
        end("hover")
        window.close()
        passes.stop()
        if sampler:
            sampler.stop()
    return out, cpu, gc_ms


def startup(repeat: int = 3) -> tuple[float, float, float, float, float]:
    """Median seconds to a shown window: ours showing the demo graph's nodes (its first frame,
    before pyqtgraph is loaded), ours with the demo graph drawn in full, the longest GUI-thread
    gap between those two (heartbeat), a bare window, and the floor of a pyqtgraph window (a
    bare window holding one PlotWidget, numpy imported)."""
    # ours imports what the launcher imports, in its order (app/main.py), as run_app does
    ours = ("import os, time; t0=float(os.environ['CD_LAUNCH'])\n"
            "from circuitdesk.app.main import MainWindow\n"
            "from PySide6.QtWidgets import QApplication; app=QApplication([])\n"
            "from PySide6.QtCore import QSettings, QTimer\n"
            "import tempfile; d=tempfile.mkdtemp()\n"
            "w=MainWindow(QSettings(d+'/s.ini', QSettings.Format.IniFormat)); w.show()\n"
            "gaps=[0.0]; last=[0.0]; beat=QTimer(); beat.setInterval(5)\n"
            "def tick():\n"
            "    now=time.perf_counter(); gaps.append(now-last[0]); last[0]=now\n"
            "beat.timeout.connect(tick)\n"
            "def first(p):\n"
            "    print(time.time()-t0); last[0]=time.perf_counter(); beat.start()\n"
            "def full(p):\n"
            "    tick(); print(time.time()-t0); print(max(gaps)); app.quit()\n"
            "w.first_sight.connect(first); w.graph_loaded.connect(full)\n"
            "QTimer.singleShot(0, w.open_demo); app.exec()\n")
    bare = ("import os, time; t0=float(os.environ['CD_LAUNCH'])\n"
            "from PySide6.QtWidgets import QApplication, QMainWindow; app=QApplication([])\n"
            "from PySide6.QtCore import QTimer\n"
            "w=QMainWindow(); w.resize(1400, 900); w.show()\n"
            "QTimer.singleShot(0, lambda: (print(time.time()-t0), app.quit())); app.exec()\n")

    floor = ("import os, time; t0=float(os.environ['CD_LAUNCH'])\n"
             "from PySide6.QtWidgets import QApplication, QMainWindow; app=QApplication([])\n"
             "from PySide6.QtCore import QTimer\n"
             "import numpy, pyqtgraph as pg\n"
             "w=QMainWindow(); w.setCentralWidget(pg.PlotWidget()); w.resize(1400, 900); w.show()\n"
             "QTimer.singleShot(0, lambda: (print(time.time()-t0), app.quit())); app.exec()\n")

    def once(code: str) -> list[float]:
        """Each time the code prints, counted from the launch (interpreter start included,
        process exit not)."""
        env = dict(os.environ, CD_LAUNCH=repr(time.time()))
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, env=env).stdout.split()
        return [float(v) for v in out]

    # interleaved, so that a change in the machine's load falls on all three alike
    runs: list[list[list[float]]] = [[], [], []]
    for _ in range(repeat):
        for k, code in enumerate((ours, bare, floor)):
            runs[k].append(once(code))

    def median(k: int, i: int = 0) -> float:
        return sorted(r[i] for r in runs[k])[len(runs[k]) // 2]

    return median(0, 0), median(0, 1), median(0, 2), median(1), median(2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--startup", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="start-ups per side (median)")
    ap.add_argument("--why", action="store_true", help="print where the GUI thread was when late")
    ap.add_argument("--model", action="store_true",
                    help="open the demo model first (torch and transformers imported)")
    ap.add_argument("--no-freeze", action="store_true",
                    help="baseline: without the app's garbage-collector freeze")
    ap.add_argument("--write-pt", nargs=2, metavar=("PATH", "NODES"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_pt:
        write_pt(Path(args.write_pt[0]), int(args.write_pt[1]))
        return
    if args.no_freeze:
        from circuitdesk.app import long_lived

        long_lived.freeze = lambda: None  # every caller looks it up at call time
    print_stalls(args.nodes, args.why, args.model)
    if args.startup:
        print_startup(args.repeat)


def print_stalls(nodes: int, why: bool = False, model: bool = False) -> None:
    gaps, cpu, gc_ms = stalls(nodes, why, model)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other busy processes lengthen the gaps)")
    for phase, gap in gaps.items():
        print(f"longest GUI-thread gap while {phase:6}: {gap * 1e3:7.0f} ms (goal < 100 ms); "
              f"GUI-thread CPU in it: {cpu[phase] * 1e3:4.0f} ms; longest collector pass: "
              f"{gc_ms[phase] * 1e3:4.0f} ms")


def print_startup(repeat: int = 3) -> None:
    first, full, gap, bare, floor = startup(repeat)
    print(f"start-up to the demo graph's nodes on screen: {first:.2f} s; bare PySide6 window: "
          f"{bare:.2f} s; ratio {first / bare:.1f}x (goal <= 3x)")
    print(f"start-up to the demo graph drawn in full (edges, labels, the plots built): "
          f"{full:.2f} s ({full / bare:.1f}x); longest GUI-thread gap in between: "
          f"{gap * 1e3:.0f} ms; a bare window with one pyqtgraph PlotWidget: {floor:.2f} s "
          f"({floor / bare:.1f}x)")


if __name__ == "__main__":
    main()
