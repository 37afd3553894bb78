"""Package discovery that cannot miss a module.

The four code and resource folders sit at the top of the repository but install as
``circuitdesk.app``, ``circuitdesk.graph``, ``circuitdesk.models`` and
``circuitdesk.resources``. Every folder with an ``__init__.py`` below them is a package, and
every other file (icons, demo weights, JSON) ships as package data of the nearest package
above it. tests/test_packaging.py checks the built wheel against the source tree.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from setuptools import setup

ROOTS = ("app", "graph", "models", "resources")
HERE = Path(__file__).resolve().parent
SKIP = {"__pycache__"}


def _shipped(path: Path) -> bool:
    return not (SKIP & set(path.parts)) and path.suffix not in {".pyc", ".pyo"} and path.is_file()


def discover() -> tuple[list[str], dict[str, list[str]]]:
    """Packages (dotted names) and their data files (paths relative to the package)."""
    packages: list[str] = []
    data: dict[str, list[str]] = {}
    for root in ROOTS:
        for init in sorted((HERE / root).rglob("__init__.py")):
            if not SKIP & set(init.parts):
                packages.append(".".join(("circuitdesk", *init.parent.relative_to(HERE).parts)))
        for file in sorted((HERE / root).rglob("*")):
            if not _shipped(file.relative_to(HERE)) or file.suffix == ".py":
                continue
            owner = file.parent
            while not (owner / "__init__.py").exists():
                owner = owner.parent
            name = ".".join(("circuitdesk", *owner.relative_to(HERE).parts))
            data.setdefault(name, []).append(file.relative_to(owner).as_posix())
    return packages, data


PACKAGES, PACKAGE_DATA = discover()

# A fresh build folder each time: setuptools' in-tree build/lib keeps modules that were moved
# or deleted since the last build and ships them again.
BUILD_BASE = tempfile.mkdtemp(prefix="circuitdesk-build-")
atexit.register(shutil.rmtree, BUILD_BASE, ignore_errors=True)

setup(
    packages=PACKAGES,
    package_dir={f"circuitdesk.{root}": root for root in ROOTS},
    package_data=PACKAGE_DATA,
    options={"build": {"build_base": BUILD_BASE}},
)
