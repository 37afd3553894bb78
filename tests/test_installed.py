"""What users install: the wheel holds the whole source tree, and an installed copy runs every
command the README shows and opens the window (issue 13).

The slow test builds the wheel, installs it non-editable (with its ``models`` and ``onnx``
extras) into a fresh venv and runs everything from a folder outside the source tree, so a
module or resource missing from the wheel fails here, as it would for a user.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("app", "graph", "models", "resources")
SUBCOMMANDS = ("info", "prune", "export", "trace", "intervene", "verify", "faithfulness",
               "export-onnx", "dashboards", "labels", "screenshot")


def _source_files() -> set[str]:
    out = set()
    for root in ROOTS:
        for f in (ROOT / root).rglob("*"):
            rel = f.relative_to(ROOT)
            if f.is_file() and "__pycache__" not in rel.parts and f.suffix not in {".pyc", ".pyo"}:
                out.add("circuitdesk/" + rel.as_posix())
    return out


def _build_wheel(out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return next(out.glob("circuitdesk-*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_every_source_and_resource_file(wheel: Path) -> None:
    names = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    expected = _source_files()
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)[:20]}"
    assert not names - expected, f"in the wheel but not the source: {sorted(names - expected)[:20]}"
    entry = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "circuitdesk = circuitdesk.app.cli:main" in text


# ------------------------------------------------------------------ the installed copy


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv with the wheel installed as a user would: ``pip install "wheel[models,onnx]"``."""
    home = tmp_path_factory.mktemp("installed")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    result = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", f"{wheel}[models,onnx]"],
        capture_output=True, text=True, timeout=1800, cwd=home)
    assert result.returncode == 0, result.stderr[-3000:]
    site = subprocess.run(
        [str(bindir / "python"), "-c", "import circuitdesk.resources as r, os; "
         "print(os.path.dirname(r.__file__))"], capture_output=True, text=True, cwd=home)
    resources = Path(site.stdout.strip())
    assert resources.is_dir() and ROOT not in resources.parents, site.stdout + site.stderr
    work = home / "work"
    work.mkdir()
    return {"bin": bindir, "demo": resources / "demo", "work": work}


def _run(inst: dict[str, Path], args: list[str], timeout: int = 600
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(inst["work"]), HF_HUB_OFFLINE="1")
    exe = inst["bin"] / args[0]
    return subprocess.run([str(exe), *args[1:]], capture_output=True, text=True,
                          timeout=timeout, cwd=inst["work"], env=env)


def readme_commands() -> list[str]:
    """The lines of the README's "On the command line" block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("**On the command line**", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()
            if line.strip().startswith("circuitdesk ")]


def concrete(line: str, demo: Path) -> list[str]:
    """A README line with its placeholders filled in for the bundled demo."""
    line = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1), line)  # use the optional parts too
    line = re.sub(r"(--[\w-]+) (\w+)(\|[\w:-]+)+", r"\1 \2", line)  # first of the alternatives
    words = shlex.split(line)
    subs = {"graph.json": demo / "graphs" / "capital-france_plt.json",
            "graph.pt": demo / "graphs" / "capital-france_plt.pt",
            "TEXT": "The capital of France is", "X": "0.8", "Y": "0.98",
            "corpus.txt": demo / "corpus.txt"}
    out: list[str] = []
    for prev, word in zip([""] + words, words):
        if word == "DIR":
            word = str(demo / ("model" if prev == "--model" else "transcoders-plt"))
        out.append(str(subs.get(word, word)))
    return out


@pytest.mark.slow
def test_every_readme_command_runs_on_the_installed_demo(installed: dict[str, Path]) -> None:
    lines = readme_commands()
    assert {shlex.split(line)[1] for line in lines} == set(SUBCOMMANDS), lines
    demo = installed["demo"]
    # the README's --session example: a graph JSON with qParams is a session
    (installed["work"] / "session.json").write_bytes(
        (demo / "graphs" / "capital-france_plt.json").read_bytes())
    (installed["work"] / "labels.csv").write_text("layer,feature,label\n1,10,of\n")
    for line in lines:
        result = _run(installed, concrete(line, demo))
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, f"{line}\n{result.stderr[-3000:]}"
        if "--json" in line.split() and "-o" not in line.split() and " --json g." not in line:
            json.loads(result.stdout)  # machine-readable output is exactly JSON
    for name in ("fig.svg", "fig.png", "pruned.json", "g.pt", "g.json", "model.onnx",
                 "dashboards.sqlite", "shot.png", "shot.json"):
        assert (installed["work"] / name).stat().st_size > 0, name


@pytest.mark.slow
def test_installed_help_and_bad_input(installed: dict[str, Path]) -> None:
    result = _run(installed, ["circuitdesk", "--help"])
    assert result.returncode == 0 and all(c in result.stdout for c in SUBCOMMANDS), result.stderr
    for command in SUBCOMMANDS:
        result = _run(installed, ["circuitdesk", command, "--help"])
        assert result.returncode == 0 and "usage:" in result.stdout, (command, result.stderr)
    (installed["work"] / "broken.json").write_text('{"nodes": [')
    result = _run(installed, ["circuitdesk", "info", "broken.json"])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "broken.json" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_installed_window_draws_the_demo(installed: dict[str, Path]) -> None:
    script = ROOT / "tests" / "installed" / "window_smoke.py"
    result = _run(installed, ["python", str(script), str(installed["work"])], timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["logits"] >= 1 and report["logits_drawn"] == report["logits"], report
    assert not any(str(ROOT) in p for p in report["package"]), report
