"""Every transcoder layout that circuit-tracer 0.5.x reads, mapped into :class:`LayerTensors`.

Read from circuit-tracer's ``utils/caching.py``, ``utils/hf_utils.py`` and ``transcoder/``:

* per-layer folders, ``layer_{i}.safetensors`` (``W_enc [F, d]``, ``W_dec``, ``b_enc``,
  ``b_dec``, optional ``activation_function.threshold``, ``W_skip`` applied as ``x @ W_skip.T``,
  and ``k`` for TopK), as the engine's cache and ``mntss/transcoder-Llama-3.2-1B`` hold them;
* cross-layer folders, ``W_enc_{i}.safetensors`` (``W_enc_i``, ``b_enc_i``, ``b_dec_i``,
  ``threshold_i``; optional ``W_skip_i`` applied as ``x @ W_skip_i``) and
  ``W_dec_{i}.safetensors`` (``W_dec_i [F, L - i, d]``);
* ``config.yaml`` with a ``transcoders:`` list of ``hf://org/repo/path[?revision=r]`` entries
  (or local paths), each found in the local Hugging Face cache; never downloaded. Per file:
  GemmaScope ``.npz`` (``W_enc [d, F]``, ``threshold``), GemmaScope-2 safetensors
  (lower-case ``w_enc [d, F]``, ``w_dec``, ``threshold``, ``affine_skip_connection`` applied
  as ``x @ A``), or the per-layer layout above. A cross-layer list is GemmaScope-2's
  (``w_dec [F, L, d]`` per file, layer i writes from slot i on).

The engine's GemmaScope-2 CLT loader reads ``range(max(paths))`` files and so drops the last
layer; here every listed layer is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import torch

from ..protocol import ModelLoadError
from .tensor_files import map_npz, map_safetensors
from .transcoders import HOOK_ALIASES, LayerTensors, Transcoders, assemble

ACTIVATIONS: tuple[str | None, ...] = (None, "relu", "jump_relu", "jumprelu", "topk")


def read_yaml(path: Path) -> dict[str, Any]:
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


def parse_hf_uri(uri: str) -> tuple[str, str, str | None]:
    """``hf://org/repo/path/file?revision=r`` → ``(org/repo, path/file, r)``."""
    parsed = urlparse(uri)
    parts = parsed.path.lstrip("/").split("/", 1)
    if parsed.scheme != "hf" or not parsed.netloc or len(parts) != 2 or not parts[1]:
        raise ModelLoadError(uri, "not an hf://org/repo/file reference")
    revs = parse_qs(parsed.query).get("revision")
    revision = revs[0] if revs else None
    return f"{parsed.netloc}/{parts[0]}", parts[1], revision


def cached_hf_file(repo: str, filename: str, revision: str | None = None) -> Path | None:
    """The local Hugging Face cache's copy of one file, or None (nothing is downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        hit = try_to_load_from_cache(repo, filename, revision=revision)
    except Exception:  # noqa: BLE001 - invalid repo ids raise assorted validation errors
        return None
    return Path(hit) if isinstance(hit, str) else None


def resolve_entry(entry: Any, root: Path) -> Path:
    """A ``transcoders:`` list entry as a local file.

    Raises:
        ModelLoadError: one line naming the file and the repo when it is not cached.
    """
    if not isinstance(entry, str) or not entry:
        raise ModelLoadError(root / "config.yaml", f"transcoders entry {entry!r} is not a path")
    if entry.startswith("hf://"):
        repo, filename, revision = parse_hf_uri(entry)
        hit = cached_hf_file(repo, filename, revision)
        if hit is None:
            raise ModelLoadError(entry, f"file {filename} of repo {repo} is not in the local "
                                        "Hugging Face cache (nothing is downloaded)")
        return hit
    p = Path(entry).expanduser()
    p = p if p.is_absolute() else root / p
    if not p.is_file():
        raise ModelLoadError(p, "missing transcoder file listed in config.yaml")
    return p


def _need(path: Path, t: dict[str, torch.Tensor], *keys: str) -> list[torch.Tensor]:
    missing = [k for k in keys if k not in t]
    if missing:
        raise ModelLoadError(path, f"no tensor {missing[0]!r} (has {sorted(t)})")
    for k in keys:
        if t[k].ndim == 0 and k != "k":
            raise ModelLoadError(path, f"tensor {k!r} is a scalar")
    return [t[k] for k in keys]


def _k(t: dict[str, torch.Tensor]) -> int | None:
    return int(t["k"].reshape(-1)[0]) if "k" in t and t["k"].numel() else None


def plt_layer(path: Path) -> LayerTensors:
    """One per-layer transcoder file in any of the three per-layer layouts."""
    if path.suffix == ".npz":  # GemmaScope: W_enc stored [d, F]
        t = map_npz(path)
        w_enc, w_dec, b_enc, b_dec, thr = _need(path, t, "W_enc", "W_dec", "b_enc", "b_dec",
                                                "threshold")
        return LayerTensors(w_enc.T, b_enc, b_dec, w_dec, thr, None, None, path)
    t = map_safetensors(path)
    if "w_enc" in t:  # GemmaScope-2
        w_enc, w_dec, b_enc, b_dec, thr = _need(path, t, "w_enc", "w_dec", "b_enc", "b_dec",
                                                "threshold")
        return LayerTensors(w_enc.T, b_enc, b_dec, w_dec, thr,
                            t.get("affine_skip_connection"), None, path)
    w_enc, w_dec, b_enc, b_dec = _need(path, t, "W_enc", "W_dec", "b_enc", "b_dec")
    skip = t.get("W_skip")
    return LayerTensors(w_enc, b_enc, b_dec, w_dec, t.get("activation_function.threshold"),
                        None if skip is None else skip.T, _k(t), path)


def _numbered(folder: Path, pattern: str) -> int:
    rx = re.compile(pattern)
    idx = sorted(int(m.group(1)) for p in folder.iterdir() if (m := rx.fullmatch(p.name)))
    if idx != list(range(len(idx))):
        raise ModelLoadError(folder, f"layer files are not numbered 0..n-1: {idx}")
    return len(idx)


def clt_folder_layers(folder: Path) -> list[LayerTensors]:
    """The engine's cross-layer cache layout (``W_enc_{i}`` / ``W_dec_{i}`` files)."""
    n = _numbered(folder, r"W_enc_(\d+)\.safetensors")
    if n == 0:
        raise ModelLoadError(folder, "no W_enc_{i}.safetensors files")
    layers = []
    for i in range(n):
        p = folder / f"W_enc_{i}.safetensors"
        t = map_safetensors(p)
        w_enc, b_enc, b_dec = _need(p, t, f"W_enc_{i}", f"b_enc_{i}", f"b_dec_{i}")
        thr = t.get(f"threshold_{i}")
        dp = folder / f"W_dec_{i}.safetensors"
        (w_dec,) = _need(dp, map_safetensors(dp), f"W_dec_{i}")
        layers.append(LayerTensors(w_enc, b_enc, b_dec, w_dec,
                                   None if thr is None else thr.reshape(-1),
                                   t.get(f"W_skip_{i}"), None, p))
    return layers


def gemma_scope_2_clt_layers(paths: list[Path]) -> list[LayerTensors]:
    """GemmaScope-2 cross-layer files: layer i's decoder is slots i… of ``w_dec [F, L, d]``."""
    layers = []
    for i, p in enumerate(paths):
        t = map_safetensors(p)
        w_enc, w_dec, b_enc, b_dec, thr = _need(p, t, "w_enc", "w_dec", "b_enc", "b_dec",
                                                "threshold")
        if w_dec.ndim != 3 or w_dec.shape[1] != len(paths):
            raise ModelLoadError(p, f"w_dec has shape {tuple(w_dec.shape)}, expected "
                                    f"[F, {len(paths)}, d]")
        layers.append(LayerTensors(w_enc.T, b_enc, b_dec, w_dec[:, i:], thr,
                                   t.get("affine_skip_connection"), None, p))
    return layers


def scan_from_path(root: Path) -> str:
    """circuit-tracer's ``scan`` for a folder found in the Hugging Face cache (``repo//sub``)."""
    parts = root.absolute().parts
    for j, part in enumerate(parts):
        if part.startswith("models--") and j + 2 < len(parts) and parts[j + 1] == "snapshots":
            repo = part.removeprefix("models--").replace("--", "/")
            sub = "/".join(parts[j + 3:])
            return f"{repo}//{sub}" if sub else repo
    return str(root)


def _check_config(root: Path, cfg: dict[str, Any]) -> None:
    where = root / "config.yaml"
    if cfg.get("activation") not in ACTIVATIONS:
        raise ModelLoadError(where, f"activation {cfg.get('activation')!r} is not supported")
    for key in ("feature_input_hook", "feature_output_hook"):
        if cfg.get(key) not in HOOK_ALIASES:
            raise ModelLoadError(where, f"{key} {cfg.get(key)!r} is not one of "
                                        f"{sorted(HOOK_ALIASES)}")
    if cfg.get("model_kind") not in ("transcoder_set", "cross_layer_transcoder"):
        raise ModelLoadError(where, f"model_kind {cfg.get('model_kind')!r} is not "
                                    "transcoder_set or cross_layer_transcoder")
    listed = cfg.get("transcoders")
    if listed is not None and (not isinstance(listed, list) or not listed):
        raise ModelLoadError(where, "'transcoders' is not a non-empty list")


def read_transcoders(root: Path, *, dtype: torch.dtype, device: torch.device | str
                     ) -> Transcoders:
    """Read the transcoder folder ``root`` (see the module docstring for the layouts).

    Raises:
        ModelLoadError: one line naming the missing or inconsistent file.
    """
    if not root.is_dir():
        raise ModelLoadError(root, "transcoder folder does not exist")
    cfg = read_yaml(root / "config.yaml")
    _check_config(root, cfg)
    clt = cfg["model_kind"] == "cross_layer_transcoder"
    listed = cfg.get("transcoders")
    if listed:
        paths = [resolve_entry(e, root) for e in listed]
        layers = gemma_scope_2_clt_layers(paths) if clt else [plt_layer(p) for p in paths]
    elif clt:
        layers = clt_folder_layers(root)
    else:
        n = _numbered(root, r"layer_(\d+)\.safetensors")
        if n == 0:
            raise ModelLoadError(root, "no layer_{i}.safetensors files")
        layers = [plt_layer(root / f"layer_{i}.safetensors") for i in range(n)]
    act = cfg.get("activation")
    act = "jump_relu" if act == "jumprelu" else act
    k = cfg.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool)):
        raise ModelLoadError(root / "config.yaml", f"k {k!r} is not an integer")
    return assemble("clt" if clt else "plt", layers, activation=act or "", k=k,
                    input_hook=cfg["feature_input_hook"], output_hook=cfg["feature_output_hook"],
                    scan=cfg.get("scan") or scan_from_path(root), path=str(root),
                    dtype=dtype, device=device)


def load_transcoders(folder: str | Path, *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> Transcoders:
    """Read a transcoder folder (``config.yaml`` + files) with encoders in ``dtype``.

    Raises:
        ModelLoadError: Missing files, unknown ``model_kind`` / hooks, bad shapes.
    """
    return read_transcoders(Path(folder), dtype=dtype, device=device)
