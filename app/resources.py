"""Bundled files (icon, demo graph) through importlib.resources."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QIcon

_RESOURCES = files("circuitdesk.resources")
DEMO_DEFAULT = "capital-france_plt.json"
"""Traced from the bundled demo model by models/demo_graphs.py."""


def resource_path(*parts: str) -> Path:
    return Path(str(_RESOURCES.joinpath(*parts)))


def demo_graph_path() -> Path:
    """The graph opened on first launch: one traced from the bundled demo model if shipped."""
    graphs = resource_path("demo", "graphs")
    preferred = graphs / DEMO_DEFAULT
    if preferred.is_file():
        return preferred
    found = sorted(graphs.glob("*.json")) if graphs.is_dir() else []
    return found[0] if found else resource_path("sample_graph.json")


def app_icon() -> QIcon:
    return QIcon(str(resource_path("circuitdesk.svg")))
