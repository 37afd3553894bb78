"""What a forward pass does at the hook sites: record a clean run, or patch features.

:class:`PatchRun` reproduces circuit-tracer's ``feature_intervention`` (FORMATS.md §5) for a
batch of independent intervention lists, one per batch row.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..protocol import Intervention
from .replacement import ReplacementModel, Run, norm_apply, norm_scale


class RecordRun(Run):
    """Keeps norm scales, attention patterns and the feature input/output of a clean run."""

    def __init__(self) -> None:
        self.scales: dict[int, torch.Tensor] = {}
        self.patterns: dict[int, torch.Tensor] = {}
        self.ins: dict[int, torch.Tensor] = {}
        self.outs: dict[int, torch.Tensor] = {}
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
    """Feature interventions with the engine's freeze modes.

    Args:
        rm: The model.
        batch: One intervention list per batch row.
        clean: The clean run of the same ids (needed when anything is frozen).
        freeze_patterns: Replace attention patterns by the clean ones.
        constrained: Layers whose MLP outputs are frozen and that receive deltas (None: all
            layers receive deltas, nothing is frozen there). Norm scales are frozen when it
            covers every layer.
        return_activations: Keep recomputed activations of every layer.
        apply_activation: Keep activations (True) or pre-activations (False).
        live: Row 0 of the batch is the clean run itself (an empty intervention list): its
            values at each site are recorded into ``clean`` and frozen into the other rows
            in the same forward pass, which saves a separate clean pass.
    """

    def __init__(self, rm: ReplacementModel, batch: Sequence[Sequence[Intervention]],
                 clean: RecordRun | None, *, freeze_patterns: bool, constrained: range | None,
                 return_activations: bool, apply_activation: bool, live: bool = False) -> None:
        self.rm, self.clean, self.live = rm, clean, live and clean is not None
        self.freeze_patterns = freeze_patterns and clean is not None
        self.constrained = constrained if clean is not None else None
        self.freeze_scales = bool(self.constrained) and set(range(rm.n_layers)) <= set(
            self.constrained or ())
        self.return_activations, self.apply_activation = return_activations, apply_activation
        self.acts: dict[int, torch.Tensor] = {}
        self._cur: dict[int, torch.Tensor] = {}
        self._in_x: dict[int, torch.Tensor] = {}
        self._deltas: dict[int, torch.Tensor] = {}
        # (layer) -> {(row, pos, feature): value}; a later duplicate wins, as in the engine.
        self._by_layer: dict[int, dict[tuple[int, int, int], float]] = {}
        for row, items in enumerate(batch):
            for iv in items:
                self._by_layer.setdefault(int(iv.layer), {})[
                    (row, int(iv.pos), int(iv.feature))] = float(iv.value)
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
        need_cur = layer in self._by_layer and not self.constrained
        if self.return_activations or need_cur:
            pre = self.rm.tc.encode(layer, x, False)
            post = self.rm.tc.activate(layer, pre)
            pre[..., 0, :] = 0
            post[..., 0, :] = 0
            if self.return_activations:
                self.acts[layer] = post if self.apply_activation else pre
            if need_cur:
                self._cur[layer] = post
        if self.constrained and self.rm.tc.w_skip is not None:
            self._in_x[layer] = x

    def on_out(self, layer: int, out: torch.Tensor) -> torch.Tensor | None:
        new: torch.Tensor | None = None
        if self.live and self.clean is not None:
            self.clean.outs[layer] = out[:1]
        if self.constrained and layer in self.constrained and self.clean is not None:
            new = self.clean.outs[layer].expand_as(out)
            if self.rm.tc.w_skip is not None:
                now = self.rm.tc.skip(layer, self._in_x[layer])
                then = self.rm.tc.skip(layer, self.clean.ins[layer])
                assert now is not None and then is not None
                new = new + (now - then)
        if layer in self._by_layer:
            self._add_deltas(layer, out)
        if layer in self._deltas and layer in self._range:
            new = (out if new is None else new) + self._deltas[layer]
        return new

    def _add_deltas(self, layer: int, out: torch.Tensor) -> None:
        items = self._by_layer[layer]
        keys = torch.tensor(list(items.keys()), dtype=torch.long, device=out.device)
        rows, pos, feats = keys[:, 0], keys[:, 1], keys[:, 2]
        values = torch.tensor(list(items.values()), dtype=out.dtype, device=out.device)
        if self.constrained and self.clean is not None:
            # Constrained: deltas are relative to the clean activations (no propagation).
            base = feature_activations(self.rm, layer, self.clean.ins[layer])[0, pos, feats]
        else:
            base = self._cur[layer][rows, pos, feats]
        delta = values - base
        dec = self.rm.tc.decoder_rows(layer, feats)  # [k, S, d]
        for j in range(dec.shape[1]):
            target = layer + j
            buf = self._deltas.get(target)
            if buf is None:
                buf = self._deltas[target] = torch.zeros_like(out)
            buf.index_put_((rows, pos), delta[:, None] * dec[:, j], accumulate=True)
