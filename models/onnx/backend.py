"""The onnxruntime backend of :class:`~circuitdesk.models.protocol.ReplacementBackend`.

Runs a file written by ``circuitdesk export-onnx`` (:mod:`circuitdesk.models.onnx.export`
documents its inputs and outputs) with onnxruntime, and tokenises with the ``tokenizers``
library from ``<file>.tokenizer.json``. It imports no torch, so the verify panel and
``circuitdesk intervene --onnx`` work in an install without the ``models`` extra.
Tracing attribution graphs needs gradients and is not offered here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress
from ...graph.io.dense import DenseGraphData
from ..backend_base import BackendBase, Table
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

FORMAT = "circuitdesk-replacement-onnx/4"  # same string as onnx_export.FORMAT (no torch import)
# /3 files lack errors_clean and clean_errors: they run with errors="respond" and refuse
# "clean". /2 files also lack logit_pos and pattern_rows: they still run, without those savings.
FORMATS = (FORMAT, "circuitdesk-replacement-onnx/3", "circuitdesk-replacement-onnx/2")
_Clean = dict[str, npt.NDArray[np.float32]]
_CLEAN_INPUTS = ("clean_patterns", "clean_ins", "clean_outs", "clean_scales", "clean_errors")


def _tokenizer_file(path: Path) -> Path:
    return path.with_name(path.stem + ".tokenizer.json")


class OnnxBackend(BackendBase):
    """An exported replacement model run with onnxruntime. Create with :func:`open_onnx_backend`."""

    name = "onnx"

    def __init__(self, path: Path, session: Any, tokenizer: Any, meta: dict[str, str]) -> None:
        self.path, self.session, self.tokenizer = path, session, tokenizer
        try:
            self.model_name = meta["model_name"]
            self.scan: str | list[str] | None = json.loads(meta["scan"])
            self._n_layers = int(meta["n_layers"])
            self._d_transcoder = int(meta["d_transcoder"])
            self._vocab = int(meta["vocab_size"])
            self._bos: int | None = json.loads(meta["bos_id"])
            self._special = {int(i) for i in json.loads(meta["special_ids"])}
            self._overrides = {int(k): v for k, v in
                               json.loads(meta.get("token_string_overrides", "{}")).items()}
            self.freeze_modes = set(meta["freeze_modes"].split(","))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelLoadError(path, f"bad circuitdesk metadata ({exc!r})") from None
        self._shapes = {i.name: i.shape for i in session.get_inputs()}
        self._format = meta.get("format", "?")
        self.holds_errors = "clean_errors" in self._shapes
        """Whether this file can hold error nodes at clean values (format /4 on)."""
        self._clean_key: tuple[int, ...] | None = None
        self._clean: _Clean | None = None

    # ------------------------------------------------------------------ facts
    @property
    def n_layers(self) -> int:
        return self._n_layers

    @property
    def d_transcoder(self) -> int:
        return self._d_transcoder

    @property
    def vocab_size(self) -> int:
        return self._vocab

    # ------------------------------------------------------------------ tokens
    def tokenize(self, prompt: PromptOrIds) -> list[int]:
        """Engine rule (``ensure_tokenized``): no special tokens, then BOS unless one leads."""
        if isinstance(prompt, str):
            ids = list(self.tokenizer.encode(prompt, add_special_tokens=False).ids)
        else:
            ids = [int(t) for t in prompt]
        if not ids:
            raise ModelLoadError("", "the prompt has no tokens")
        if ids[0] not in self._special and self._bos is not None:
            ids = [self._bos, *ids]
        return self._in_vocabulary(ids, self._vocab)

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False).ids]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        # transformers' decode keeps special tokens; overrides hold its other differences.
        return [self._overrides.get(int(i)) or self.tokenizer.decode([int(i)],
                                                                     skip_special_tokens=False)
                for i in ids]

    # ------------------------------------------------------------------ interventions
    def _freeze(self, freeze: FreezeSpec) -> tuple[bool, bool, npt.NDArray[np.bool_]]:
        """``(freeze_patterns, freeze_scales, constrained mask)`` for a freeze spec."""
        cons = np.zeros(self._n_layers, dtype=bool)
        if isinstance(freeze, tuple) and len(freeze) == 2:
            a, b = int(freeze[0]), int(freeze[1])
            if "range" not in self.freeze_modes:
                raise InterventionError(f"freeze range {a}-{b} is not supported by {self.path.name}")
            if not 0 <= a <= b < self._n_layers:
                raise InterventionError(
                    f"freeze range {a}-{b} is outside layers 0-{self._n_layers - 1}")
            cons[a:b + 1] = True
            return True, bool(cons.all()), cons
        if freeze not in ("attention", "none", "all"):
            raise InterventionError(f"freeze mode {freeze!r}: expected attention, none, all or (a, b)")
        if freeze not in self.freeze_modes:
            raise InterventionError(f"freeze mode {freeze!r} is not supported by {self.path.name}")
        if freeze == "all":
            cons[:] = True
        return freeze != "none", freeze == "all", cons

    def _feeds(self, ids: list[int], tables: Sequence[Table],
               flags: tuple[bool, bool, npt.NDArray[np.bool_]], apply: bool,
               clean: _Clean | None, errors_clean: bool = False, activations: bool = False,
               last_only: bool = False) -> dict[str, Any]:
        n, b = len(ids), len(tables)
        sizes = np.array([len(t) for t in tables], dtype=np.int64)
        k = max(1, int(sizes.max(initial=0)))
        table = np.zeros((b, k, 4), dtype=np.float64)
        table[..., 0] = -1  # padding rows name no layer
        if sizes.sum():  # one vectorised fill, no per-entry Python (sweeps send thousands)
            rows = np.repeat(np.arange(b), sizes)
            cols = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            table[rows, cols] = np.concatenate([t for t in tables if len(t)])
        id_arr = np.tile(np.asarray(ids, dtype=np.int64), (b, 1))
        feeds: dict[str, Any] = {
            "input_ids": id_arr, "attention_mask": np.ones_like(id_arr),
            "iv_layer": table[..., 0].astype(np.int64), "iv_pos": table[..., 1].astype(np.int64),
            "iv_feature": table[..., 2].astype(np.int64),
            "iv_value": table[..., 3].astype(np.float32),
            "freeze_patterns": np.array(flags[0]), "freeze_scales": np.array(flags[1]),
            "constrained": flags[2], "apply_activation": np.array(apply),
            # Returning full activations costs output copies; without them, row 0 only.
            "act_rows": np.arange(b if activations else 1, dtype=np.int64),
        }
        if "logit_pos" in self._shapes:  # absent from /2 files
            feeds["logit_pos"] = np.arange(n - 1 if last_only else 0, n, dtype=np.int64)
        if "pattern_rows" in self._shapes:
            # Frozen patterns are the clean ones in every row: compute row 0's only.
            feeds["pattern_rows"] = np.arange(1 if flags[0] else b, dtype=np.int64)
        if self.holds_errors:  # absent before /4
            feeds["errors_clean"] = np.array(errors_clean)
        for name in _CLEAN_INPUTS:
            if name not in self._shapes:
                continue
            if clean is not None:
                feeds[name] = clean[name]
            else:  # nothing frozen: any finite values do (zeros)
                shape = [d if isinstance(d, int) else n for d in self._shapes[name]]
                feeds[name] = np.zeros(shape, dtype=np.float32)
        return feeds

    def _run(self, feeds: dict[str, Any], outputs: list[str]) -> list[Any]:
        try:
            return list(self.session.run(outputs, feeds))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own error types
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InterventionError(f"{self.path.name}: onnxruntime failed: {first}") from None

    @property
    def _records(self) -> list[str]:
        """The row-0 recordings a clean run keeps (``rec_errors`` from /4 on)."""
        return [n.replace("clean_", "rec_") for n in _CLEAN_INPUTS if n in self._shapes]

    def _keep_clean(self, ids: list[int], got: Sequence[Any]) -> None:
        self._clean = {n.replace("rec_", "clean_"): v for n, v in zip(self._records, got)}
        self._clean_key = tuple(ids)

    def _clean_run(self, ids: list[int]) -> _Clean:
        if self._clean is None or self._clean_key != tuple(ids):
            off = (False, False, np.zeros(self._n_layers, dtype=bool))
            self._keep_clean(ids, self._run(self._feeds(ids, [np.zeros((0, 4))], off, True, None),
                                            self._records))
        assert self._clean is not None
        return self._clean

    def _errors_clean(self, errors: ErrorsSpec, constrained: npt.NDArray[np.bool_]) -> bool:
        """Whether errors are held; a file from before /4 refuses ``clean`` (one line)."""
        if parse_errors(errors) == "respond":
            return False
        if not self.holds_errors:
            raise ModelLoadError(self.path, f"written as {self._format}, which cannot hold error "
                                 "nodes at clean values; re-export it with circuitdesk "
                                 "export-onnx (or choose errors respond)")
        return not constrained.any()  # constrained layers keep clean outputs in both modes

    def intervene_batch(self, prompt: PromptOrIds, batch: Sequence[InterventionSet], *,
                        freeze: FreezeSpec = "attention", errors: ErrorsSpec = "respond",
                        return_activations: bool = False, apply_activation_function: bool = True,
                        batch_size: int = 64, last_position_only: bool = False,
                        progress: Progress = no_progress,
                        cancel: CancelToken = NEVER) -> list[InterventionResult]:
        """Independent intervention lists on one prompt, ``batch_size`` rows per run."""
        ids = self.tokenize(prompt)
        flags = self._freeze(freeze)
        held = self._errors_clean(errors, flags[2])
        items = self._tables(batch, len(ids))
        patched = any(len(t) for t in items)
        frozen = flags[0] or flags[1] or bool(flags[2].any()) or held
        if not (frozen and patched):  # freezing applies only when something is patched
            flags, held = (False, False, np.zeros(self._n_layers, dtype=bool)), False
        clean = self._clean_run(ids) if flags[0] or flags[2].any() or held else None
        # A plain run of new ids also keeps its recordings: the next patched batch needs them.
        keep = not patched and self._clean_key != tuple(ids) and len(items) > 0
        outputs = ["logits", "activations"] if return_activations else ["logits"]
        results: list[InterventionResult] = []
        step = max(1, batch_size)
        for start in range(0, len(items), step):
            cancel.check()
            chunk = items[start:start + step]
            feeds = self._feeds(ids, chunk, flags, apply_activation_function, clean, held,
                                return_activations, last_position_only)
            got = self._run(feeds, outputs + (self._records if keep else []))
            if keep:
                self._keep_clean(ids, got[len(outputs):])
                keep = False
            if last_position_only and got[0].shape[1] != 1:  # a /2 file returns every position
                got[0] = got[0][:, -1:]
            results += self._results(got[0][:len(chunk)],
                                     got[1] if return_activations else None, ids)
            progress(min(1.0, (start + len(chunk)) / max(len(items), 1)), "interventions")
        return results

    # ------------------------------------------------------------------ tracing
    def trace(self, prompt: PromptOrIds, *, max_feature_nodes: int | None = None,
              max_n_logits: int = 10, desired_logit_prob: float = 0.95, batch_size: int = 256,
              progress: Progress = no_progress, cancel: CancelToken = NEVER) -> DenseGraphData:
        """Not offered: attribution needs gradients, which the exported graph does not have."""
        raise ModelLoadError(self.path, "tracing attribution graphs is not supported by the onnx "
                             "backend; use the torch backend (pip install 'circuitdesk[models]')")

    def close(self) -> None:
        self.session = None
        self._clean = None


def find_onnx_file(model_dir: str | Path, transcoders_dir: str | Path | None) -> Path:
    """The .onnx file meant by the registry's ``(model_dir, transcoders_dir)`` pair.

    ``model_dir`` may be the file itself. Given a model folder and a transcoder folder (what
    the app finds for a graph), the export is looked for as ``<transcoders folder>.onnx``
    beside the transcoder folder, which is how the bundled demo ships it.

    Raises:
        ModelLoadError: no such file (one line saying what was looked for).
    """
    p = Path(model_dir).expanduser()
    if p.suffix == ".onnx" or p.is_file():
        if not p.is_file():
            raise ModelLoadError(p, "ONNX file does not exist")
        return p
    if transcoders_dir is not None:
        t = Path(transcoders_dir).expanduser()
        cand = t.with_name(t.name + ".onnx")
        if cand.is_file():
            return cand
        raise ModelLoadError(p, f"the onnx backend needs an exported file (circuitdesk "
                             f"export-onnx); none at {cand}")
    raise ModelLoadError(p, "the onnx backend needs an .onnx file written by circuitdesk "
                         "export-onnx, not a model folder")


def open_onnx_backend(model_dir: str | Path | None, transcoders_dir: str | Path | None = None, *,
                      threads: int | None = None, progress: Progress = no_progress,
                      cancel: CancelToken = NEVER, **_: Any) -> OnnxBackend:
    """Open an exported replacement model (``model_dir`` = the .onnx file, see
    :func:`find_onnx_file`).

    Raises:
        ModelLoadError: missing or foreign file, missing tokenizer (one line naming the file).
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    if model_dir is None:
        raise ModelLoadError("", "the onnx backend needs an .onnx file (circuitdesk export-onnx)")
    path = find_onnx_file(model_dir, transcoders_dir)
    progress(0.0, "loading onnx model")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # no warnings on stderr
    # Spinning worker threads cost up to 2-3x on a CPU shared with other work (measured on
    # the demo sweep: 54 ms spinning vs 20-27 ms without); the GUI also idles between calls.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own error types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(path, f"not a loadable ONNX model: {first}") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    if meta.get("format") not in FORMATS:
        raise ModelLoadError(path, f"not a circuitdesk export (format {meta.get('format')!r}, "
                             f"expected {FORMAT!r})")
    cancel.check()
    tok_path = path.with_name(meta.get("tokenizer") or _tokenizer_file(path).name)
    try:
        tokenizer = Tokenizer.from_file(str(tok_path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception
        raise ModelLoadError(tok_path, f"no usable tokenizer beside the ONNX file: {exc}") from None
    progress(1.0, "ready")
    return OnnxBackend(path, session, tokenizer, meta)
