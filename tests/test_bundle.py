"""The desktop bundle (issue 20): built from the spec, unpacked from its archive, it runs with no
Python and no torch, and holds every module of ours.

The slow tests build the bundle once (packaging/bundle_build.py, PyInstaller from the dev
install), unpack the ``.tar.gz`` into a fresh folder and run the frozen ``circuitdesk`` from a
folder outside the source tree with a scratch HOME, as a user who downloaded it would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))
import bundle_build
from bundle_launcher import CHECK_VARIABLE, SUBPACKAGES

pytest.importorskip("PyInstaller", reason="the dev extra pins PyInstaller")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the test unpacks the Linux .tar.gz")]

SUBCOMMANDS = ("info", "prune", "export", "trace", "intervene", "verify", "faithfulness",
               "export-onnx", "dashboards", "labels", "screenshot")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundle built in a temporary folder, then unpacked from its archive elsewhere."""
    build = tmp_path_factory.mktemp("bundle-build")
    summary = bundle_build.build(build / "dist", build / "work")
    home = tmp_path_factory.mktemp("bundle-user")
    with tarfile.open(str(summary["archive"])) as tar:
        tar.extractall(home / "unpacked", filter="tar")
    for report in ("build_log", "warn_file"):
        shutil.copy2(str(summary[report]), home / Path(str(summary[report])).name)
    shutil.rmtree(build)  # about 350 MB: the frozen folder, its archive, PyInstaller's work
    folder = home / "unpacked" / "circuitdesk"
    (home / "home").mkdir()
    (home / "work").mkdir()
    return {"folder": folder, "exe": folder / "circuitdesk", "home": home / "home",
            "work": home / "work", "log": home / "build-log.txt",
            "warn": home / "warn-circuitdesk.txt",
            "demo": folder / "_internal" / "circuitdesk" / "resources" / "demo"}


def run(bundle: dict[str, Path], args: list[str], check: str = "", timeout: int = 300
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_", "XDG_", CHECK_VARIABLE))}
    env.update(HOME=str(bundle["home"]), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1",
               PATH="/usr/bin:/bin")
    if check:
        env[CHECK_VARIABLE] = check
    return subprocess.run([str(bundle["exe"]), *args], check=False, capture_output=True, text=True,
                          timeout=timeout, cwd=bundle["work"], env=env)


def test_build_log_misses_none_of_our_modules(bundle: dict[str, Path]) -> None:
    log = bundle["log"].read_text()
    warn = bundle["warn"].read_text()
    assert "missing module named" in warn  # the file we read is PyInstaller's real report
    ours = [line for line in warn.splitlines()
            if line.startswith("missing module named") and "circuitdesk" in line.split(" - ")[0]]
    assert not ours, ours
    assert "circuitdesk" not in "".join(
        line for line in log.splitlines() if "not found" in line and "Hidden import" in line)
    assert bundle_build.missing_modules_of_ours(
        "", bundle["warn"]) == []


def test_bundle_holds_the_app_and_no_torch(bundle: dict[str, Path]) -> None:
    folder = bundle["folder"]
    for name in ("circuitdesk", "install.sh", "circuitdesk.desktop", "circuitdesk.svg",
                 "README-BUNDLE.txt"):
        assert (folder / name).is_file(), name
    internal = folder / "_internal"
    assert not (internal / "torch").exists() and not (internal / "transformers").exists()
    assert (internal / "onnxruntime").is_dir() and (internal / "tokenizers").is_dir()
    assert sorted(p.name for p in bundle["demo"].glob("*.onnx")) == [
        "transcoders-clt.onnx", "transcoders-plt.onnx"]
    assert "libxcb-icccm4" in (folder / "README-BUNDLE.txt").read_text()  # the apt line
    assert not list(internal.rglob("__pycache__")) and not (internal / "tests").exists()


def test_frozen_app_imports_every_subpackage_and_opens_the_demo_model(bundle: dict[str, Path]) -> None:
    result = run(bundle, [], check="imports")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frozen"] and report["torch_absent"], report
    assert report["imports"] == {name: "ok" for name in SUBPACKAGES}, report
    assert report["demo_backend"] == "onnx", report  # the Verify panel's model, without torch
    assert result.returncode == 0, result.stderr[-3000:]


def test_frozen_help_names_every_command_and_the_full_install(bundle: dict[str, Path]) -> None:
    result = run(bundle, ["--help"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(c in result.stdout for c in SUBCOMMANDS), result.stdout
    assert "holds no" in result.stdout and 'pip install ".[models,onnx]"' in result.stdout


def test_frozen_info_and_verify_on_the_demo(bundle: dict[str, Path]) -> None:
    graph = bundle["demo"] / "graphs" / "capital-france_plt.json"
    result = run(bundle, ["info", str(graph), "--json"])
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout)
    assert info["nodes"] > 0 and info["feature_types"]["logit"] >= 1, info
    result = run(bundle, ["verify", str(graph), "--onnx",
                          str(bundle["demo"] / "transcoders-plt.onnx"), "--json"])
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["summary"]["n"] == len(report["results"]) > 0, report["summary"]
    assert report["summary"]["correlation"] is not None, report["summary"]


def test_frozen_app_opens_engine_pt_graphs_without_torch(bundle: dict[str, Path]) -> None:
    """No torch in the bundle: .pt graphs go through our own restricted unpickler."""
    result = run(bundle, ["info", str(bundle["demo"] / "graphs" / "capital-france_plt.pt"),
                          "--json"])
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert json.loads(result.stdout)["nodes"] > 0


def test_frozen_window_draws_the_demo(bundle: dict[str, Path]) -> None:
    result = run(bundle, [], check="drawn")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["logits"] >= 1 and report["logits_drawn"] == report["logits"], report
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def test_install_sh_registers_and_removes_the_desktop_entry(bundle: dict[str, Path]) -> None:
    env = {"HOME": str(bundle["home"]), "PATH": "/usr/bin:/bin"}
    script = str(bundle["folder"] / "install.sh")
    result = subprocess.run([script], check=False, capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    data = bundle["home"] / ".local" / "share"
    entry = (data / "applications" / "circuitdesk.desktop").read_text()
    assert f'Exec="{bundle["exe"]}" %F' in entry and "Icon=circuitdesk" in entry, entry
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "circuitdesk.svg").is_file()
    result = subprocess.run([script, "--uninstall"], check=False, capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not (data / "applications" / "circuitdesk.desktop").exists()
