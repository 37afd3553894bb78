"""Read circuit-tracer transcoder folders (FORMATS.md §4) into one torch representation.

Key names, shapes and activation functions follow circuit-tracer's ``load_transcoder``
(per-layer, ``layer_{i}.safetensors``) and ``load_clt`` (cross-layer, ``W_enc_{i}`` /
``W_dec_{i}``). Imported only by the torch backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

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
class Transcoders:
    """Per-layer (``kind == "plt"``) or cross-layer (``"clt"``) transcoders, dense in memory.

    Attributes:
        w_enc: ``[L, F, d]``.
        b_enc: ``[L, F]``.
        threshold: ``[L, F]`` JumpReLU thresholds, or None for ReLU.
        w_dec: PLT: L tensors ``[F, d]``; CLT: L tensors ``[F, L - i, d]``.
        b_dec: ``[L, d]``.
        w_skip: ``[L, d, d]`` or None. PLT convention ``x @ W_skip.T``, CLT ``x @ W_skip``.
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

    @property
    def n_layers(self) -> int:
        return int(self.w_enc.shape[0])

    @property
    def d_transcoder(self) -> int:
        return int(self.w_enc.shape[1])

    @property
    def d_model(self) -> int:
        return int(self.w_enc.shape[2])

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> Transcoders:
        def cv(t: torch.Tensor | None) -> Any:
            return None if t is None else t.to(device=device, dtype=dtype)

        return Transcoders(
            self.kind, cv(self.w_enc), cv(self.b_enc), cv(self.threshold),
            [cv(w) for w in self.w_dec], cv(self.b_dec), cv(self.w_skip), self.input_hook,
            self.output_hook, self.scan, self.path)

    def activate(self, layer: int, pre: torch.Tensor) -> torch.Tensor:
        """The engine's activation: JumpReLU ``x * (x > θ)`` or ReLU."""
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
        w = self.w_skip[layer]
        return x @ (w.T if self.kind == "plt" else w)

    def decoder_rows(self, layer: int, features: torch.Tensor) -> torch.Tensor:
        """PLT: ``[k, 1, d]``; CLT: ``[k, L - layer, d]`` (slot j writes to layer + j)."""
        w = self.w_dec[layer][features]
        return w[:, None, :] if self.kind == "plt" else w


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(path.parent, "no config.yaml (not a circuit-tracer transcoder folder)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelLoadError(path, f"unreadable config.yaml: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ModelLoadError(path, "config.yaml is not a mapping")
    return data


def _tensors(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(path, "missing transcoder file")
    out: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            present = set(f.keys())
            for k in keys:
                if k not in present:
                    raise ModelLoadError(path, f"no tensor {k!r} (has {sorted(present)})")
                out[k] = f.get_tensor(k).to(torch.float32)
            for k in optional:
                if k in present:
                    out[k] = f.get_tensor(k).to(torch.float32)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelLoadError(path, f"not a readable safetensors file: {exc}") from None
    return out


def _count(folder: Path, pattern: str) -> int:
    rx = re.compile(pattern)
    idx = sorted(int(m.group(1)) for p in folder.iterdir() if (m := rx.fullmatch(p.name)))
    if idx != list(range(len(idx))):
        raise ModelLoadError(folder, f"layer files are not numbered 0..n-1: {idx}")
    return len(idx)


def _shape(path: Path, name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != shape:
        raise ModelLoadError(path, f"{name} has shape {tuple(t.shape)}, expected {shape}")


def _load_plt(folder: Path) -> dict[str, Any]:
    n = _count(folder, r"layer_(\d+)\.safetensors")
    if n == 0:
        raise ModelLoadError(folder, "no layer_{i}.safetensors files")
    enc, benc, thr, dec, bdec, skip = [], [], [], [], [], []
    for i in range(n):
        p = folder / f"layer_{i}.safetensors"
        t = _tensors(p, ("W_enc", "W_dec", "b_enc", "b_dec"),
                     ("activation_function.threshold", "W_skip"))
        f, d = t["W_enc"].shape if t["W_enc"].ndim == 2 else (-1, -1)
        if i == 0:
            f0, d0 = f, d
        _shape(p, "W_enc", t["W_enc"], (f0, d0))
        _shape(p, "W_dec", t["W_dec"], (f0, d0))
        _shape(p, "b_enc", t["b_enc"], (f0,))
        _shape(p, "b_dec", t["b_dec"], (d0,))
        enc.append(t["W_enc"])
        benc.append(t["b_enc"])
        dec.append(t["W_dec"])
        bdec.append(t["b_dec"])
        if "activation_function.threshold" in t:
            _shape(p, "activation_function.threshold", t["activation_function.threshold"], (f0,))
            thr.append(t["activation_function.threshold"])
        if "W_skip" in t:
            _shape(p, "W_skip", t["W_skip"], (d0, d0))
            skip.append(t["W_skip"])
    if thr and len(thr) != n or skip and len(skip) != n:
        raise ModelLoadError(folder, "threshold / W_skip present in some layers only")
    return dict(kind="plt", w_enc=torch.stack(enc), b_enc=torch.stack(benc),
                threshold=torch.stack(thr) if thr else None, w_dec=dec, b_dec=torch.stack(bdec),
                w_skip=torch.stack(skip) if skip else None)


def _load_clt(folder: Path) -> dict[str, Any]:
    n = _count(folder, r"W_enc_(\d+)\.safetensors")
    if n == 0:
        raise ModelLoadError(folder, "no W_enc_{i}.safetensors files")
    enc, benc, thr, dec, bdec = [], [], [], [], []
    for i in range(n):
        p = folder / f"W_enc_{i}.safetensors"
        t = _tensors(p, (f"W_enc_{i}", f"b_enc_{i}", f"b_dec_{i}"), (f"threshold_{i}",))
        w = t[f"W_enc_{i}"]
        if w.ndim != 2:
            raise ModelLoadError(p, f"W_enc_{i} has shape {tuple(w.shape)}, expected [F, d]")
        if i == 0:
            f0, d0 = w.shape
        _shape(p, f"W_enc_{i}", w, (f0, d0))
        _shape(p, f"b_enc_{i}", t[f"b_enc_{i}"], (f0,))
        _shape(p, f"b_dec_{i}", t[f"b_dec_{i}"], (d0,))
        enc.append(w)
        benc.append(t[f"b_enc_{i}"])
        bdec.append(t[f"b_dec_{i}"])
        if f"threshold_{i}" in t:
            thr.append(t[f"threshold_{i}"].reshape(-1))
        dp = folder / f"W_dec_{i}.safetensors"
        wd = _tensors(dp, (f"W_dec_{i}",))[f"W_dec_{i}"]
        _shape(dp, f"W_dec_{i}", wd, (f0, n - i, d0))
        dec.append(wd)
    if thr and len(thr) != n:
        raise ModelLoadError(folder, "threshold_{i} present in some layers only")
    return dict(kind="clt", w_enc=torch.stack(enc), b_enc=torch.stack(benc),
                threshold=torch.stack(thr) if thr else None, w_dec=dec, b_dec=torch.stack(bdec),
                w_skip=None)


def load_transcoders(folder: str | Path) -> Transcoders:
    """Read a transcoder folder (``config.yaml`` + safetensors) in float32 on the CPU.

    Raises:
        ModelLoadError: Missing files, unknown ``model_kind`` / hooks, bad shapes.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ModelLoadError(root, "transcoder folder does not exist")
    cfg = _read_yaml(root / "config.yaml")
    kind = cfg.get("model_kind")
    act = cfg.get("activation")
    if act not in (None, "relu", "jump_relu", "jumprelu"):
        raise ModelLoadError(root / "config.yaml", f"activation {act!r} is not supported")
    for key in ("feature_input_hook", "feature_output_hook"):
        if cfg.get(key) not in HOOK_ALIASES:
            raise ModelLoadError(root / "config.yaml",
                                 f"{key} {cfg.get(key)!r} is not one of {sorted(HOOK_ALIASES)}")
    if "transcoders" in cfg:
        raise ModelLoadError(root / "config.yaml",
                             "per-file 'transcoders' lists (hub layouts) are not supported; "
                             "use a folder of layer_{i}.safetensors")
    if kind == "transcoder_set":
        parts = _load_plt(root)
        if act == "relu":
            parts["threshold"] = None
    elif kind == "cross_layer_transcoder":
        parts = _load_clt(root)
    else:
        raise ModelLoadError(root / "config.yaml", f"model_kind {kind!r} is not "
                             "transcoder_set or cross_layer_transcoder")
    return Transcoders(**parts, input_hook=cfg["feature_input_hook"],
                       output_hook=cfg["feature_output_hook"], scan=cfg.get("scan"),
                       path=str(root))
