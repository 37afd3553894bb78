"""What a forward pass does at the hook sites: record a clean run, or patch features.

:class:`PatchRun` reproduces circuit-tracer's ``feature_intervention`` (FORMATS.md §5) for a
batch of independent intervention lists, one per batch row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .replacement import ReplacementModel, Run, norm_apply, norm_scale


class RecordRun(Run):
    """Keeps norm scales, attention patterns and the feature input/output of a clean run."""

    def __init__(self) -> None:
        self.scales: dict[int, torch.Tensor] = {}
        self.patterns: dict[int, torch.Tensor] = {}
        self.ins: dict[int, torch.Tensor] = {}
        self.outs: dict[int, torch.Tensor] = {}
        self.acts: dict[int, torch.Tensor] = {}
        """Clean activations per layer, filled lazily by runs that hold errors at clean."""
        self.embed: torch.Tensor | None = None

    def scale_for(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        self.scales[idx] = norm_scale(module, x)
        return self.scales[idx]

    def on_norm(self, idx: int, module: nn.Module, x: torch.Tensor) -> None:
        self.scale_for(idx, module, x)

    def on_embed(self, out: torch.Tensor) -> None:
        self.embed = out

    def on_pattern(self, layer: int, weights: torch.Tensor) -> torch.Tensor:
        self.patterns[layer] = weights
        return weights

    def on_in(self, layer: int, x: torch.Tensor) -> None:
        self.ins[layer] = x

    def on_out(self, layer: int, out: torch.Tensor) -> None:
        self.outs[layer] = out


def feature_activations(rm: ReplacementModel, layer: int, x: torch.Tensor,
                        apply_activation: bool = True) -> torch.Tensor:
    """Transcoder (pre-)activations at a feature input, position 0 zeroed as the engine does."""
    acts = rm.tc.encode(layer, x, apply_activation)
    acts[..., 0, :] = 0
    return acts


class PatchRun(Run):
    """Feature interventions with the engine's freeze modes, and errors held or live.

    Args:
        rm: The model.
        batch: One intervention table ``[k, 4]`` per batch row (duplicates removed).
        clean: The clean run of the same ids (needed when anything is frozen).
        freeze_patterns: Replace attention patterns by the clean ones.
        constrained: Layers whose MLP outputs are frozen and that receive deltas (None: all
            layers receive deltas, nothing is frozen there). Norm scales are frozen when it
            covers every layer.
        errors_clean: Outside constrained layers, each MLP output becomes the clean output
            plus the reconstruction's change, ``(a_now − a_clean)·W_dec`` (+ the skip's
            change): the transcoder reconstruction of the current (patched) activations plus
            the clean error. Ignored when layers are constrained (their outputs stay clean).
        return_activations: Keep recomputed activations of every layer.
        apply_activation: Keep activations (True) or pre-activations (False).
        live: Row 0 of the batch is the clean run itself (an empty intervention list): its
            values at each site are recorded into ``clean`` and frozen into the other rows
            in the same forward pass, which saves a separate clean pass.
    """

    def __init__(self, rm: ReplacementModel, batch: Sequence[np.ndarray],
                 clean: RecordRun | None, *, freeze_patterns: bool, constrained: range | None,
                 return_activations: bool, apply_activation: bool, errors_clean: bool = False,
                 live: bool = False) -> None:
        self.rm, self.clean, self.live = rm, clean, live and clean is not None
        self.freeze_patterns = freeze_patterns and clean is not None
        self.constrained = constrained if clean is not None else None
        self.errors_clean = errors_clean and clean is not None and not self.constrained
        self.freeze_scales = bool(self.constrained) and set(range(rm.n_layers)) <= set(
            self.constrained or ())
        self.return_activations, self.apply_activation = return_activations, apply_activation
        self.acts: dict[int, torch.Tensor] = {}
        self._cur: dict[int, torch.Tensor] = {}
        self._in_x: dict[int, torch.Tensor] = {}
        self._deltas: dict[int, torch.Tensor] = {}
        self._by_layer = _by_layer(batch, rm.device)
        self._range = self.constrained if self.constrained else range(rm.n_layers)

    def scale_for(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.freeze_scales and self.clean is not None:
            return self.clean.scales[idx]
        return norm_scale(module, x)

    def on_norm(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
        if self.live and self.clean is not None:
            self.clean.scales[idx] = norm_scale(module, x[:1])
        if self.freeze_scales and self.clean is not None:
            return norm_apply(module, x, self.clean.scales[idx])
        return None

    def on_pattern(self, layer: int, weights: torch.Tensor) -> torch.Tensor:
        if self.live and self.clean is not None:
            self.clean.patterns[layer] = weights[:1]
        if self.freeze_patterns and self.clean is not None:
            return self.clean.patterns[layer].expand_as(weights)
        return weights

    def on_embed(self, out: torch.Tensor) -> None:
        if self.live and self.clean is not None:
            self.clean.embed = out[:1]

    def on_in(self, layer: int, x: torch.Tensor) -> None:
        if self.live and self.clean is not None:
            self.clean.ins[layer] = x[:1]
        need_cur = (layer in self._by_layer and not self.constrained) or self.errors_clean
        if self.return_activations or need_cur:
            pre = self.rm.tc.encode(layer, x, False)
            post = self.rm.tc.activate(layer, pre)
            pre[..., 0, :] = 0
            post[..., 0, :] = 0
            if self.return_activations:
                self.acts[layer] = post if self.apply_activation else pre
            if need_cur:
                self._cur[layer] = post
        if (self.constrained or self.errors_clean) and self.rm.tc.w_skip is not None:
            self._in_x[layer] = x
        if self.errors_clean:
            self._add_reconstruction(layer)

    def on_out(self, layer: int, out: torch.Tensor) -> torch.Tensor | None:
        new: torch.Tensor | None = None
        if self.live and self.clean is not None:
            self.clean.outs[layer] = out[:1]
        frozen = self.constrained and layer in self.constrained
        if (frozen or self.errors_clean) and self.clean is not None:
            # Both start from the clean output: constrained layers keep it (plus deltas),
            # held errors add the reconstruction's change (in self._deltas).
            new = self.clean.outs[layer].expand_as(out)
            if self.rm.tc.w_skip is not None:
                now = self.rm.tc.skip(layer, self._in_x[layer])
                assert now is not None
                then = now[:1] if self.live else self.rm.tc.skip(layer, self.clean.ins[layer])
                assert then is not None
                new = new + (now - then)
        if layer in self._by_layer and not self.errors_clean:
            self._add_deltas(layer, out)
        if layer in self._deltas and layer in self._range:
            new = (out if new is None else new) + self._deltas[layer]
        return new

    def _clean_acts(self, layer: int) -> torch.Tensor:
        """``[1, n, F]`` clean activations of ``layer`` (row 0 itself in a live run, so the
        clean row's change is exactly zero), kept on the clean run for later batches."""
        assert self.clean is not None
        if self.live:
            self.clean.acts[layer] = self._cur[layer][:1].clone()  # not a view of the batch
        elif layer not in self.clean.acts:
            self.clean.acts[layer] = feature_activations(self.rm, layer, self.clean.ins[layer])
        return self.clean.acts[layer]

    def _add_reconstruction(self, layer: int) -> None:
        """Held errors: ``(a_now − a_clean)·W_dec`` into the deltas of the layers it writes to,
        with intervened features set to their values. Only features whose activation changed
        somewhere are read from the (mapped) decoder."""
        now = self._cur[layer]
        base = self._clean_acts(layer)
        if layer in self._by_layer:
            rows, pos, feats, values = self._by_layer[layer]
            now = now.clone()
            now[rows, pos, feats] = values.to(now.dtype)
        diff = now - base
        cols = torch.nonzero(diff.ne(0).flatten(0, 1).any(0)).flatten()
        if not cols.numel():
            return
        dec = self.rm.tc.decoder_rows(layer, cols)  # [k, S, d]
        part = diff[..., cols]  # [B, n, k]
        for j in range(dec.shape[1]):
            self._accumulate(layer + j, part @ dec[:, j])

    def _accumulate(self, target: int, value: torch.Tensor) -> None:
        prev = self._deltas.get(target)
        self._deltas[target] = value if prev is None else prev + value

    def _add_deltas(self, layer: int, out: torch.Tensor) -> None:
        rows, pos, feats, values = self._by_layer[layer]
        if self.constrained and self.clean is not None:
            # Constrained: deltas are relative to the clean activations (no propagation).
            base = feature_activations(self.rm, layer, self.clean.ins[layer])[0, pos, feats]
        else:
            base = self._cur[layer][rows, pos, feats]
        delta = values.to(out.dtype) - base
        dec = self.rm.tc.decoder_rows(layer, feats)  # [k, S, d]
        for j in range(dec.shape[1]):
            target = layer + j
            buf = self._deltas.get(target)
            if buf is None:
                buf = self._deltas[target] = torch.zeros_like(out)
            buf.index_put_((rows, pos), delta[:, None] * dec[:, j], accumulate=True)


def _by_layer(batch: Sequence[np.ndarray], device: torch.device
              ) -> dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per layer: ``(rows, positions, features, values)`` of every batch row's interventions."""
    sizes = [len(t) for t in batch]
    if not sum(sizes):
        return {}
    table = np.concatenate([t for t in batch if len(t)])
    rows = np.repeat(np.arange(len(batch)), sizes)
    layers = table[:, 0].astype(np.int64)
    out = {}
    for layer in np.unique(layers).tolist():
        hit = layers == layer
        idx = [torch.as_tensor(a, dtype=torch.long, device=device)
               for a in (rows[hit], table[hit, 1].astype(np.int64), table[hit, 2].astype(np.int64))]
        out[int(layer)] = (idx[0], idx[1], idx[2],
                           torch.as_tensor(table[hit, 3], dtype=torch.float64, device=device))
    return out
