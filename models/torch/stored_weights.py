"""Weight matrices kept in their file's lower precision, memory-mapped, upcast where used.

A bf16 checkpoint computing in float32 on the CPU: filling float32 parameters costs the
model's size in fresh pages and a conversion of every weight (4.6 GiB and about 5 s of a
Llama-3.2-1B's load, issue 17). bf16→fp32 and fp16→fp32 are exact, so a Linear that upcasts
its mapped weight right before the matmul computes bit for bit what a float32 parameter
computes, and the weights cost only the file's pages (shared with the page cache).

* :class:`StoredLinear` upcasts into one scratch buffer per model (a fresh 64 MiB tensor per
  matmul page-faults every time: twice the matmul's cost measured); a vocabulary-sized head
  is upcast in row chunks that fit the buffer, never whole.
* :class:`StoredEmbedding` gathers the rows in the file's dtype, then upcasts them: the
  vocabulary matrix is never converted for a lookup.
* With autograd on, each use gets a fresh upcast: backward keeps the weight it used, and a
  shared buffer would have been overwritten by then; an ONNX export traces one cast per weight.

``weight`` stays readable on both (a full upcast), for code that needs the whole matrix.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SCRATCH_ELEMENTS = 1 << 25
"""Largest upcast held at once without autograd (128 MiB of float32); bigger weights, such as
a vocabulary head, are upcast in row chunks of at most this size."""


def fresh_upcasts() -> bool:
    """Autograd keeps each weight it used until backward, and a traced export (ONNX) must see
    one plain cast per weight: both get a fresh upcast instead of the shared buffer."""
    return torch.is_grad_enabled() or torch.onnx.is_in_onnx_export()


class Scratch:
    """One reusable buffer of the compute dtype for every upcast of a model."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.buf = torch.empty(0, dtype=dtype)

    def upcast(self, w: torch.Tensor) -> torch.Tensor:
        if fresh_upcasts():
            return w.to(self.dtype)
        n = w.numel()
        if self.buf.numel() < n or self.buf.device != w.device:
            # A normal tensor even under inference_mode: a later no_grad pass writes it too.
            with torch.inference_mode(False):
                self.buf = torch.empty(n, dtype=self.dtype, device=w.device)
        return self.buf[:n].view(w.shape).copy_(w)


class StoredLinear(nn.Module):
    """``nn.Linear`` whose weight stays in its storage dtype; the result equals a Linear with
    the weight converted to the compute dtype."""

    def __init__(self, stored: torch.Tensor, bias: nn.Parameter | None, scratch: Scratch) -> None:
        super().__init__()
        self.out_features, self.in_features = (int(s) for s in stored.shape)
        self.stored: torch.Tensor
        self.register_buffer("stored", stored, persistent=False)
        self.bias = bias
        self._scratch = scratch

    @property
    def weight(self) -> torch.Tensor:
        return self.stored.to(self._scratch.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, sc = self.stored, self._scratch
        rows = max(1, SCRATCH_ELEMENTS // max(1, self.in_features))
        if fresh_upcasts() or w.shape[0] <= rows:
            return F.linear(x, sc.upcast(w), self.bias)
        b = self.bias
        return torch.cat([F.linear(x, sc.upcast(w[i:i + rows]),
                                   None if b is None else b[i:i + rows])
                          for i in range(0, w.shape[0], rows)], dim=-1)


class StoredEmbedding(nn.Module):
    """``nn.Embedding`` (or a scaled word embedding: rows times ``embed_scale`` in the compute
    dtype, as Gemma 3's) that gathers rows in the storage dtype, then upcasts them."""

    def __init__(self, stored: torch.Tensor, scratch: Scratch,
                 embed_scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = (int(s) for s in stored.shape)
        self.stored: torch.Tensor
        self.register_buffer("stored", stored, persistent=False)
        self.embed_scale: torch.Tensor | None
        self.register_buffer("embed_scale", embed_scale, persistent=False)
        self._scratch = scratch

    @property
    def weight(self) -> torch.Tensor:
        return self.stored.to(self._scratch.dtype)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = F.embedding(ids, self.stored).to(self._scratch.dtype)
        if self.embed_scale is not None:
            out = out * self.embed_scale.to(self._scratch.dtype)
        return out


def storable(module: nn.Module) -> bool:
    """Whether ``module``'s forward is one the stored modules reproduce exactly."""
    if type(module) is nn.Linear:
        return True
    if type(module) is nn.Embedding:
        return module.max_norm is None  # max_norm renormalises the weight in place
    return (isinstance(module, nn.Embedding) and type(module).__name__.endswith(
        "ScaledWordEmbedding") and isinstance(getattr(module, "embed_scale", None), torch.Tensor)
        and module.max_norm is None)


def is_narrower(stored: torch.dtype, compute: torch.dtype) -> bool:
    """True when ``stored`` → ``compute`` is an exact widening of floating types."""
    return (stored.is_floating_point and compute.is_floating_point
            and torch.finfo(stored).bits < torch.finfo(compute).bits)


def replace_with_stored(model: nn.Module, stored: dict[int, torch.Tensor],
                        dtype: torch.dtype) -> None:
    """Swap every storable module whose weight (by ``id``) is in ``stored`` for its stored
    counterpart holding that tensor; tied weights share one stored tensor."""
    scratch = Scratch(dtype)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            w = getattr(child, "weight", None)
            if not isinstance(w, nn.Parameter) or id(w) not in stored or not storable(child):
                continue
            new: nn.Module
            if isinstance(child, nn.Linear):
                new = StoredLinear(stored[id(w)], child.bias, scratch)
            else:
                scale: Any = getattr(child, "embed_scale", None)
                new = StoredEmbedding(stored[id(w)], scratch, scale)
            setattr(parent, name, new)
