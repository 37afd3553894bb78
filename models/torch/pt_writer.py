"""Write a graph as a circuit-tracer ``.pt`` (``Graph.to_pt`` layout, FORMATS.md §1).

The engine pickles two of its own classes into the file: ``LogitTarget`` and
``UnifiedConfig``. We do not import circuit-tracer; instead small stand-ins are written
under the engine's module paths, so ``Graph.from_pt`` rebuilds the real classes and our own
allow-listed ``torch.load(weights_only=True)`` reader sees the names it expects.
"""

from __future__ import annotations

import pickle
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from ...graph.io.dense import DenseGraphData


class LogitTarget(NamedTuple):
    """Stand-in for ``circuit_tracer.attribution.targets.LogitTarget``."""

    token_str: str
    vocab_idx: int


@dataclass
class UnifiedConfig:
    """Stand-in for ``circuit_tracer.utils.tl_nnsight_mapping.UnifiedConfig``."""

    n_layers: int
    d_model: int
    d_head: int
    n_heads: int
    d_mlp: int
    d_vocab: int
    tokenizer_name: str
    model_name: str
    original_architecture: str
    n_key_value_heads: int | None = None
    dtype: Any | None = None


_ENGINE_NAMES: dict[type, tuple[str, str]] = {
    LogitTarget: ("circuit_tracer.attribution.targets", "LogitTarget"),
    UnifiedConfig: ("circuit_tracer.utils.tl_nnsight_mapping", "UnifiedConfig"),
}


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, writing our stand-ins as the engine's globals."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        target = _ENGINE_NAMES.get(obj) if isinstance(obj, type) else None
        if target is None:
            super().save_global(obj, name)  # type: ignore[misc]
            return
        module, qualname = target
        opcode = pickle.GLOBAL + module.encode() + b"\n" + qualname.encode() + b"\n"
        self.write(opcode)  # type: ignore[attr-defined]
        self.memoize(obj)  # type: ignore[attr-defined]

    dispatch: ClassVar[dict[type, Any]] = dict(pickle._Pickler.dispatch)
    dispatch[type] = save_global


def _pickle_module() -> types.ModuleType:
    mod = types.ModuleType("circuitdesk_engine_pickle")
    mod.Pickler = _Pickler  # type: ignore[attr-defined]
    mod.Unpickler = pickle.Unpickler  # type: ignore[attr-defined]
    mod.load = pickle.load  # type: ignore[attr-defined]
    mod.dump = pickle.dump  # type: ignore[attr-defined]
    return mod


def engine_dict(data: DenseGraphData, cfg: dict[str, Any]) -> dict[str, Any]:
    """The dict ``Graph.to_pt`` saves, built from our dense data and a config dict."""
    known = UnifiedConfig.__dataclass_fields__
    return {
        "input_string": data.prompt,
        "adjacency_matrix": torch.from_numpy(np.ascontiguousarray(data.adjacency, np.float32)),
        "cfg": UnifiedConfig(**{k: v for k, v in cfg.items() if k in known}),
        "active_features": torch.from_numpy(
            np.ascontiguousarray(data.active_features, np.int64).reshape(-1, 3)),
        "logit_targets": [LogitTarget(str(s), int(i))
                          for s, i in zip(data.logit_strings, data.logit_tokens)],
        "logit_probabilities": torch.from_numpy(
            np.ascontiguousarray(data.logit_probabilities, np.float32)),
        "vocab_size": int(data.vocab_size if data.vocab_size is not None else cfg["d_vocab"]),
        "input_tokens": torch.from_numpy(np.ascontiguousarray(data.input_tokens, np.int64)),
        "selected_features": torch.from_numpy(
            np.ascontiguousarray(data.selected_features, np.int64)),
        "activation_values": torch.from_numpy(
            np.ascontiguousarray(data.activation_values, np.float32)),
        "scan": data.scan,
    }


def write_pt(path: str | Path, data: DenseGraphData, cfg: dict[str, Any] | None = None) -> None:
    """Save ``data`` as an engine ``.pt`` atomically (temp file + rename).

    Args:
        path: Output file.
        data: The graph's dense fields.
        cfg: ``UnifiedConfig`` fields; defaults to ``data.extra['cfg']``.
    """
    config = cfg if cfg is not None else data.extra.get("cfg")
    if not config:
        raise ValueError("write_pt needs the model config (cfg) for the engine's 'cfg' field")
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(engine_dict(data, config), tmp, pickle_module=_pickle_module())
    tmp.replace(target)
