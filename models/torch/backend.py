"""The PyTorch + transformers backend of :class:`~circuitdesk.models.protocol.ReplacementBackend`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress
from ...graph.io.dense import DenseGraphData
from ...graph.model import Graph
from ..backend_base import BackendBase
from ..devices import (
    AUTO,
    DEVICE_KINDS,
    available_devices,
    best_device,
    default_dtype,
    device_kind,
    supported_dtypes,
)
from ..protocol import (
    ErrorsSpec,
    FreezeSpec,
    InterventionError,
    InterventionResult,
    InterventionSet,
    ModelLoadError,
    PromptOrIds,
    parse_errors,
)
from .attribution import trace_graph
from .hf_loading import load_hf_model, resolve_model_dir, resolve_transcoders_dir
from .replacement import ReplacementModel, ensure_tokenized
from .runs import PatchRun, RecordRun
from .transcoder_formats import load_transcoders

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
           "float16": torch.float16}


def choose_device(device: str | None) -> str:
    """``device`` checked against what this torch can reach; None or ``auto`` picks the best
    of cuda, mps and cpu (:func:`~circuitdesk.models.devices.best_device`).

    Raises:
        ModelLoadError: an unknown device or one this machine lacks.
    """
    if device is None or device == AUTO:
        return best_device()
    kind = device_kind(device)
    if kind not in DEVICE_KINDS:
        raise ModelLoadError("", f"device {device!r} is not cpu, cuda[:N] or mps")
    if kind not in available_devices():
        what = "this torch sees no CUDA GPU" if kind == "cuda" else "MPS is not available here"
        raise ModelLoadError("", f"device {device!r}: {what}")
    return device


def choose_dtype(dtype: str | None, device: str) -> torch.dtype:
    """The compute dtype: ``dtype`` when given, else the device's default
    (:data:`~circuitdesk.models.devices.DEFAULT_DTYPES`)."""
    name = dtype or default_dtype(device)
    if name not in _DTYPES:
        raise ModelLoadError("", f"dtype {name!r} is not one of {sorted(_DTYPES)}")
    if name not in supported_dtypes(device):
        raise ModelLoadError("", f"dtype {name} is not supported on {device} "
                                 f"(supported: {', '.join(supported_dtypes(device))})")
    return _DTYPES[name]


class TorchBackend(BackendBase):
    """A local replacement model run with torch. Create with :func:`open_torch_backend`."""

    name = "torch"

    def __init__(self, rm: ReplacementModel, model_name: str) -> None:
        self.rm = rm
        self.model_name = model_name
        self.scan = rm.tc.scan
        self._clean_key: tuple[int, ...] | None = None
        self._clean: RecordRun | None = None

    # ------------------------------------------------------------------ facts
    @property
    def n_layers(self) -> int:
        return self.rm.n_layers

    @property
    def d_transcoder(self) -> int:
        return self.rm.tc.d_transcoder

    @property
    def vocab_size(self) -> int:
        return self.rm.vocab_size

    def config_dict(self) -> dict[str, Any]:
        """The engine's ``UnifiedConfig`` fields for this model."""
        c = self.rm.hf.config
        n_heads = int(c.num_attention_heads)
        return dict(
            n_layers=self.n_layers, d_model=self.rm.d_model,
            d_head=int(getattr(c, "head_dim", None) or self.rm.d_model // n_heads),
            n_heads=n_heads, d_mlp=int(c.intermediate_size), d_vocab=int(c.vocab_size),
            tokenizer_name=self.model_name, model_name=self.model_name,
            original_architecture=(c.architectures or ["?"])[0],
            n_key_value_heads=getattr(c, "num_key_value_heads", None),
            dtype=str(self.rm.dtype).removeprefix("torch."))

    # ------------------------------------------------------------------ tokens
    def tokenize(self, prompt: PromptOrIds) -> list[int]:
        return self._in_vocabulary(ensure_tokenized(self.rm.tokenizer, prompt), self.vocab_size)

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.rm.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [self.rm.tokenizer.decode([int(i)]) for i in ids]

    def check_graph_tokens(self, graph: Graph) -> list[int]:
        """Token ids for ``graph``'s prompt; raises ModelLoadError when this tokenizer disagrees.

        A graph's ``prompt`` is the engine's decoded ``input_string`` (BOS text included), so
        tokenising it again must give its ``input_tokens``; without ids, the decoded tokens
        must equal its ``prompt_tokens``.
        """
        meta = graph.metadata
        if meta.input_tokens:
            ids = [int(t) for t in meta.input_tokens]
            again = self.tokenize(meta.prompt) if meta.prompt else ids
            if again != ids:
                raise ModelLoadError(self.model_name, "tokenizer does not reproduce the graph's "
                                     f"input_tokens ({again[:8]} vs {ids[:8]})")
            return self.tokenize(ids)
        ids = self.tokenize(meta.prompt)
        if meta.prompt_tokens:
            mine = self.token_strings(ids)
            if len(mine) != len(meta.prompt_tokens) or any(
                    a.strip() != b.strip() for a, b in zip(mine, meta.prompt_tokens)):
                raise ModelLoadError(self.model_name, "tokenizer does not reproduce the graph's "
                                     f"prompt_tokens ({mine[:6]} vs {meta.prompt_tokens[:6]})")
        return ids

    # ------------------------------------------------------------------ interventions
    def _freeze(self, freeze: FreezeSpec) -> tuple[bool, range | None]:
        if freeze == "attention":
            return True, None
        if freeze == "none":
            return False, None
        if freeze == "all":
            return True, range(self.n_layers)
        if isinstance(freeze, tuple) and len(freeze) == 2:
            a, b = int(freeze[0]), int(freeze[1])
            if not 0 <= a <= b < self.n_layers:
                raise InterventionError(f"freeze range {a}-{b} is outside layers 0-{self.n_layers - 1}")
            return True, range(a, b + 1)
        raise InterventionError(f"freeze mode {freeze!r}: expected attention, none, all or (a, b)")

    def intervene_batch(self, prompt: PromptOrIds, batch: Sequence[InterventionSet], *,
                        freeze: FreezeSpec = "attention", errors: ErrorsSpec = "respond",
                        return_activations: bool = False, apply_activation_function: bool = True,
                        batch_size: int = 64, last_position_only: bool = False,
                        progress: Progress = no_progress,
                        cancel: CancelToken = NEVER) -> list[InterventionResult]:
        """Independent intervention lists on one prompt, ``batch_size`` rows per forward pass."""
        ids = self.tokenize(prompt)
        freeze_patterns, constrained = self._freeze(freeze)
        errors_clean = parse_errors(errors) == "clean" and constrained is None
        items = self._tables(batch, len(ids))
        wants_freeze = (freeze_patterns or constrained is not None or errors_clean) and any(
            len(t) for t in items)
        key = tuple(ids)
        clean = self._clean if wants_freeze and self._clean_key == key else None
        t = torch.tensor([ids], device=self.rm.device)
        results: list[InterventionResult] = []
        for start in range(0, len(items), max(1, batch_size)):
            cancel.check()
            chunk = items[start:start + batch_size]
            # No clean run of these ids yet: make batch row 0 the clean run (see PatchRun).
            live = wants_freeze and clean is None
            if live:
                clean, chunk = RecordRun(), [np.zeros((0, 4)), *chunk]
            run = PatchRun(self.rm, chunk, clean, freeze_patterns=freeze_patterns,
                           constrained=constrained, return_activations=return_activations,
                           apply_activation=apply_activation_function,
                           errors_clean=errors_clean, live=live)
            with torch.inference_mode():
                hidden = self.rm.forward(t.expand(len(chunk), -1), run, logits=False)
                # The clean row's logits are never returned: the head (a quarter of a 1B
                # model's weights, and its widest matmul) runs on the patched rows only.
                hidden = hidden[1:] if live else hidden
                hidden = hidden[:, -1:] if last_position_only else hidden
                logits = self.rm.unembed(hidden).float().cpu().numpy()
            acts = (torch.stack([run.acts[l] for l in range(self.n_layers)], dim=1)
                    .float().cpu().numpy() if return_activations else None)
            if live:
                self._clean, self._clean_key = clean, key
                chunk = chunk[1:]
                acts = None if acts is None else acts[1:]
            results += self._results(logits[:len(chunk)], acts, ids)
            progress(min(1.0, (start + len(chunk)) / max(len(items), 1)), "interventions")
        return results

    # ------------------------------------------------------------------ tracing
    def trace(self, prompt: PromptOrIds, *, max_feature_nodes: int | None = None,
              max_n_logits: int = 10, desired_logit_prob: float = 0.95, batch_size: int = 512,
              progress: Progress = no_progress, cancel: CancelToken = NEVER) -> DenseGraphData:
        """An attribution graph (engine ``attribute``), ``cfg`` in ``extra['cfg']``."""
        ids = self.tokenize(prompt)
        data, _ = trace_graph(self.rm, ids, max_feature_nodes=max_feature_nodes,
                              max_n_logits=max_n_logits, desired_logit_prob=desired_logit_prob,
                              batch_size=batch_size, progress=progress, cancel=cancel)
        data.model = self.model_name
        data.extra["cfg"] = self.config_dict()
        return data

    def close(self) -> None:
        self.rm.close()
        self._clean = None


def open_torch_backend(model_dir: str | Path | None, transcoders_dir: str | Path | None, *,
                       device: str | None = "cpu", dtype: str | None = None,
                       progress: Progress = no_progress, cancel: CancelToken = NEVER,
                       **_: Any) -> TorchBackend:
    """Load a local HF model folder and a circuit-tracer transcoder folder.

    Args:
        device: ``cpu``, ``cuda[:N]``, ``mps``, or None / ``auto`` for the best one here.
        dtype: ``float32``, ``bfloat16``, ``float16`` (or ``float64``); None takes the
            device's default (:data:`~circuitdesk.models.devices.DEFAULT_DTYPES`). Model and
            encoders compute in it;
            decoders stay mapped in their file's dtype and are converted row by row.

    Raises:
        ModelLoadError: missing or inconsistent files (one line naming the file).
    """
    if model_dir is None or transcoders_dir is None:
        raise ModelLoadError("", "both a model folder and a transcoder folder are needed")
    device = choose_device(device)
    compute = choose_dtype(dtype, device)
    tc_dir = resolve_transcoders_dir(transcoders_dir)
    mdir = resolve_model_dir(model_dir)
    # The model first: while transformers converts it, its file's pages count as resident,
    # and the encoders would add to that peak (8.2 GiB against 7.2 GiB measured for a
    # Llama-3.2-1B shape with an 8192-feature CLT in float32).
    progress(0.0, "loading model")
    model, tokenizer = load_hf_model(mdir, compute, device)
    cancel.check()
    progress(0.7, "reading transcoders")
    tc = load_transcoders(tc_dir, dtype=compute, device=device)
    cancel.check()
    rm = ReplacementModel(model, tokenizer, tc)
    progress(1.0, "ready")
    return TorchBackend(rm, str(model_dir))
