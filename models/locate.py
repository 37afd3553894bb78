"""Find the model and transcoders that belong to a graph, without any download.

Order: folders the user picked before (remembered per model), the bundled demo, then the
local Hugging Face / circuit-tracer caches (models/hf_loading.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from ..graph.model import Graph
from .torch.hf_loading import locate_for_graph
from .protocol import ModelLoadError

DEMO_MODEL = "circuitdesk-demo/tiny-llama"
DEMO_SCANS = {"circuitdesk-demo/plt": "transcoders-plt", "circuitdesk-demo/clt": "transcoders-clt"}


def demo_dir() -> Path:
    return Path(str(files("circuitdesk.resources").joinpath("demo")))


def graph_key(graph: Graph) -> str:
    """What the app remembers folders under: the model name, else the scan."""
    scan = graph.metadata.scan
    return graph.metadata.model or (scan if isinstance(scan, str) else "") or graph.metadata.slug


def _scans(graph: Graph) -> list[str]:
    scan = graph.metadata.scan
    refs = [scan] if isinstance(scan, str) else list(scan or [])
    return [r for r in refs + [graph.metadata.transcoder_set] if r]


def find_model(graph: Graph, remembered: Mapping[str, tuple[str, str]] | None = None
               ) -> tuple[Path, Path]:
    """``(model_dir, transcoders_dir)`` for ``graph``.

    Raises:
        ModelLoadError: one line saying what was looked for.
    """
    key = graph_key(graph)
    if remembered and key in remembered:
        model_dir, tc_dir = (Path(p) for p in remembered[key])
        if (model_dir / "config.json").is_file() and (tc_dir / "config.yaml").is_file():
            return model_dir, tc_dir
    demo = demo_dir()
    for scan in _scans(graph):
        if scan in DEMO_SCANS and (demo / DEMO_SCANS[scan] / "config.yaml").is_file():
            return demo / "model", demo / DEMO_SCANS[scan]
    if graph.metadata.model == DEMO_MODEL and (demo / "transcoders-plt" / "config.yaml").is_file():
        return demo / "model", demo / "transcoders-plt"
    try:
        return locate_for_graph(graph.metadata.model, graph.metadata.scan,
                                graph.metadata.transcoder_set)
    except ModelLoadError as exc:
        raise ModelLoadError(key or "graph", f"no local model found ({exc.problem}); "
                                             "choose the model and transcoder folders") from None
