"""Build the one-folder desktop bundle and its archive: ``python packaging/bundle_build.py``.

packaging/build.sh runs this with a Python that has ``.[bundle]`` installed. It runs PyInstaller
on packaging/circuitdesk.spec, refuses the result when PyInstaller could not find one of our
modules, packs the folder (Linux: ``.tar.gz``; Windows, macOS: ``.zip``) and prints what it
built and how big it is. The whole log goes to ``build-log.txt`` beside the archive, and the
numbers to ``bundle-summary.json``.

Nothing is downloaded: PyInstaller and everything frozen come from the running environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "packaging" / "circuitdesk.spec"
NAME = "circuitdesk"

_MISSING = re.compile(r"^missing module named '?(circuitdesk[\w.]*)'?", re.MULTILINE)
_NOT_FOUND = re.compile(r"Hidden import '?\"?(circuitdesk[\w.]*)'?\"? not found")


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (symbolic links count once, as files)."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def missing_modules_of_ours(log: str, warn_file: Path) -> list[str]:
    """Our modules that PyInstaller reported missing, in its warn file or its log."""
    text = warn_file.read_text(encoding="utf-8") if warn_file.is_file() else ""
    found = set(_MISSING.findall(text)) | set(_NOT_FOUND.findall(log))
    return sorted(found)


def archive_name() -> str:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    system = "linux" if system.startswith("linux") else system
    return f"{NAME}-{version}-{system}-{platform.machine().lower()}"


def pack(folder: Path, out: Path) -> Path:
    """The folder as one archive (``circuitdesk/`` at its top), next to it in ``out``."""
    if sys.platform.startswith("linux"):
        target = out / f"{archive_name()}.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=6) as tar:
            tar.add(folder, arcname=NAME)
        return target
    return Path(shutil.make_archive(str(out / archive_name()), "zip", folder.parent, NAME))


def run_pyinstaller(out: Path, work: Path, log_path: Path) -> int:
    """PyInstaller on the spec; its whole output goes to ``log_path``."""
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
               "--distpath", str(out), "--workpath", str(work), str(SPEC)]
    with open(log_path, "w", encoding="utf-8") as log:
        return subprocess.run(command, check=False, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}).returncode


def build(out: Path, work: Path, archive: bool = True) -> dict[str, object]:
    """Build the bundle into ``out/circuitdesk`` and return what was built (raises on failure)."""
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "build-log.txt"
    t0 = time.perf_counter()
    code = run_pyinstaller(out, work, log_path)
    log = log_path.read_text(encoding="utf-8")
    if code != 0:
        raise SystemExit(f"bundle_build: PyInstaller failed (status {code}); the end of "
                         f"{log_path}:\n{log[-4000:]}")
    missing = missing_modules_of_ours(log, work / NAME / f"warn-{NAME}.txt")
    if missing:
        raise SystemExit(f"bundle_build: PyInstaller could not find our modules {missing}; "
                         f"see {log_path}")
    folder = out / NAME
    executable = folder / (NAME + (".exe" if os.name == "nt" else ""))
    summary: dict[str, object] = {
        "folder": str(folder), "executable": str(executable),
        "unpacked_bytes": folder_bytes(folder),
        "freeze_seconds": round(time.perf_counter() - t0, 1),
        "build_log": str(log_path), "warn_file": str(work / NAME / f"warn-{NAME}.txt"),
    }
    if archive:
        t1 = time.perf_counter()
        target = pack(folder, out)
        summary.update(archive=str(target), archive_bytes=target.stat().st_size,
                       pack_seconds=round(time.perf_counter() - t1, 1))
    (out / "bundle-summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="where the folder and the archive go (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "bundle",
                        help="PyInstaller's work folder (default: build/bundle/)")
    parser.add_argument("--no-archive", action="store_true", help="build the folder only")
    args = parser.parse_args(argv)
    summary = build(args.out.resolve(), args.work.resolve(), archive=not args.no_archive)
    mib = 2 ** 20
    print(f"bundle: {summary['folder']} ({summary['unpacked_bytes'] / mib:.0f} MiB unpacked, "
          f"frozen in {summary['freeze_seconds']} s)")
    if "archive" in summary:
        print(f"archive: {summary['archive']} ({int(summary['archive_bytes']) / mib:.0f} MiB)")
    print(f"run: {summary['executable']} --help")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
