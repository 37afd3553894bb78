"""Read circuit-tracer ``.pt`` graphs safely (weights_only, allow-listed classes)."""

from __future__ import annotations

from pathlib import Path

from .cancel import NEVER, CancelToken, Progress, no_progress
from .errors import MissingDependencyError
from .model import Graph


def load_pt(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken = NEVER
) -> Graph:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            path, "reading .pt graphs needs torch: pip install 'circuitdesk[models]'") from None
    raise MissingDependencyError(path, ".pt reading is not implemented yet")
