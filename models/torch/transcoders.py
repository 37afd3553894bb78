"""Transcoders in one torch representation: encoders in memory, decoders mapped from disk.

Every layout circuit-tracer 0.5.x reads (:func:`.transcoder_formats.load_transcoders`) becomes one
:class:`Transcoders`. Encoders, biases, thresholds and skip weights are read once, in the
compute dtype; decoders stay memory-mapped in the file's dtype and only the rows an
intervention, a sweep or a trace asks for are read (:meth:`Transcoders.decoder_rows`), so a
50 GB decoder costs no memory. Imported only by the torch backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..protocol import ModelLoadError

HOOK_ALIASES = {
    "mlp.hook_in": "mlp_in",
    "ln2.hook_normalized": "normalized",
    "hook_resid_mid": "resid_mid",
    "mlp.hook_out": "mlp_out",
    "hook_mlp_out": "mlp_out",
}
"""Engine hook names → the site we hook (see models/replacement.py)."""


@dataclass
class LayerTensors:
    """One layer's tensors as found on disk (file dtype, possibly views of a mapped file).

    Attributes:
        w_enc: ``[F, d]`` (a transposed view for layouts that store ``[d, F]``).
        b_enc: ``[F]``.
        b_dec: ``[d]``.
        w_dec: PLT ``[F, d]``; CLT ``[F, L - i, d]`` (slot j writes to layer i + j).
        threshold: ``[F]`` JumpReLU thresholds, or None.
        w_skip: ``[d, d]`` applied as ``x @ w_skip``, or None.
        k: TopK's k when the file records it.
        path: The file, for messages.
    """

    w_enc: torch.Tensor
    b_enc: torch.Tensor
    b_dec: torch.Tensor
    w_dec: torch.Tensor
    threshold: torch.Tensor | None
    w_skip: torch.Tensor | None
    k: int | None
    path: Path


@dataclass
class Transcoders:
    """Per-layer (``kind == "plt"``) or cross-layer (``"clt"``) transcoders.

    Attributes:
        w_enc: ``[L, F, d]`` in the compute dtype.
        b_enc: ``[L, F]``.
        threshold: ``[L, F]`` JumpReLU thresholds, or None.
        w_dec: L mapped tensors in the file's dtype: PLT ``[F, d]``; CLT ``[F, L - i, d]``.
        b_dec: ``[L, d]``.
        w_skip: ``[L, d, d]`` applied as ``x @ w_skip[l]``, or None.
        activation: ``relu``, ``jump_relu`` or ``topk`` (then ``k`` is set).
    """

    kind: str
    w_enc: torch.Tensor
    b_enc: torch.Tensor
    threshold: torch.Tensor | None
    w_dec: list[torch.Tensor]
    b_dec: torch.Tensor
    w_skip: torch.Tensor | None
    input_hook: str
    output_hook: str
    scan: str | list[str] | None
    path: str
    activation: str = "relu"
    k: int | None = None

    @property
    def n_layers(self) -> int:
        return int(self.w_enc.shape[0])

    @property
    def d_transcoder(self) -> int:
        return int(self.w_enc.shape[1])

    @property
    def d_model(self) -> int:
        return int(self.w_enc.shape[2])

    @property
    def dtype(self) -> torch.dtype:
        return self.w_enc.dtype

    @property
    def device(self) -> torch.device:
        return self.w_enc.device

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> Transcoders:
        """The same transcoders computing in ``dtype`` on ``device``; decoders stay mapped."""
        def cv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return replace(self, w_enc=self.w_enc.to(device=device, dtype=dtype),
                       b_enc=self.b_enc.to(device=device, dtype=dtype), threshold=cv(self.threshold),
                       b_dec=self.b_dec.to(device=device, dtype=dtype), w_skip=cv(self.w_skip))

    def activate(self, layer: int, pre: torch.Tensor) -> torch.Tensor:
        """The engine's activation: JumpReLU ``x * (x > θ)``, ReLU, or TopK's gate."""
        if self.activation == "topk" and self.k is not None:
            idx = torch.topk(pre, k=min(self.k, pre.shape[-1]), dim=-1).indices
            gate = torch.zeros_like(pre).scatter_(-1, idx, 1)
            return pre * gate
        if self.threshold is not None:
            return pre * (pre > self.threshold[layer])
        return torch.relu(pre)

    def encode(self, layer: int, x: torch.Tensor, apply_activation: bool = True) -> torch.Tensor:
        """Pre-activations (or activations) ``[..., F]`` of layer ``layer`` for inputs ``x``."""
        pre = x.to(self.w_enc.dtype) @ self.w_enc[layer].T + self.b_enc[layer]
        return self.activate(layer, pre) if apply_activation else pre

    def skip(self, layer: int, x: torch.Tensor) -> torch.Tensor | None:
        if self.w_skip is None:
            return None
        return x.to(self.w_skip.dtype) @ self.w_skip[layer]

    def decoder_rows(self, layer: int, features: torch.Tensor) -> torch.Tensor:
        """Decoder rows of ``features``, read from the mapped file in the compute dtype.

        Returns:
            PLT ``[k, 1, d]``; CLT ``[k, L - layer, d]`` (slot j writes to layer + j).
        """
        w = self.w_dec[layer][features.to("cpu", torch.long)]
        w = w.to(device=self.device, dtype=self.dtype)
        return w[:, None, :] if self.kind == "plt" else w


_RELEASED = torch.empty(0)


def assemble(kind: str, layers: Sequence[LayerTensors], *, activation: str, k: int | None,
             input_hook: str, output_hook: str, scan: str | list[str] | None, path: str,
             dtype: torch.dtype, device: torch.device | str) -> Transcoders:
    """Stack per-layer tensors into :class:`Transcoders`, checking every shape.

    Encoders are copied layer by layer into one preallocated tensor of the compute dtype, so
    loading never holds a second full copy. The layers' encoder tensors are released as they
    are copied (``layers`` keeps only its decoders).

    Raises:
        ModelLoadError: Shapes that disagree between layers or with the layout (names the file).
    """
    n = len(layers)
    if layers[0].w_enc.ndim != 2:
        raise ModelLoadError(layers[0].path, f"W_enc has shape {tuple(layers[0].w_enc.shape)}, "
                                             "expected [F, d]")
    f0, d0 = (int(s) for s in layers[0].w_enc.shape)
    has_thr = [lt.threshold is not None for lt in layers]
    has_skip = [lt.w_skip is not None for lt in layers]
    if any(has_thr) and not all(has_thr) or any(has_skip) and not all(has_skip):
        raise ModelLoadError(path, "thresholds / skip weights present in some layers only")
    w_enc = torch.empty(n, f0, d0, dtype=dtype, device=device)
    b_enc = torch.empty(n, f0, dtype=dtype, device=device)
    b_dec = torch.empty(n, d0, dtype=dtype, device=device)
    thr = torch.empty(n, f0, dtype=dtype, device=device) if all(has_thr) else None
    skip = torch.empty(n, d0, d0, dtype=dtype, device=device) if all(has_skip) else None
    for i, lt in enumerate(layers):
        dec_shape = (f0, d0) if kind == "plt" else (f0, n - i, d0)
        for name, t, shape in (("W_enc", lt.w_enc, (f0, d0)), ("b_enc", lt.b_enc, (f0,)),
                               ("b_dec", lt.b_dec, (d0,)), ("W_dec", lt.w_dec, dec_shape),
                               ("threshold", lt.threshold, (f0,)), ("W_skip", lt.w_skip, (d0, d0))):
            if t is not None and tuple(t.shape) != shape:
                raise ModelLoadError(lt.path, f"{name} of layer {i} has shape {tuple(t.shape)}, "
                                              f"expected {shape}")
        w_enc[i].copy_(lt.w_enc)
        b_enc[i].copy_(lt.b_enc)
        b_dec[i].copy_(lt.b_dec)
        if thr is not None and lt.threshold is not None:
            thr[i].copy_(lt.threshold)
        if skip is not None and lt.w_skip is not None:
            skip[i].copy_(lt.w_skip)
        # Done with this layer's encoder: dropping the mapped views unmaps their pages, so the
        # file's encoders never sit in RSS beside their converted copy (0.5 GiB at Llama-1B).
        lt.w_enc = lt.b_enc = lt.b_dec = _RELEASED
        lt.threshold = lt.w_skip = None
    if activation == "topk":
        k = k if k is not None else layers[0].k
        if k is None or k < 1:
            raise ModelLoadError(path, "activation topk needs a positive k in config.yaml")
    elif activation == "relu":
        thr = None
    else:
        activation = "jump_relu" if thr is not None else "relu"
    return Transcoders(kind, w_enc, b_enc, thr, [lt.w_dec for lt in layers], b_dec, skip,
                       input_hook, output_hook, scan, path, activation, k)

