"""Start-up of the frozen desktop bundle against the pip-installed app, in one run (issue 20).

    python benchmarks/bench_bundle_startup.py [--bundle DIST/circuitdesk] [--rounds 5]

Without ``--bundle`` it first builds the bundle (and its archive) into a temporary folder with
packaging/bundle_build.py. Each round starts both apps offscreen, alternately, to the moment
the bundled demo graph is drawn (its logit nodes painted on the canvas): the frozen
``circuitdesk``, and this Python running the same launcher (packaging/bundle_launcher.py, with
``CIRCUITDESK_BUNDLE_CHECK=drawn``) on the circuitdesk installed here. The time is the wall
clock from starting the process to reading its "drawn" line. One warm-up start of each is not
counted. Prints the median of each, the ratio (goal: frozen at most 1.5x the pip app) and the
bundle's size (goal: at most 300 MB unpacked).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))
import bundle_build
from bundle_launcher import CHECK_VARIABLE

LAUNCHER = ROOT / "packaging" / "bundle_launcher.py"


def time_to_drawn(command: list[str], home: Path) -> float:
    """Seconds from starting ``command`` to its "drawn" JSON line (raises if not drawn)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_"))}
    env.update({CHECK_VARIABLE: "drawn", "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)})
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=home)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    seconds = time.perf_counter() - t0
    proc.communicate(timeout=120)
    report = json.loads(line)
    if proc.returncode != 0 or report.get("logits_drawn", 0) < 1:
        raise RuntimeError(f"{command[0]}: not drawn: {report}")
    return seconds


def measure(frozen: Path, rounds: int, scratch: Path) -> dict[str, list[float]]:
    commands = {"pip": [sys.executable, str(LAUNCHER)], "frozen": [str(frozen)]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for name, command in commands.items():
        (scratch / name).mkdir(exist_ok=True)
        time_to_drawn(command, scratch / name)  # warm-up: disk cache, first-launch settings
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(time_to_drawn(command, scratch / name))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a built bundle folder (dist/circuitdesk)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        scratch = Path(tmp)
        folder = args.bundle
        archive_bytes = None
        if folder is None:
            t0 = time.perf_counter()
            summary = bundle_build.build(scratch / "dist", scratch / "work")
            print(f"built the bundle in {time.perf_counter() - t0:.0f} s")
            folder = Path(str(summary["folder"]))
            archive_bytes = int(summary["archive_bytes"])
        times = measure(folder / "circuitdesk", args.rounds, scratch)
        mib = 2 ** 20
        size = bundle_build.folder_bytes(folder)
        print(f"size: {size / mib:.0f} MiB ({size / 1e6:.0f} MB) unpacked"
              + (f", archive {archive_bytes / mib:.0f} MiB" if archive_bytes else ""))
    pip, frozen = statistics.median(times["pip"]), statistics.median(times["frozen"])
    for name, values in times.items():
        print(f"{name:>6}: median {statistics.median(values):.2f} s to a drawn demo graph "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"ratio frozen / pip: {frozen / pip:.2f}x (goal: at most 1.5x)")


if __name__ == "__main__":
    main()
