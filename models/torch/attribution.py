"""Attribution graphs like circuit-tracer's ``attribute`` (FORMATS.md §1).

The model is linearised by the hooks of :class:`LinearRun`: attention patterns and norm
scales are cut from the gradient and every MLP output is replaced by a constant (plus the
transcoder's skip path). A row of the adjacency is then one backward pass: inject the
target's encoder vector (feature rows) or demeaned unembedding vector (logit rows) as the
gradient at its residual site, and contract the gradients at every MLP output with the
sources' ``activation × decoder`` vectors, error vectors and token embeddings. Rows are
computed in batches (one batch row per target), the selection of feature nodes under
``max_feature_nodes`` follows the engine's influence-ordered queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress
from ...graph.io.dense import DenseGraphData
from .replacement import ReplacementModel, Run, norm_apply, norm_scale
from .runs import RecordRun, feature_activations


class LinearRun(Run):
    """The local replacement model's linear forward pass, keeping the tensors it needs."""

    def __init__(self, rm: ReplacementModel) -> None:
        self.rm = rm
        self.ins: dict[int, torch.Tensor] = {}
        self.outs: dict[int, torch.Tensor] = {}
        self.embed: torch.Tensor | None = None
        self.final: torch.Tensor | None = None

    def scale_for(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return norm_scale(module, x).detach()

    def on_norm(self, idx: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return norm_apply(module, x, self.scale_for(idx, module, x))

    def on_pattern(self, layer: int, weights: torch.Tensor) -> torch.Tensor:
        return weights.detach()

    def on_in(self, layer: int, x: torch.Tensor) -> None:
        self.ins[layer] = x

    def on_out(self, layer: int, out: torch.Tensor) -> torch.Tensor:
        skip = self.rm.tc.skip(layer, self.ins[layer])
        new = out.detach().requires_grad_(True) if skip is None else skip + (out - skip).detach()
        self.outs[layer] = new
        return new

    def on_embed(self, out: torch.Tensor) -> torch.Tensor:
        self.embed = out.detach().requires_grad_(True)
        return self.embed

    def on_final(self, out: torch.Tensor) -> None:
        self.final = out


@dataclass
class _Sources:
    """Everything a row is contracted with."""

    loc_layer: torch.Tensor  # [n_loc] decoder locations (CLT: one per written layer)
    loc_pos: torch.Tensor
    loc_feat: torch.Tensor  # index into active features
    loc_vec: torch.Tensor  # [n_loc, d] activation × decoder
    errors: torch.Tensor  # [L, n, d]
    tokens: torch.Tensor  # [n, d]
    n_active: int
    groups: list[tuple[int, int, torch.Tensor, torch.Tensor]] | None = None
    """Decoder locations grouped by (layer, pos): feature indices and vectors ``[m, d]``."""

    def grouped(self) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
        if self.groups is None:
            key = self.loc_layer * (1 << 32) + self.loc_pos
            order = torch.argsort(key, stable=True)
            _, counts = torch.unique_consecutive(key[order], return_counts=True)
            self.groups = []
            for chunk in torch.split(order, counts.tolist()):
                i = int(chunk[0])
                self.groups.append((int(self.loc_layer[i]), int(self.loc_pos[i]),
                                    self.loc_feat[chunk], self.loc_vec[chunk]))
        return self.groups


def _sources(rm: ReplacementModel, clean: RecordRun, ids: list[int]
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, _Sources]:
    # Token sources are the embedding module's real output: transformers 5 folds Gemma's
    # sqrt(d) scale into it, and the engine's W_E[tokens] (under transformers 4) means the
    # vector that enters the residual stream.
    assert clean.embed is not None
    tc, L = rm.tc, rm.n_layers
    acts = torch.stack([feature_activations(rm, l, clean.ins[l][0]) for l in range(L)])
    idx = acts.nonzero()  # row-major, so sorted by (layer, pos, feature)
    values = acts[idx[:, 0], idx[:, 1], idx[:, 2]]
    enc = tc.w_enc[idx[:, 0], idx[:, 2]]
    layers, poss, feats, vecs = [], [], [], []
    for l in range(L):
        m = torch.nonzero(idx[:, 0] == l).flatten()
        if len(m) == 0:
            continue
        dec = tc.decoder_rows(l, idx[m, 2]) * values[m, None, None]  # [k, S, d]
        s = dec.shape[1]
        layers.append(torch.arange(l, l + s).repeat(len(m)))
        poss.append(idx[m, 1].repeat_interleave(s))
        feats.append(m.repeat_interleave(s))
        vecs.append(dec.reshape(-1, rm.d_model))
    empty = torch.zeros(0, dtype=torch.long)
    src = _Sources(
        loc_layer=torch.cat(layers) if layers else empty, loc_pos=torch.cat(poss) if poss else empty,
        loc_feat=torch.cat(feats) if feats else empty,
        loc_vec=torch.cat(vecs) if vecs else torch.zeros(0, rm.d_model, dtype=rm.dtype),
        errors=torch.zeros(0), tokens=clean.embed[0].detach(), n_active=len(idx))
    n = len(ids)
    recon = torch.zeros(L * n, rm.d_model, dtype=rm.dtype).index_add_(
        0, src.loc_layer * n + src.loc_pos, src.loc_vec).reshape(L, n, rm.d_model)
    recon = recon + tc.b_dec[:, None]
    for l in range(L):
        skip = tc.skip(l, clean.ins[l][0])
        if skip is not None:
            recon[l] += skip
    errors = torch.stack([clean.outs[l][0] for l in range(L)]) - recon
    errors[:, 0] = 0
    src.errors = errors
    return idx, values, enc, src


def _rows(rm: ReplacementModel, lin: LinearRun, src: _Sources, layers: torch.Tensor,
          positions: torch.Tensor, inject: torch.Tensor) -> torch.Tensor:
    """Attribution rows ``[k, n_active + (L+1)·n]`` for k targets (layer L = logits)."""
    L = rm.n_layers
    outputs, grads = [], []
    for layer in torch.unique(layers).tolist():
        target = lin.final if layer == L else lin.ins[layer]
        assert target is not None
        g = torch.zeros_like(target)
        m = torch.nonzero(layers == layer).flatten()
        g[m, positions[m]] = inject[m].to(g.dtype)
        outputs.append(target)
        grads.append(g)
    assert lin.embed is not None
    inputs = [lin.outs[l] for l in range(L)] + [lin.embed]
    got = torch.autograd.grad(outputs, inputs, grads, retain_graph=True, allow_unused=True)
    k = len(layers)
    zero = torch.zeros_like(lin.embed[:k])
    g_out = torch.stack([zero if g is None else g[:k] for g in got[:L]])  # [L, k, n, d]
    g_emb = zero if got[L] is None else got[L][:k]
    feat = torch.zeros(k, src.n_active, dtype=g_out.dtype)
    for layer, pos, feats, vecs in src.grouped():
        feat.index_add_(1, feats, g_out[layer, :, pos] @ vecs.T)
    err = torch.einsum("lbnd,lnd->bln", g_out, src.errors).reshape(k, -1)
    tok = torch.einsum("bnd,nd->bn", g_emb, src.tokens)
    return torch.cat([feat, err, tok], dim=1).detach()


def partial_influences(edge: torch.Tensor, logit_p: torch.Tensor, row_to_node: torch.Tensor,
                       max_iter: int = 128) -> torch.Tensor:
    """The engine's ``compute_partial_influences`` (power iteration on the rows so far)."""
    norm = edge.abs()
    norm /= norm.sum(dim=1, keepdim=True).clamp(min=1e-8)
    influences = torch.zeros(edge.shape[1])
    prod = torch.zeros(edge.shape[1])
    prod[-len(logit_p):] = logit_p
    for _ in range(max_iter):
        prod = prod[row_to_node] @ norm
        if not prod.any():
            break
        influences += prod
    return influences


def _logit_targets(rm: ReplacementModel, last: torch.Tensor, max_n_logits: int,
                   desired_logit_prob: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The engine's salient logits: top logits until cumulative p ≥ desired, at most max."""
    probs = torch.softmax(last.float(), dim=-1)
    top_p, top_idx = torch.topk(probs, min(max_n_logits, probs.shape[0]))
    cutoff = int(torch.searchsorted(torch.cumsum(top_p, 0), desired_logit_prob)) + 1
    sel = top_idx[:cutoff]
    w_u = rm.w_u.detach()
    vecs = w_u[sel] - w_u.mean(dim=0, keepdim=True)
    return sel, probs[sel], vecs


def trace_graph(
    rm: ReplacementModel,
    ids: list[int],
    *,
    max_feature_nodes: int | None = None,
    max_n_logits: int = 10,
    desired_logit_prob: float = 0.95,
    batch_size: int = 512,
    update_interval: int = 4,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> tuple[DenseGraphData, dict[str, torch.Tensor]]:
    """Trace one prompt (``ids`` already carry the BOS). Returns the graph and raw tensors."""
    progress(0.0, "forward pass")
    t = torch.tensor([ids], device=rm.device)
    clean = RecordRun()
    with torch.no_grad():
        logits = rm.forward(t, clean)
    idx, values, enc, src = _sources(rm, clean, ids)
    sel_tok, logit_p, logit_vecs = _logit_targets(rm, logits[0, -1], max_n_logits,
                                                  desired_logit_prob)
    L, n, n_active, n_logits = rm.n_layers, len(ids), len(idx), len(sel_tok)
    logit_offset = n_active + (L + 1) * n
    total = logit_offset + n_logits
    max_feat = min(max_feature_nodes or n_active, n_active)
    batch = max(1, min(batch_size, max(n_logits, max_feat)))
    cancel.check()
    lin = LinearRun(rm)
    with torch.enable_grad():
        rm.forward(t.expand(batch, -1), lin, logits=False)
    edge = torch.zeros(max_feat + n_logits, total)
    row_to_node = torch.zeros(max_feat + n_logits, dtype=torch.long)
    for i in range(0, n_logits, batch):
        vecs = logit_vecs[i:i + batch]
        k = len(vecs)
        edge[i:i + k, :logit_offset] = _rows(rm, lin, src, torch.full((k,), L),
                                             torch.full((k,), n - 1), vecs).float()
        row_to_node[i:i + k] = torch.arange(i, i + k) + logit_offset
    st, visited, n_visited = n_logits, torch.zeros(n_active, dtype=torch.bool), 0
    while n_visited < max_feat:
        if max_feat == n_active:
            pending = torch.arange(n_active)
        else:
            infl = partial_influences(edge[:st], logit_p.float(), row_to_node[:st])
            rank = torch.argsort(infl[:n_active], descending=True)
            pending = rank[~visited[rank]][:min(update_interval * batch, max_feat - n_visited)]
        for j in range(0, len(pending), batch):
            cancel.check()
            chunk = pending[j:j + batch]
            n_visited += len(chunk)
            rows = _rows(rm, lin, src, idx[chunk, 0], idx[chunk, 1], enc[chunk])
            edge[st:st + len(chunk), :logit_offset] = rows.float()
            row_to_node[st:st + len(chunk)] = chunk
            visited[chunk] = True
            st += len(chunk)
            progress(0.1 + 0.85 * n_visited / max(max_feat, 1), "feature rows")
    selected = torch.nonzero(visited).flatten()
    if max_feat < n_active:
        edge = edge[:, torch.cat([selected, torch.arange(n_active, total)])]
    edge = edge[row_to_node.argsort()]
    n_final = edge.shape[1]
    adj = torch.zeros(n_final, n_final)
    adj[:max_feat] = edge[:max_feat]
    adj[n_final - n_logits:] = edge[max_feat:]
    tok = rm.tokenizer
    data = DenseGraphData(
        adjacency=adj.numpy(), active_features=idx.cpu().numpy().astype(np.int64),
        activation_values=values.detach().float().cpu().numpy(),
        selected_features=selected.numpy().astype(np.int64),
        input_tokens=np.asarray(ids, dtype=np.int64), logit_tokens=sel_tok.tolist(),
        logit_strings=[tok.decode([i]) for i in sel_tok.tolist()],
        logit_probabilities=logit_p.float().cpu().numpy(), n_layers=L,
        prompt=tok.decode(ids), token_strings=[tok.decode([i]) for i in ids],
        scan=rm.tc.scan, model=str(getattr(rm.hf.config, "name_or_path", "")),
        vocab_size=int(logits.shape[-1]),
    )
    progress(1.0, "done")
    return data, {"logits": logits.detach()}
