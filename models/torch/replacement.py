"""A Hugging Face causal LM plus transcoders, instrumented with plain forward hooks.

The hooks sit where circuit-tracer's nnsight mapping puts the engine's hook points
(``utils/tl_nnsight_mapping.py``):

* feature input: ``mlp.hook_in`` / ``ln2.hook_normalized`` = output of the norm before the
  MLP (Llama-like: ``post_attention_layernorm``; Gemma-2/3: ``pre_feedforward_layernorm``);
  ``hook_resid_mid`` = that norm's input.
* feature output: ``mlp.hook_out`` / ``hook_mlp_out`` = the MLP's output (Llama-like) or the
  ``post_feedforward_layernorm`` output (Gemma).
* attention patterns: the softmax inside a registered attention function (eager maths);
* norm scales: every RMSNorm's ``rsqrt(mean(x²) + eps)``, recomputed in a forward hook when
  it must be frozen or cut from the gradient.

What a forward pass does at those sites is decided by a *run* object (see
:mod:`circuitdesk.models.torch.runs`); with no run installed the hooks return at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..protocol import ModelLoadError
from .transcoders import HOOK_ALIASES, Transcoders

ATTN_NAME = "circuitdesk"


class Run:
    """Does nothing at every site; subclasses override what they need."""

    def scale_for(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The scale this run gives norm ``idx`` (live, frozen or cut from the gradient)."""
        return norm_scale(module, x)

    def on_norm(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def on_pattern(self, layer: int, weights: torch.Tensor) -> torch.Tensor:
        return weights

    def on_in(self, layer: int, x: torch.Tensor) -> None:
        return None

    def on_out(self, layer: int, out: torch.Tensor) -> torch.Tensor | None:
        return None

    def on_embed(self, out: torch.Tensor) -> torch.Tensor | None:
        return None

    def on_final(self, out: torch.Tensor) -> None:
        return None


def norm_scale(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``rsqrt(mean(x²) + eps)`` in float32, shape ``[..., 1]``, as the HF RMSNorms compute it."""
    eps = float(getattr(module, "variance_epsilon", getattr(module, "eps", 1e-6)))
    xf = x.to(torch.float32)
    return torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)


def norm_apply(module: nn.Module, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The RMSNorm's output for input ``x`` with a given (frozen or detached) scale."""
    xf = x.to(torch.float32) * scale
    weight: torch.Tensor = module.weight  # type: ignore[assignment]
    if type(module).__name__.startswith("Gemma"):
        # Gemma norms scale by (1 + w) in float32 before casting back.
        return (xf * (1.0 + weight.float())).type_as(x)
    return weight * xf.to(x.dtype)


def _attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, dropout: float = 0.0,
               scaling: float | None = None, softcap: float | None = None,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (as in HF's ``eager_attention_forward``) with the pattern exposed."""
    if scaling is None:
        scaling = float(getattr(module, "head_dim", query.shape[-1])) ** -0.5
    groups = query.shape[1] // key.shape[1]
    k = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    v = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    w = torch.matmul(query, k.transpose(2, 3)) * scaling
    if softcap is not None:
        w = torch.tanh(w / softcap) * softcap
    if attention_mask is not None:
        w = w + attention_mask[:, :, :, : k.shape[-2]]
    w = nn.functional.softmax(w, dim=-1, dtype=torch.float32).to(query.dtype)
    ref = getattr(module, "_circuitdesk_owner", None)
    owner = ref() if ref is not None else None
    if owner is not None and owner.run is not None:
        w = owner.run.on_pattern(module.layer_idx, w)
    out = torch.matmul(w, v).transpose(1, 2).contiguous()
    return out, w


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTN_NAME, _attention)
    AttentionMaskInterface.register(ATTN_NAME, eager_mask)


def ensure_tokenized(tokenizer: Any, prompt: str | Sequence[int]) -> list[int]:
    """circuit-tracer's ``ensure_tokenized``: no special tokens, then a BOS-like token first.

    The first non-falsy id of (bos, pad, eos, *all_special_ids) is prepended unless the
    sequence already starts with a special token (the engine's ``filter(None, …)`` skips id 0).
    """
    if isinstance(prompt, str):
        ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    else:
        ids = [int(t) for t in prompt]
    if not ids:
        raise ModelLoadError("", "the prompt has no tokens")
    special = list(tokenizer.all_special_ids)
    if ids[0] in special:
        return ids
    candidates = [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, *special]
    bos = next(filter(None, candidates), None)
    return ids if bos is None else [int(bos), *ids]


class ReplacementModel:
    """The HF model with hooks at the engine's sites and a slot for the current run."""

    def __init__(self, hf_model: Any, tokenizer: Any, transcoders: Transcoders) -> None:
        self.hf = hf_model
        self.tokenizer = tokenizer
        cfg = hf_model.config
        self.run: Run | None = None
        self.layers = list(hf_model.base_model.layers)
        n_layers, d_model = len(self.layers), int(cfg.hidden_size)
        if transcoders.n_layers != n_layers:
            raise ModelLoadError(transcoders.path, f"transcoders cover {transcoders.n_layers} "
                                 f"layers but the model has {n_layers}")
        if transcoders.d_model != d_model:
            raise ModelLoadError(transcoders.path, f"transcoder d_model {transcoders.d_model} "
                                 f"!= model hidden size {d_model}")
        p = next(hf_model.parameters())
        self.dtype, self.device = p.dtype, p.device
        self.tc = transcoders.to(self.dtype, self.device)
        self.n_layers, self.d_model = n_layers, d_model
        self.final_softcap = getattr(cfg, "final_logit_softcapping", None)
        self._handles: list[Any] = []
        _register_attention()
        hf_model.set_attn_implementation(ATTN_NAME)
        self._install()

    # ------------------------------------------------------------------ hooks
    def _install(self) -> None:
        me = weakref.ref(self)
        gemma = hasattr(self.layers[0], "pre_feedforward_layernorm")
        norms = [m for m in self.hf.modules() if type(m).__name__.endswith("RMSNorm")]
        norm_idx = {id(m): i for i, m in enumerate(norms)}
        for idx, m in enumerate(norms):
            self._handles.append(m.register_forward_hook(_norm_hook(me, idx)))
        in_site = HOOK_ALIASES[self.tc.input_hook]
        out_site = HOOK_ALIASES[self.tc.output_hook]
        for layer, block in enumerate(self.layers):
            block.self_attn._circuitdesk_owner = me
            norm = block.pre_feedforward_layernorm if gemma else block.post_attention_layernorm
            if in_site == "mlp_in":
                h = norm.register_forward_hook(
                    lambda _m, _a, out, layer=layer: _call(me, "on_in", layer, out))
            elif in_site == "normalized":
                h = norm.register_forward_hook(_normalized_hook(me, layer, norm_idx[id(norm)]))
            else:
                h = norm.register_forward_pre_hook(
                    lambda _m, args, layer=layer: _call(me, "on_in", layer, args[0]))
            self._handles.append(h)
            if out_site != "mlp_out":
                raise ModelLoadError(self.tc.path, f"feature_output_hook {self.tc.output_hook}"
                                     " is not supported")
            out_mod = block.post_feedforward_layernorm if gemma else block.mlp
            self._handles.append(out_mod.register_forward_hook(
                lambda _m, _a, out, layer=layer: _call(me, "on_out", layer, out)))
        base = self.hf.base_model
        self._handles.append(base.embed_tokens.register_forward_hook(
            lambda _m, _a, out: _call(me, "on_embed", out)))
        self._handles.append(base.norm.register_forward_hook(
            lambda _m, _a, out: _call(me, "on_final", out)))

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.run = None

    # ------------------------------------------------------------------ running
    def forward(self, ids: torch.Tensor, run: Run | None, *, logits: bool = True,
                last_only: bool = False) -> torch.Tensor:
        """Run ``ids [B, n]`` under ``run``; returns logits ``[B, n, V]`` (``[B, 1, V]`` with
        ``last_only``) or the final hidden."""
        self.run = run
        try:
            out: torch.Tensor
            if logits:
                out = self.hf(input_ids=ids, use_cache=False,
                              logits_to_keep=1 if last_only else 0).logits
            else:
                out = self.hf.base_model(input_ids=ids, use_cache=False).last_hidden_state
            return out
        finally:
            self.run = None

    def unembed(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits of final hidden states, as the HF model's head computes them (softcap too)."""
        logits: torch.Tensor = self.hf.get_output_embeddings()(hidden)
        if self.final_softcap:
            logits = torch.tanh(logits / self.final_softcap) * self.final_softcap
        return logits

    @property
    def vocab_size(self) -> int:
        """Rows of the unembedding, read without materialising it (see :attr:`w_u`)."""
        return int(self.hf.get_output_embeddings().out_features)

    @property
    def w_u(self) -> torch.Tensor:
        """Unembedding ``[V, d]`` (a fresh upcast when the weights stay in a narrower file dtype)."""
        w: torch.Tensor = self.hf.get_output_embeddings().weight
        return w

    @property
    def w_e(self) -> torch.Tensor:
        """Embedding ``[V, d]`` (before any model-specific scaling)."""
        w: torch.Tensor = self.hf.get_input_embeddings().weight
        return w


def _call(ref: weakref.ref[ReplacementModel], name: str, *args: Any) -> Any:
    owner = ref()
    if owner is None or owner.run is None:
        return None
    return getattr(owner.run, name)(*args)


def _normalized_hook(ref: weakref.ref[ReplacementModel], layer: int, idx: int) -> Any:
    """``ln2.hook_normalized``: the norm's input times its scale, before the weight."""
    def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> None:
        owner = ref()
        if owner is None or owner.run is None:
            return
        x = args[0]
        owner.run.on_in(layer, x.to(torch.float32) * owner.run.scale_for(idx, module, x))
        return
    return hook


def _norm_hook(ref: weakref.ref[ReplacementModel], idx: int) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], out: torch.Tensor) -> Any:
        owner = ref()
        if owner is None or owner.run is None:
            return None
        return owner.run.on_norm(idx, module, args[0])
    return hook
