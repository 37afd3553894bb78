"""Package-level guarantees: import contracts, no Qt below app/, no torch at start-up, wheel layout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("app", "graph", "models", "resources")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT.parent, timeout=300)


def test_import_contracts(tmp_path: Path) -> None:
    """import-linter on a mirror tree: grimp cannot follow the editable install's mapping."""
    pkg = tmp_path / "circuitdesk"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in SUBPACKAGES:
        (pkg / name).symlink_to(ROOT / name, target_is_directory=True)
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_graph_and_models_import_without_qt() -> None:
    code = """
import importlib, pkgutil, sys
for name in ("PySide6", "pyqtgraph", "superqt"):
    sys.modules[name] = None  # any import of them now raises ImportError
import circuitdesk.graph, circuitdesk.models
for pkg in (circuitdesk.graph, circuitdesk.models):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
print("ok")
"""
    result = _run(code)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_startup_never_imports_torch() -> None:
    code = """
import sys
import circuitdesk.app.cli, circuitdesk.app.window, circuitdesk.graph.io.load
from circuitdesk.app.cli import build_parser
build_parser()
from circuitdesk.graph import load_graph
load_graph(sys.argv[1] if len(sys.argv) > 1 else %r)
print("torch" in sys.modules)
""" % str(ROOT / "tests" / "data" / "gemma-2-2b_dallas-austin_circuit-tracer-legacy.json")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_wheel_has_no_top_level_app_graph_models(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("circuitdesk-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"app", "graph", "models", "resources", "tests", "benchmarks"}, tops
    assert {"circuitdesk/graph/model.py", "circuitdesk/app/cli.py",
            "circuitdesk/resources/circuitdesk.svg"} <= set(names)
    top_level = [n for n in names if n.endswith("top_level.txt")]
    if top_level:
        text = zipfile.ZipFile(wheel).read(top_level[0]).decode()
        assert text.split() == ["circuitdesk"]


@pytest.mark.slow
def test_non_gui_suite_passes_without_pyside6() -> None:
    """`pytest -m "not gui"` must not need Qt: run it with PySide6 made unimportable."""
    code = f"""
import sys
for name in ("PySide6", "pyqtgraph", "superqt"):
    sys.modules[name] = None
import pytest
code = pytest.main(["-q", "-x", "-m", "not gui and not slow", "-p", "no:pytest-qt",
                    "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestConfigWarning",
                    {str(ROOT / "tests")!r}])
print("PySide6 imported:", sys.modules.get("PySide6") is not None)
sys.exit(int(code))
"""
    result = _run(code)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "PySide6 imported: False" in result.stdout


def test_graph_and_models_pass_strict_mypy(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    pkg = tmp_path / "circuitdesk"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for part in ("graph", "models"):
        (pkg / part).symlink_to(ROOT / part, target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / ".mypy_cache"), "-p", "circuitdesk.graph",
         "-p", "circuitdesk.models"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout[-3000:]
