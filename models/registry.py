"""Backends by name. The app asks for one here and never imports a backend class.

Registering costs nothing: a backend is a factory plus an availability check, and its
module (with torch, onnxruntime …) is imported only when the backend is opened.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from .protocol import ModelLoadError, ReplacementBackend


@dataclass(frozen=True)
class BackendEntry:
    """How to open one backend.

    Attributes:
        name: Registry key.
        module: Module (relative to this package or absolute) with the opener.
        opener: Function name in ``module``: ``(model_dir, transcoders_dir, **kw) -> backend``.
        requires: Top-level modules that must be importable for the backend to work.
        priority: Higher wins when no name is given.
    """

    name: str
    module: str
    opener: str
    requires: tuple[str, ...] = ()
    priority: int = 0


_REGISTRY: dict[str, BackendEntry] = {}


def register_backend(entry: BackendEntry) -> None:
    """Add or replace a backend entry."""
    _REGISTRY[entry.name] = entry


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_backends() -> list[str]:
    """Registered backends whose dependencies are installed, best first."""
    ok = [e for e in _REGISTRY.values() if all(_importable(m) for m in e.requires)]
    return [e.name for e in sorted(ok, key=lambda e: -e.priority)]


def open_backend(
    name: str | None = None,
    *,
    model_dir: str | Path | None = None,
    transcoders_dir: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
    **options: Any,
) -> ReplacementBackend:
    """Open a backend on a local model folder and transcoder folder.

    Args:
        name: Registry key, or None for the best available backend.
        model_dir: Hugging Face model folder (or a hub id found in the local cache).
        transcoders_dir: circuit-tracer transcoder folder (or a hub ref in the local cache).
        device: ``cpu``, ``cuda[:N]``, ``mps``, or ``auto``; None: the backend's default (the
            torch backend runs on the cpu). Backends that run elsewhere ignore it.
        dtype: ``float32``, ``bfloat16`` or ``float16``; None: the device's default
            (float32 on cpu, bfloat16 on cuda, float16 on mps).
        progress: Progress sink.
        cancel: Cancel token.
        **options: Passed to the backend (e.g. ``threads`` for onnx).

    Raises:
        ModelLoadError: Unknown backend, missing dependency or unusable files.
    """
    if name is None:
        names = available_backends()
        if not names:
            raise ModelLoadError("", "no model backend is installed: pip install 'circuitdesk[models]' "
                                     "(torch) or 'circuitdesk[onnx]' (onnxruntime)")
        name = names[0]
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ModelLoadError("", f"unknown model backend {name!r}; known: {sorted(_REGISTRY)}")
    missing = [m for m in entry.requires if not _importable(m)]
    if missing:
        extra = "onnx" if name == "onnx" else "models"
        raise ModelLoadError("", f"backend {name!r} needs {', '.join(missing)}: "
                                 f"pip install 'circuitdesk[{extra}]'")
    module_name = entry.module
    package = __package__ if module_name.startswith(".") else None
    module = importlib.import_module(module_name, package)
    opener: Callable[..., ReplacementBackend] = getattr(module, entry.opener)
    if device is not None:
        options["device"] = device
    if dtype is not None:
        options["dtype"] = dtype
    return opener(model_dir, transcoders_dir, progress=progress, cancel=cancel, **options)


register_backend(BackendEntry(
    name="torch", module=".torch.backend", opener="open_torch_backend",
    requires=("torch", "transformers", "safetensors", "yaml"), priority=10,
))
