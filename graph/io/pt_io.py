"""Read circuit-tracer ``.pt`` graphs safely (FORMATS.md §1).

The file is a ``torch.save`` of a dict. It is read with ``torch.load(weights_only=True)``, whose
restricted unpickler builds only tensors, plain containers and the classes we allow-list. The
engine's own classes (``LogitTarget``, ``UnifiedConfig``, TransformerLens's
``HookedTransformerConfig`` in v0.1.0 files, and the numpy scalars inside that config) are mapped
to inert stand-ins defined here, registered under the engine's qualified names, so no engine
code is imported and nothing in the file can run code. Anything else gives
:class:`UnsafeFileError`.
"""

from __future__ import annotations

import pickle
import re
import threading
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..cancel import NEVER, CancelToken, Progress, no_progress
from ..errors import (
    GraphSchemaError,
    MissingDependencyError,
    NotAGraphFileError,
    UnsafeFileError,
    describe,
    exception_text,
    type_name,
)
from ..model import F32_WEIGHT_BOUND, MAX_ABS_WEIGHT, MAX_LAYER, MAX_POSITIONS, Graph
from .dense import DenseGraphData, graph_from_dense
from .pt_scan import check_archive
from .token_strings import decode_each


class LogitTarget(NamedTuple):
    """Stand-in for ``circuit_tracer.attribution.targets.LogitTarget``."""

    token_str: str
    vocab_idx: int


_PLAIN = (int, float, str, bool, type(None))


class ModelConfig:
    """Stand-in for the engine's model config (``UnifiedConfig`` / ``HookedTransformerConfig``).

    Keeps only plain scalar fields of the pickled state; everything else is dropped.
    """

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = state[0]
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("model config state is not a dict")
        self.__dict__.update({str(k): v for k, v in state.items() if isinstance(v, _PLAIN)})

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)


class NumpyDtype:
    """Stand-in for ``numpy.dtype`` inside pickled configs: numeric kinds only."""

    def __init__(self, name: Any = "f8", align: Any = False, copy: Any = False) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[fiub]\d{1,2}|bool", name):
            raise pickle.UnpicklingError(f"numpy dtype {name!r} is not a plain number type")
        self.name = name
        self.byteorder = "<"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]


def numpy_scalar(dtype: Any, data: Any = None) -> float | int | bool:
    """Stand-in for ``numpy.core.multiarray.scalar``: decodes a plain number from its bytes."""
    if not isinstance(dtype, NumpyDtype) or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("numpy scalar that is not a plain number")
    order = "" if dtype.byteorder in ("|", "=") else dtype.byteorder
    real = np.dtype(order + dtype.name)
    if real.itemsize != len(data):
        raise pickle.UnpicklingError("numpy scalar of the wrong size")
    value: float | int | bool = np.frombuffer(bytes(data), dtype=real)[0].item()
    return value


_STAND_INS: list[tuple[Any, str]] = [
    (LogitTarget, "circuit_tracer.attribution.targets.LogitTarget"),
    (ModelConfig, "circuit_tracer.utils.tl_nnsight_mapping.UnifiedConfig"),
    (ModelConfig, "transformer_lens.HookedTransformerConfig.HookedTransformerConfig"),
    (ModelConfig, "transformer_lens.config.HookedTransformerConfig.HookedTransformerConfig"),
    (NumpyDtype, "numpy.dtype"),
    (numpy_scalar, "numpy.core.multiarray.scalar"),
    (numpy_scalar, "numpy._core.multiarray.scalar"),
]
# torch's allow-list is process-wide; the lock keeps two of our loads from removing each
# other's entries when their ``safe_globals`` blocks overlap.
_LOAD_LOCK = threading.Lock()
_REQUIRED = ("adjacency_matrix", "active_features", "selected_features", "activation_values",
             "input_tokens", "logit_probabilities", "cfg")


def load_pt(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken = NEVER
) -> Graph:
    """Read a circuit-tracer ``.pt`` graph (0.5.0 layout or v0.1.0) without a full unpickle.

    Raises:
        MissingDependencyError: torch is not installed (the ``models`` extra).
        UnsafeFileError: the pickle asks for a class or function outside the allow-list.
        NotAGraphFileError: not a readable torch archive (truncated, corrupt).
        GraphSchemaError: the dict lacks fields or has wrong shapes, types or NaN weights.
        Cancelled: when ``cancel`` was set.
    """
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            path, "reading .pt graphs needs torch: pip install 'circuitdesk[models]'") from None
    progress(0.05, "reading")
    check_pt_file(Path(path))
    raw = _torch_load(torch, Path(path))
    cancel.check()
    return graph_from_raw(path, raw, torch, progress, cancel)


def check_pt_file(path: Path) -> None:
    """What both readers check before unpickling: a torch zip archive (never a bare pickle)
    whose storages and tensors fit in what it holds (:func:`.pt_scan.check_archive`).

    Raises:
        NotAGraphFileError, GraphSchemaError.
    """
    try:
        is_zip = zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # e.g. "spans multiple disks"
        raise NotAGraphFileError(path, f"not a readable torch archive ({exception_text(exc)})") \
            from None
    if not is_zip:
        raise NotAGraphFileError(path, "not a torch zip archive (a bare pickle or a torch file "
                                       "older than 1.6, which circuit-tracer never wrote)")
    check_archive(path)


def graph_from_raw(path: str | Path, raw: Any, torch: Any, progress: Progress,
                   cancel: CancelToken) -> Graph:
    """The graph of an unpickled ``.pt`` dict; ``torch`` is torch or pt_numpy's stand-in."""
    progress(0.6, "checking")
    data = _dense_data(path, raw, torch)
    cancel.check()
    progress(0.8, "building graph")
    try:
        graph = graph_from_dense(data)
    except ValueError as exc:
        raise GraphSchemaError(path, str(exc)) from None
    graph.format = str(graph.extra.pop("layout"))
    return graph


def _torch_load(torch: Any, path: Path) -> Any:
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(_STAND_INS):
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(path, f"refused to unpickle it: {_why_unsafe(str(exc))}") from None
    except (EOFError, zipfile.BadZipFile, OSError) as exc:
        raise NotAGraphFileError(path, f"not a complete torch archive ({exc or 'truncated'})") \
            from None
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotAGraphFileError(path, f"not a readable torch archive ({first})") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - bit flips make torch raise KeyError, assert, ...
        raise NotAGraphFileError(path, f"not a readable torch archive "
                                       f"({exception_text(exc)})") from None


def _why_unsafe(message: str) -> str:
    """The one useful line of torch's long weights-only message."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"it references {found.group(1)}, which is not an allowed class or function"
    for line in message.splitlines():
        if "WeightsUnpickler error" in line:
            return line.split("WeightsUnpickler error:", 1)[-1].strip()
    return message.strip().splitlines()[0] if message.strip() else "disallowed pickle content"


def _tensor(path: str | Path, d: dict[str, Any], key: str, torch: Any, ndim: int,
            integer: bool = False) -> np.ndarray:
    """A plain dense CPU tensor as float32 (or int64 where ``integer``), else our error."""
    value = d[key]
    if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
        raise GraphSchemaError(path, f"'{key}' is {type_name(value)}, not a tensor")
    if (value.layout != torch.strided or value.is_quantized or value.is_nested or value.is_meta
            or value.device.type != "cpu"):
        raise GraphSchemaError(path, f"'{key}' is not a plain dense tensor")
    if value.dim() != ndim:
        raise GraphSchemaError(path, f"'{key}' has shape {tuple(value.shape)}, expected {ndim}-D")
    if value.is_complex() or value.dtype not in _dtypes(torch):
        raise GraphSchemaError(path, f"'{key}' has dtype {value.dtype}, not a real number type")
    if integer and value.is_floating_point():
        raise GraphSchemaError(path, f"'{key}' holds {value.dtype} values, expected integers")
    if value.is_floating_point():
        return np.asarray(value.detach().to(torch.float32).numpy())
    return np.asarray(value.detach().to(torch.int64).numpy())


def _dtypes(torch: Any) -> set[Any]:
    return {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8,
            torch.int16, torch.int32, torch.int64, torch.bool}


def _dense_data(path: str | Path, d: Any, torch: Any) -> DenseGraphData:
    if not isinstance(d, dict):
        raise GraphSchemaError(path, f"top level is {type(d).__name__}, not a circuit-tracer dict")
    missing = [k for k in _REQUIRED if k not in d]
    if "logit_targets" not in d and "logit_tokens" not in d:
        missing.append("logit_targets")
    if missing:
        raise GraphSchemaError(path, f"not a circuit-tracer graph: missing {', '.join(missing)}")
    cfg = d["cfg"]
    n_layers = cfg.get("n_layers") if isinstance(cfg, ModelConfig) else None
    if not isinstance(n_layers, int) or isinstance(n_layers, bool) or not 1 <= n_layers < MAX_LAYER:
        raise GraphSchemaError(path, "'cfg' has no positive integer n_layers")
    adjacency, active, activations, selected, tokens, probs = _checked_tensors(path, d, torch)
    layout, logit_ids, logit_strs = _logit_targets(path, d, torch)
    if probs.shape[0] != len(logit_ids):
        raise GraphSchemaError(path, f"{probs.shape[0]} logit probabilities for "
                                     f"{len(logit_ids)} logit targets")
    _check_node_count(path, adjacency, len(selected), n_layers, len(tokens), len(logit_ids))
    if selected.size:
        feats = active[selected]
        if (feats[:, 0].min() < 0 or feats[:, 0].max() >= n_layers or feats[:, 1].min() < 0
                or feats[:, 1].max() >= len(tokens) or feats[:, 2].min() < 0):
            raise GraphSchemaError(path, "active_features holds a layer, position or feature "
                                         "index outside the graph")
    tokenizer = cfg.get("tokenizer_name")
    scan = d.get("scan")
    if not (scan is None or isinstance(scan, str)
            or (isinstance(scan, list) and all(isinstance(s, str) for s in scan))):
        raise GraphSchemaError(path, "'scan' is not a string or a list of strings")
    vocab_size = d.get("vocab_size", cfg.get("d_vocab"))
    prompt = d.get("input_string", "")
    return DenseGraphData(
        adjacency=adjacency, active_features=active, activation_values=activations,
        selected_features=selected, input_tokens=tokens, logit_tokens=logit_ids,
        logit_strings=logit_strs, logit_probabilities=probs, n_layers=n_layers,
        prompt=prompt if isinstance(prompt, str) else "",
        token_strings=_token_strings(tokenizer, tokens.tolist()),
        scan=scan, model=_name(cfg.get("model_name")),
        vocab_size=vocab_size if isinstance(vocab_size, int) else None,
        extra={"layout": layout, "tokenizer_name": tokenizer},
    )


def _checked_tensors(path: str | Path, d: dict[str, Any], torch: Any) -> tuple[np.ndarray, ...]:
    adjacency = _tensor(path, d, "adjacency_matrix", torch, 2)
    active = _tensor(path, d, "active_features", torch, 2, integer=True)
    selected = _tensor(path, d, "selected_features", torch, 1, integer=True)
    activations = _tensor(path, d, "activation_values", torch, 1)
    tokens = _tensor(path, d, "input_tokens", torch, 1, integer=True)
    probs = _tensor(path, d, "logit_probabilities", torch, 1)
    if not np.isfinite(adjacency).all():
        raise GraphSchemaError(path, "adjacency_matrix has NaN or infinite entries")
    if adjacency.size and float(np.abs(adjacency).max()) > F32_WEIGHT_BOUND:
        raise GraphSchemaError(path, f"adjacency_matrix has entries larger than "
                                     f"{MAX_ABS_WEIGHT:g}")
    if active.shape[1:] != (3,) or activations.shape[0] != active.shape[0]:
        raise GraphSchemaError(path, f"active_features {active.shape} and activation_values "
                                     f"{activations.shape} do not match")
    if selected.size and (selected.min() < 0 or selected.max() >= len(active)):
        raise GraphSchemaError(path, "selected_features points outside active_features")
    if len(tokens) > MAX_POSITIONS:
        raise GraphSchemaError(path, f"{len(tokens)} input tokens (at most {MAX_POSITIONS})")
    activations[~np.isfinite(activations)] = np.nan  # unknown, as in JSON graphs
    if not ((probs >= 0) & (probs <= 1)).all():
        raise GraphSchemaError(path, "logit_probabilities holds values outside [0, 1]")
    return adjacency, active, activations, selected, tokens, probs


def _check_node_count(path: str | Path, adjacency: np.ndarray, n_sel: int, n_layers: int,
                      n_pos: int, n_logit: int) -> None:
    """Refuse before building any per-node array: ``n_layers * n_pos`` error nodes could be
    billions when the config lies."""
    n = n_sel + n_layers * n_pos + n_pos + n_logit
    if adjacency.shape != (n, n):
        raise GraphSchemaError(
            path, f"adjacency is {adjacency.shape}, expected ({n}, {n}) for {n_sel} features, "
                  f"{n_layers} layers, {n_pos} positions, {n_logit} logits")


def _name(value: Any) -> str:
    """A config string; a non-string (a 5,000-digit int cannot even be str()-ed) is shown short."""
    if isinstance(value, str):
        return value
    return "" if value is None else describe(value)


def _logit_targets(path: str | Path, d: dict[str, Any], torch: Any
                   ) -> tuple[str, list[int], list[str]]:
    """(layout name, vocab ids, strings) from ``logit_targets`` or v0.1.0's ``logit_tokens``."""
    key = "logit_targets" if "logit_targets" in d else "logit_tokens"
    value = d[key]
    if isinstance(value, torch.Tensor):
        # v0.1.0 (and some later files) store plain token ids; the engine reads them as targets
        # with empty strings.
        ids = _tensor(path, d, key, torch, 1, integer=True).tolist()
        if any(i < 0 for i in ids):
            raise GraphSchemaError(path, f"'{key}' holds a negative token id")
        return "circuit-tracer-pt-v0.1", [int(i) for i in ids], [""] * len(ids)
    if not isinstance(value, list):
        raise GraphSchemaError(path, f"'{key}' is {type(value).__name__}, not a list")
    ids, strs = [], []
    for k, item in enumerate(value):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and type(item[1]) is int):
            raise GraphSchemaError(path, f"'{key}' holds {type_name(item)}, not LogitTarget")
        if not 0 <= item[1] < 1 << 62:
            raise GraphSchemaError(path, f"logit target {k}: token id {describe(item[1])} is "
                                         "out of range")
        strs.append(item[0])
        ids.append(item[1])
    return "circuit-tracer-pt", ids, strs


def _token_strings(tokenizer_name: Any, ids: list[int]) -> list[str]:
    """Decoded prompt tokens when a tokenizer is on disk already, else [] (ids are shown).

    Looks in a local folder named by ``tokenizer_name`` and in the Hugging Face cache only;
    nothing is downloaded.
    """
    if not isinstance(tokenizer_name, str) or not tokenizer_name or len(tokenizer_name) > 256 \
            or "\0" in tokenizer_name:
        return []
    try:
        import tokenizers  # noqa: F401 - decode_each needs it
    except ImportError:
        return []
    candidate: Any = Path(tokenizer_name) / "tokenizer.json"
    try:
        local = candidate.is_file()
    except (OSError, ValueError):  # a name too long for the file system, say
        local = False
    if not local:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return []
        try:
            candidate = try_to_load_from_cache(tokenizer_name, "tokenizer.json")
        except Exception:  # a malformed repo id: treat as "not cached"
            return []
    try:
        if not isinstance(candidate, (str, Path)) or not Path(candidate).is_file():
            return []
    except (OSError, ValueError):
        return []
    try:  # not Tokenizer.from_file: it held the GIL 0.4-0.6 s (bench_token_strings.py)
        return decode_each(candidate, ids)
    except Exception:  # a broken tokenizer file must not stop the graph from loading
        return []
