"""Model backends: local replacement models (causal LM + transcoders) behind one protocol.

Importing this package is cheap: torch and transformers load only when a backend is opened
through :func:`circuitdesk.models.registry.open_backend`.
"""

from .protocol import (
                       FreezeSpec,
                       Intervention,
                       InterventionError,
                       InterventionResult,
                       ModelLoadError,
                       ReplacementBackend,
                       TokenScore,
                       parse_freeze,
)
from .registry import available_backends, open_backend

__all__ = [
    "FreezeSpec", "Intervention", "InterventionError", "InterventionResult", "ModelLoadError",
    "ReplacementBackend", "TokenScore", "available_backends", "open_backend", "parse_freeze",
]
