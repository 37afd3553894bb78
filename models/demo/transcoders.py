"""Train small transcoders on a model's MLPs and write them in circuit-tracer's layout.

Two kinds, matching circuit-tracer's loaders (``load_transcoder_set`` and
``load_clt``; see FORMATS.md §4):

* **PLT** (per-layer, ReLU): ``layer_{i}.safetensors`` with ``W_enc [F, d]``,
  ``W_dec [F, d]``, ``b_enc [F]``, ``b_dec [d]``. No threshold key, so the engine
  uses ReLU.
* **CLT** (cross-layer, JumpReLU): ``W_enc_{i}.safetensors`` with ``W_enc_{i} [F, d]``,
  ``b_enc_{i} [F]``, ``b_dec_{i} [d]``, ``threshold_{i} [F]`` and
  ``W_dec_{i}.safetensors`` with ``W_dec_{i} [F, L-i, d]`` (slot k writes to layer i+k).

Training is two phases, both with Adam on one fixed activation set:
1. ReLU features, loss = normalised MSE + ``l1`` x sum(act x decoder norm).
2. Encoder frozen (for the CLT after a per-feature JumpReLU threshold has been
   calibrated), decoder and ``b_dec`` refit on plain MSE to undo the L1 shrinkage.

torch is imported by the caller's module; this file is only used by the demo builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress


@dataclass(frozen=True)
class TranscoderSpec:
    """Hyper-parameters of one transcoder training run."""

    n_features: int
    steps: int
    refit_steps: int
    batch: int
    lr: float
    l1: float
    threshold_frac: float = 0.15
    """JumpReLU threshold = this fraction of a feature's mean positive activation (CLT)."""


@dataclass
class TranscoderWeights:
    """Trained weights, stacked over layers (CLT decoders in a list, one per source layer)."""

    w_enc: torch.Tensor  # [L, F, d]
    b_enc: torch.Tensor  # [L, F]
    b_dec: torch.Tensor  # [L, d]
    w_dec: list[list[torch.Tensor]]  # [source i][slot k] -> [F, d], writes to layer i+k
    # One contiguous tensor per slot: slicing a stacked [F, L-i, d] in every step made the
    # matmuls strided and the CLT several times slower.
    threshold: torch.Tensor | None  # [L, F] for JumpReLU, None for ReLU


def _init(x: torch.Tensor, y: torch.Tensor, spec: TranscoderSpec, cross: bool,
          gen: torch.Generator) -> TranscoderWeights:
    n_layers, _, d = x.shape
    f = spec.n_features
    w_enc = torch.randn(n_layers, f, d, generator=gen) / d**0.5
    w_dec = [[torch.randn(f, d, generator=gen) * 0.1 / f**0.5
              for _ in range((n_layers - i) if cross else 1)] for i in range(n_layers)]
    return TranscoderWeights(w_enc=w_enc, b_enc=torch.zeros(n_layers, f),
                             b_dec=y.mean(dim=1).clone(), w_dec=w_dec, threshold=None)


def _activations(x: torch.Tensor, tw: TranscoderWeights) -> torch.Tensor:
    """[L, B, d] -> [L, B, F], ReLU or JumpReLU (x * (x > threshold), as the engine does)."""
    pre = torch.einsum("lbd,lfd->lbf", x, tw.w_enc) + tw.b_enc[:, None]
    if tw.threshold is None:
        return torch.relu(pre)
    return pre * (pre > tw.threshold[:, None])


def _decode(acts: torch.Tensor, tw: TranscoderWeights, cross: bool) -> torch.Tensor:
    """[L, B, F] -> [L, B, d]; CLT layer j sums the decoders of every source layer i <= j."""
    outs = []
    for j in range(acts.shape[0]):
        out = tw.b_dec[j] + acts[j] @ tw.w_dec[j][0]
        if cross:
            for i in range(j):
                out = out + acts[i] @ tw.w_dec[i][j - i]
        outs.append(out)
    return torch.stack(outs)


def _decoder_norms(tw: TranscoderWeights, std: torch.Tensor) -> torch.Tensor:
    """[L, F] decoder norms, each output slot measured in units of its target layer's std.

    Normalising by the target's scale keeps one ``l1`` meaningful for every layer even
    though MLP output norms differ a lot between layers.
    """
    norms = []
    for i, slots in enumerate(tw.w_dec):
        scaled = torch.stack([w.norm(dim=-1) / std[i + k] for k, w in enumerate(slots)])
        norms.append(scaled.norm(dim=0))
    return torch.stack(norms)


def _train(x: torch.Tensor, y: torch.Tensor, tw: TranscoderWeights, spec: TranscoderSpec,
           cross: bool, refit: bool, gen: torch.Generator, progress: Progress,
           cancel: CancelToken, phase: str) -> None:
    """Adam on normalised MSE (+ L1 unless ``refit``), in place."""
    params = [w for slots in tw.w_dec for w in slots] + [tw.b_dec]
    if not refit:
        params += [tw.w_enc, tw.b_enc]
    for p in params:
        p.requires_grad_(True)
    var = y.var(dim=1).sum(dim=-1)  # [L]: per-layer total variance, to balance layers
    std = var.sqrt()
    opt = torch.optim.Adam(params, lr=spec.lr)
    steps = spec.refit_steps if refit else spec.steps
    n_tok = x.shape[1]
    for step in range(steps):
        if step % 25 == 0:
            cancel.check()
            progress(step / max(steps, 1), phase)
        idx = torch.randint(0, n_tok, (spec.batch,), generator=gen)
        xb, yb = x[:, idx], y[:, idx]
        acts = _activations(xb, tw)
        err = (_decode(acts, tw, cross) - yb).pow(2).sum(-1).mean(-1)
        loss = (err / var).sum()
        if not refit:
            loss = loss + spec.l1 * (acts * _decoder_norms(tw, std)[:, None]).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    for p in params:
        p.requires_grad_(False)


def _calibrate_threshold(x: torch.Tensor, tw: TranscoderWeights, frac: float) -> None:
    """Per-feature JumpReLU threshold = ``frac`` x the feature's mean positive activation."""
    acts = _activations(x, tw)  # ReLU, threshold still None
    pos = (acts > 0).sum(dim=1).clamp(min=1)
    mean_pos = acts.sum(dim=1) / pos
    # Dead features get a positive threshold too, so the engine's JumpReLU never divides by 0.
    tw.threshold = (frac * mean_pos).clamp(min=1e-3)


def evaluate(x: torch.Tensor, y: torch.Tensor, tw: TranscoderWeights,
             cross: bool) -> dict[str, list[float]]:
    """Per-layer fraction of variance explained, mean L0 and share of features ever active."""
    with torch.no_grad():
        acts = _activations(x, tw)
        rec = _decode(acts, tw, cross)
    resid = (rec - y).pow(2).sum(-1).mean(-1)
    var = y.var(dim=1).sum(-1)
    return {
        "fve": (1 - resid / var).tolist(),
        "l0": (acts > 0).float().sum(-1).mean(-1).tolist(),
        "alive": (acts > 0).any(dim=1).float().mean(-1).tolist(),
    }


def train_transcoder(x: torch.Tensor, y: torch.Tensor, spec: TranscoderSpec, *, cross: bool,
                     seed: int, progress: Progress = no_progress,
                     cancel: CancelToken = NEVER) -> TranscoderWeights:
    """Train a PLT (``cross=False``, ReLU) or a CLT (``cross=True``, JumpReLU).

    Args:
        x: MLP inputs ``[L, N, d]`` (the ``mlp.hook_in`` activations, BOS excluded).
        y: MLP outputs ``[L, N, d]`` (``mlp.hook_out``).
        spec: Hyper-parameters.
        cross: Train a cross-layer transcoder.
        seed: Seed of the private generator used for init and batches.
        progress: Receives ``(fraction, phase)``.
        cancel: Checked every 25 steps.
    """
    gen = torch.Generator().manual_seed(seed)
    tw = _init(x, y, spec, cross, gen)
    kind = "clt" if cross else "plt"
    _train(x, y, tw, spec, cross, False, gen,
           lambda f, p: progress(0.8 * f, p), cancel, f"{kind}: sparse training")
    if cross:
        _calibrate_threshold(x, tw, spec.threshold_frac)
    _train(x, y, tw, spec, cross, True, gen,
           lambda f, p: progress(0.8 + 0.2 * f, p), cancel, f"{kind}: decoder refit")
    progress(1.0, f"{kind}: done")
    return tw


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous()


def save_plt(tw: TranscoderWeights, out_dir: Path, config: dict[str, Any]) -> list[Path]:
    """Write ``layer_{i}.safetensors`` + ``config.yaml`` (circuit-tracer transcoder_set)."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(tw.w_enc.shape[0]):
        tensors = {"W_enc": _f32(tw.w_enc[i]), "W_dec": _f32(tw.w_dec[i][0]),
                   "b_enc": _f32(tw.b_enc[i]), "b_dec": _f32(tw.b_dec[i])}
        if tw.threshold is not None:
            tensors["activation_function.threshold"] = _f32(tw.threshold[i])
        path = out_dir / f"layer_{i}.safetensors"
        save_file(tensors, str(path))
        paths.append(path)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return paths


def save_clt(tw: TranscoderWeights, out_dir: Path, config: dict[str, Any]) -> list[Path]:
    """Write ``W_enc_{i}`` / ``W_dec_{i}`` safetensors + ``config.yaml`` (cross_layer_transcoder)."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(tw.w_enc.shape[0]):
        enc = {f"W_enc_{i}": _f32(tw.w_enc[i]), f"b_enc_{i}": _f32(tw.b_enc[i]),
               f"b_dec_{i}": _f32(tw.b_dec[i])}
        if tw.threshold is not None:
            enc[f"threshold_{i}"] = _f32(tw.threshold[i])
        enc_path, dec_path = out_dir / f"W_enc_{i}.safetensors", out_dir / f"W_dec_{i}.safetensors"
        save_file(enc, str(enc_path))
        save_file({f"W_dec_{i}": _f32(torch.stack(tw.w_dec[i], dim=1))}, str(dec_path))
        paths += [enc_path, dec_path]
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return paths
