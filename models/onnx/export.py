"""Export a loaded replacement model (HF model + transcoders) to one ONNX file.

The exported graph runs one batched forward pass with circuit-tracer's ``feature_intervention``
semantics (FORMATS.md §5), using the same hooks as the torch backend
(:mod:`circuitdesk.models.torch.replacement`). Everything that varies between calls is a tensor
input, so one graph serves every intervention list and freeze mode:

========================  ================================  =======================================
input                     shape / dtype                     meaning
========================  ================================  =======================================
``input_ids``             ``[B, n]`` int64                  the same prompt in every row
``attention_mask``        ``[B, n]`` int64                  ones (the legacy exporter needs it)
``iv_layer``              ``[B, K]`` int64                  intervention rows; layer -1 = padding
``iv_pos``                ``[B, K]`` int64                  position (BOS counts)
``iv_feature``            ``[B, K]`` int64                  feature index
``iv_value``              ``[B, K]`` float32                new absolute activation
``freeze_patterns``       ``[]`` bool                       attention patterns from the clean run
``freeze_scales``         ``[]`` bool                       norm scales from the clean run
``constrained``           ``[L]`` bool                      MLP outputs frozen, deltas only there
``apply_activation``      ``[]`` bool                       activations (else pre-activations)
``act_rows``              ``[R]`` int64                     rows whose activations are returned
``logit_pos``             ``[P]`` int64                     positions whose logits are returned
``pattern_rows``          ``[Q]`` int64                     rows whose attention patterns are
                                                            computed: all rows, or ``[0]`` when
                                                            patterns are frozen (every row then
                                                            uses the clean ones)
``clean_patterns``        ``[L, H, n, n]`` float32          clean-run tensors (``rec_*`` outputs of
``clean_ins``             ``[L, n, d]`` float32             a plain run; zeros when nothing is
``clean_outs``            ``[L, n, d]`` float32             frozen)
``clean_scales``          ``[n, S]`` float32
``errors_clean``          ``[]`` bool                       hold errors at clean values: outside
                                                            constrained layers, each MLP output is
                                                            b_dec (+ skip) + the reconstruction
                                                            of the current activations +
                                                            ``clean_errors``
``clean_errors``          ``[L, n, d]`` float32             clean MLP output − clean
                                                            reconstruction (``rec_errors``)
========================  ================================  =======================================

Interventions go in as one scatter into a dense ``[B, n, F]`` change per layer, decoded with
one matmul; the encoder runs on every row (the deltas and held errors need the live values).
On the demo (F = 256) this took a 21-set sweep batch from 50 ms to 5 ms; the matmul costs
``B·n·F·d`` per layer whatever the number of interventions, which for very wide transcoders
is more than the gather of only the intervened rows that /3 files do.

Outputs: ``logits [B, P, V]``, ``activations [R, L, n, F]`` (rows ``act_rows``) and the row-0 recordings
``rec_patterns``, ``rec_ins``, ``rec_outs``, ``rec_scales``, ``rec_errors`` (same shapes as the
``clean_*`` inputs; row 0's pattern is computed only when 0 is in ``pattern_rows``), which the
onnxruntime backend keeps from a plain run and feeds back when freezing.
Facts about the model go into the file's ``metadata_props`` (see :data:`META_KEYS`); the
tokenizer is written beside it as ``<OUT>.tokenizer.json``.

Imports torch; used by ``circuitdesk export-onnx`` only.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..protocol import ModelLoadError
from .attention import EXPORT_ATTN, rotary_rows_first, use_attention
from ..torch.replacement import ATTN_NAME, ReplacementModel, Run, norm_apply, norm_scale
from ..torch.runs import RecordRun

FORMAT = "circuitdesk-replacement-onnx/4"
"""/4 added errors_clean, clean_errors and rec_errors; /3 added logit_pos and pattern_rows."""
INPUT_NAMES = ("input_ids", "attention_mask", "iv_layer", "iv_pos", "iv_feature", "iv_value",
               "freeze_patterns", "freeze_scales", "constrained", "apply_activation", "act_rows",
               "clean_patterns", "clean_ins", "clean_outs", "clean_scales", "logit_pos",
               "pattern_rows", "errors_clean", "clean_errors")
OUTPUT_NAMES = ("logits", "activations", "rec_patterns", "rec_ins", "rec_outs", "rec_scales",
                "rec_errors")
FREEZE_MODES = "attention,none,all,range"
META_KEYS = ("format", "model_name", "scan", "transcoder_kind", "n_layers", "d_transcoder",
             "d_model", "n_heads", "vocab_size", "bos_id", "special_ids", "freeze_modes",
             "input_hook", "output_hook", "tokenizer", "token_string_overrides")
"""Keys written to ``metadata_props`` (JSON-encoded values where not plain strings)."""


def tokenizer_path(onnx_path: str | Path) -> Path:
    """Where the tokenizer of ``OUT.onnx`` lives: ``OUT.tokenizer.json`` beside it."""
    p = Path(onnx_path)
    return p.with_name(p.stem + ".tokenizer.json")


@dataclass(frozen=True)
class _Layout:
    """Shapes learnt from one eager clean pass: which norms exist and their scale shapes."""

    norm_ids: tuple[int, ...]
    scale_rest: tuple[tuple[int, ...], ...]  # per norm: scale shape after [batch, pos]
    n_heads: int

    @property
    def widths(self) -> list[int]:
        return [int(torch.tensor(r).prod()) if r else 1 for r in self.scale_rest]


def _probe(rm: ReplacementModel) -> _Layout:
    run = RecordRun()
    with torch.no_grad():
        rm.forward(torch.tensor([[1, 2, 3]], device=rm.device), run)
    ids = tuple(sorted(run.scales))
    rest = tuple(tuple(int(s) for s in run.scales[i].shape[2:]) for i in ids)
    return _Layout(ids, rest, int(run.patterns[0].shape[1]))


class _GraphRun(Run):
    """:class:`~circuitdesk.models.torch.runs.PatchRun` with every choice as a tensor (traceable)."""

    def __init__(self, rm: ReplacementModel, layout: _Layout, t: dict[str, torch.Tensor]) -> None:
        self.rm, self.layout, self.t = rm, layout, t
        n_layers = rm.n_layers
        cons = t["constrained"].to(torch.float32)  # onnxruntime has no Where on bool data
        self.any_constrained = cons.max() > 0
        # Deltas land everywhere when nothing is constrained, else only in the constrained range.
        self.in_range = torch.where(self.any_constrained, cons, torch.ones_like(cons))
        # Errors are held only where nothing is constrained (constrained outputs stay clean).
        self.errors_clean = t["errors_clean"] & ~self.any_constrained
        self.clean_scale = self._split_scales(t["clean_scales"])
        self.acts: dict[int, torch.Tensor] = {}
        self.rec_scales: dict[int, torch.Tensor] = {}
        self.rec_patterns: dict[int, torch.Tensor] = {}
        self.rec_ins: dict[int, torch.Tensor] = {}
        self.rec_outs: dict[int, torch.Tensor] = {}
        self.rec_errors: dict[int, torch.Tensor] = {}
        self._recon: dict[int, torch.Tensor] = {}
        self._x: dict[int, torch.Tensor] = {}
        self._deltas: dict[int, torch.Tensor] = {}
        self._n_layers = n_layers
        self.rows_taken = False  # see onnx_attention

    def _split_scales(self, packed: torch.Tensor) -> dict[int, torch.Tensor]:
        out, off = {}, 0
        for idx, rest, w in zip(self.layout.norm_ids, self.layout.scale_rest, self.layout.widths):
            out[idx] = packed[:, off:off + w].reshape(1, -1, *rest)
            off += w
        return out

    def _scale(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        live = norm_scale(module, x)
        self.rec_scales[idx] = live[0].flatten(1)
        return torch.where(self.t["freeze_scales"], self.clean_scale[idx].expand_as(live), live)

    def scale_for(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self._scale(idx, module, x)

    def on_norm(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        # Always recomputed (same maths as the HF norms) so a flag can swap in frozen scales.
        return norm_apply(module, x, self._scale(idx, module, x))

    def on_pattern(self, layer: int, weights: torch.Tensor) -> torch.Tensor:
        self.rec_patterns[layer] = weights[0]
        clean = self.t["clean_patterns"][layer].unsqueeze(0).to(weights.dtype)
        return torch.where(self.t["freeze_patterns"], clean.expand_as(weights), weights)

    def on_in(self, layer: int, x: torch.Tensor) -> None:
        tc, t = self.rm.tc, self.t
        b, n, f = x.shape[0], x.shape[-2], tc.d_transcoder
        keep = (torch.arange(n, device=x.device) > 0).to(tc.w_enc.dtype)[:, None]
        # Position 0 (BOS) has no features; activate(0) is 0 for ReLU and JumpReLU alike.
        pre = tc.encode(layer, x, False) * keep  # [B, n, F]: every row, dense
        post = tc.activate(layer, pre)
        rows = t["act_rows"]
        self.acts[layer] = torch.where(t["apply_activation"], post, pre).index_select(0, rows)
        self.rec_ins[layer] = x[0]
        self._x[layer] = x
        clean = tc.activate(layer, tc.encode(layer, t["clean_ins"][layer].to(x.dtype), False)
                            * keep)  # [n, F]
        # Interventions as one scatter into a dense [B, n·F] change: a gather per entry of
        # [B, K, d] vectors (the former way) cost most of a sweep with K in the hundreds.
        idx = t["iv_pos"] * f + t["iv_feature"]  # [B, K]
        live = post.reshape(b, n * f).gather(1, idx)
        then = clean.reshape(n * f)[idx]
        # Constrained runs measure deltas from the clean activations (no propagation).
        now = torch.where(self.any_constrained, then, live)
        hit = (t["iv_layer"] == layer).to(live.dtype)  # padding and other layers: no change
        delta = hit * (t["iv_value"].to(live.dtype) - now)
        change = torch.zeros_like(post.reshape(b, n * f)).scatter_add(1, idx, delta)
        # Held errors: the reconstruction of the current (patched) activations replaces the
        # MLP output, so the activations themselves go through the decoder too.
        change = change.reshape(b, n, f) + post * self.errors_clean.to(post.dtype)
        self._decode(self._deltas, layer, change)
        self._decode(self._recon, layer, post[:1])  # row 0's reconstruction, for rec_errors

    def _decode(self, into: dict[int, torch.Tensor], layer: int, acts: torch.Tensor) -> None:
        """``acts [B, n, F] @ W_dec`` added to the layers that ``layer``'s features write to."""
        tc = self.rm.tc
        dec = tc.w_dec[layer].to(acts.dtype)  # PLT [F, d]; CLT [F, L - layer, d]
        if tc.kind == "plt":
            dec = dec.unsqueeze(1)
        out = (acts @ dec.flatten(1)).unflatten(  # type: ignore[no-untyped-call]
            -1, (dec.shape[1], dec.shape[2]))
        for j in range(dec.shape[1]):
            prev = into.get(layer + j)
            into[layer + j] = out[..., j, :] if prev is None else prev + out[..., j, :]

    def on_out(self, layer: int, out: torch.Tensor) -> torch.Tensor:
        self.rec_outs[layer] = out[0]
        tc, t = self.rm.tc, self.t
        skip = tc.skip(layer, self._x[layer])
        bias = tc.b_dec[layer].to(out.dtype)
        if skip is not None:
            bias = bias + skip  # [B, n, d]
        # Row 0's error: its MLP output minus its reconstruction (kept from a plain run).
        self.rec_errors[layer] = out[0] - self._recon[layer][0] - (
            bias[0] if skip is not None else bias)
        clean = t["clean_outs"][layer].unsqueeze(0).to(out.dtype).expand_as(out)
        if skip is not None:
            then = tc.skip(layer, t["clean_ins"][layer].unsqueeze(0).to(out.dtype))
            assert then is not None
            clean = clean + (skip - then)
        held = bias + t["clean_errors"][layer].unsqueeze(0).to(out.dtype)  # + recon (deltas)
        new = torch.where(t["constrained"][layer], clean,
                          torch.where(self.errors_clean, held.expand_as(out), out))
        delta = self._deltas.get(layer)
        if delta is not None:
            new = new + delta * self.in_range[layer].to(out.dtype)
        return new


def _f32(x: torch.Tensor) -> torch.Tensor:
    # .float() on a float32 tensor still becomes a Cast node (3 ms on [64, 4, 19, 512]).
    return x if x.dtype == torch.float32 else x.float()


class ReplacementGraph(nn.Module):
    """The module that is exported: one forward pass with tensor-valued interventions."""

    def __init__(self, rm: ReplacementModel, layout: _Layout) -> None:
        super().__init__()
        self.rm, self.layout = rm, layout
        self.hf = rm.hf  # registered so the exporter sees the parameters as initializers

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        t = dict(zip(INPUT_NAMES, inputs))
        run = _GraphRun(self.rm, self.layout, t)
        self.rm.run = run
        try:
            # A position tensor makes HF apply lm_head (and any softcap) to those positions only.
            logits = self.hf(input_ids=t["input_ids"], attention_mask=t["attention_mask"],
                             use_cache=False, logits_to_keep=t["logit_pos"]).logits
        finally:
            self.rm.run = None
        L = self.rm.n_layers
        acts = torch.stack([run.acts[i] for i in range(L)], dim=1)
        patterns = torch.stack([run.rec_patterns[i] for i in range(L)])
        ins = torch.stack([_f32(run.rec_ins[i]) for i in range(L)])
        outs = torch.stack([_f32(run.rec_outs[i]) for i in range(L)])
        scales = torch.cat([run.rec_scales[i] for i in self.layout.norm_ids], dim=1)
        errors = torch.stack([_f32(run.rec_errors[i]) for i in range(L)])
        return tuple(_f32(x) for x in (logits, acts, patterns, ins, outs, scales, errors))


def example_inputs(rm: ReplacementModel, layout: _Layout, batch: int = 2, n_pos: int = 5,
                   n_iv: int = 2) -> tuple[torch.Tensor, ...]:
    """Inputs of the right shapes (batch ≥ 2 so no axis is specialised to 1 while tracing)."""
    L, d, S = rm.n_layers, rm.d_model, sum(layout.widths)
    ids = torch.ones(batch, n_pos, dtype=torch.long)
    return (ids, torch.ones_like(ids), torch.full((batch, n_iv), -1, dtype=torch.long),
            torch.zeros(batch, n_iv, dtype=torch.long), torch.zeros(batch, n_iv, dtype=torch.long),
            torch.zeros(batch, n_iv), torch.tensor(False), torch.tensor(False),
            torch.zeros(L, dtype=torch.bool), torch.tensor(True), torch.arange(batch),
            torch.zeros(L, layout.n_heads, n_pos, n_pos), torch.zeros(L, n_pos, d),
            torch.zeros(L, n_pos, d), torch.zeros(n_pos, S), torch.arange(n_pos),
            torch.arange(batch), torch.tensor(False), torch.zeros(L, n_pos, d))


_DYNAMIC: dict[str, dict[int, str]] = {
    "input_ids": {0: "batch", 1: "n_pos"}, "attention_mask": {0: "batch", 1: "n_pos"},
    "iv_layer": {0: "batch", 1: "n_iv"}, "iv_pos": {0: "batch", 1: "n_iv"},
    "iv_feature": {0: "batch", 1: "n_iv"}, "iv_value": {0: "batch", 1: "n_iv"},
    "act_rows": {0: "n_rows"}, "logit_pos": {0: "n_logits"}, "pattern_rows": {0: "n_pattern_rows"},
    "clean_patterns": {2: "n_pos", 3: "n_pos"}, "clean_ins": {1: "n_pos"},
    "clean_outs": {1: "n_pos"}, "clean_scales": {0: "n_pos"}, "clean_errors": {1: "n_pos"},
    "logits": {0: "batch", 1: "n_logits"}, "activations": {0: "n_rows", 2: "n_pos"},
    "rec_patterns": {2: "n_pos", 3: "n_pos"}, "rec_ins": {1: "n_pos"}, "rec_outs": {1: "n_pos"},
    "rec_scales": {0: "n_pos"}, "rec_errors": {1: "n_pos"},
}


def _token_overrides(tokenizer: Any) -> dict[str, str]:
    """Ids whose transformers decoding differs from the raw ``tokenizers`` decoding."""
    raw = tokenizer.backend_tokenizer
    out: dict[str, str] = {}
    for i in range(len(tokenizer)):
        want = tokenizer.decode([i])
        if raw.decode([i], skip_special_tokens=False) != want:
            out[str(i)] = want
    return out


def _metadata(backend: Any, rm: ReplacementModel, layout: _Layout, tok_name: str,
              model_name: str | None) -> dict[str, str]:
    tk = rm.tokenizer
    special = sorted(int(i) for i in tk.all_special_ids)
    # The BOS the engine prepends (ensure_tokenized's choice), or null when it prepends none.
    cands = [tk.bos_token_id, tk.pad_token_id, tk.eos_token_id, *tk.all_special_ids]
    bos = next(filter(None, cands), None)
    meta: dict[str, Any] = {
        "format": FORMAT, "model_name": model_name or backend.model_name, "scan": json.dumps(rm.tc.scan),
        "transcoder_kind": rm.tc.kind, "n_layers": rm.n_layers,
        "d_transcoder": rm.tc.d_transcoder, "d_model": rm.d_model, "n_heads": layout.n_heads,
        "vocab_size": rm.vocab_size, "bos_id": json.dumps(bos),
        "special_ids": json.dumps(special), "freeze_modes": FREEZE_MODES,
        "input_hook": rm.tc.input_hook, "output_hook": rm.tc.output_hook, "tokenizer": tok_name,
        "token_string_overrides": json.dumps(_token_overrides(tk)),
    }
    return {k: str(v) for k, v in meta.items()}


def export_backend(backend: Any, out: str | Path, *, model_name: str | None = None,
                   opset: int = 18, progress: Progress = no_progress,
                   cancel: CancelToken = NEVER) -> Path:
    """Write ``out`` (one .onnx file) and ``<out stem>.tokenizer.json`` for a torch backend.

    Args:
        backend: An open :class:`~circuitdesk.models.torch.backend.TorchBackend` (float32).
        out: The .onnx file to write.
        model_name: Name recorded in the file (default: the backend's ``model_name``).
        opset: ONNX opset of the legacy (TorchScript) exporter.
        progress: Progress sink.
        cancel: Cancel token, checked before the slow steps.

    Raises:
        ModelLoadError: the model is not float32, or the file cannot be written.
    """
    import onnx

    rm: ReplacementModel = backend.rm
    out = Path(out)
    if rm.dtype != torch.float32:
        raise ModelLoadError(out, f"export needs a float32 model, not {rm.dtype}")
    progress(0.0, "probing shapes")
    layout = _probe(rm)
    module = ReplacementGraph(rm, layout).eval()
    cancel.check()
    progress(0.1, "exporting")
    use_attention(rm.hf, EXPORT_ATTN)
    try:
        with warnings.catch_warnings(), torch.no_grad(), rotary_rows_first(rm):
            warnings.simplefilter("ignore")  # tracer warnings about Python values in HF code
            torch.onnx.export(module, example_inputs(rm, layout), str(out),
                              input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                              dynamic_axes=_DYNAMIC, opset_version=opset, dynamo=False,
                              do_constant_folding=True)
    finally:
        use_attention(rm.hf, ATTN_NAME)  # the backend keeps working after an export
    cancel.check()
    progress(0.8, "writing metadata and tokenizer")
    tok = tokenizer_path(out)
    rm.tokenizer.backend_tokenizer.save(str(tok))
    model = onnx.load(str(out))
    for key, value in _metadata(backend, rm, layout, tok.name, model_name).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "circuitdesk"
    onnx.save(model, str(out))
    progress(1.0, "done")
    return out


def export_onnx(model_dir: str | Path, transcoders_dir: str | Path, out: str | Path, *,
                model_name: str | None = None, progress: Progress = no_progress,
                cancel: CancelToken = NEVER) -> Path:
    """Load a model folder and transcoder folder with the torch backend and export them."""
    from ..torch.backend import open_torch_backend

    backend = open_torch_backend(model_dir, transcoders_dir, dtype="float32", cancel=cancel)
    try:
        return export_backend(backend, out, model_name=model_name, progress=progress,
                              cancel=cancel)
    finally:
        backend.close()
