"""Model backends: local replacement models (causal LM + transcoders) behind one protocol.

Importing this package is cheap: torch and transformers load only when a backend is opened
through :func:`circuitdesk.models.registry.open_backend`.
"""

from .protocol import (
                       ErrorsSpec,
                       FreezeSpec,
                       Intervention,
                       InterventionError,
                       InterventionResult,
                       ModelLoadError,
                       ReplacementBackend,
                       TokenScore,
                       parse_errors,
                       parse_freeze,
)
from .registry import available_backends, open_backend

__all__ = [
    "ErrorsSpec", "FreezeSpec", "Intervention", "InterventionError", "InterventionResult", "ModelLoadError",
    "ReplacementBackend", "TokenScore", "available_backends", "open_backend", "parse_errors",
    "parse_freeze",
]

from .registry import BackendEntry, register_backend

# Chosen when torch is absent (lower priority than torch), or by name; it opens an .onnx
# file written by ``circuitdesk export-onnx`` (models/onnx_backend.py).
register_backend(BackendEntry(name="onnx", module=".onnx.backend", opener="open_onnx_backend",
                              requires=("onnxruntime", "tokenizers"), priority=5))
