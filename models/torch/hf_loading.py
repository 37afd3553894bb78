"""Find and load a local Hugging Face causal LM and its tokenizer; never downloads.

A model is named by a folder, or by a hub id that is looked up in the local Hugging Face
cache (``huggingface_hub.scan_cache_dir`` / ``try_to_load_from_cache``). Transcoders are a
folder, or a hub ref found in circuit-tracer's cache (``$CIRCUIT_TRACER_CACHE_DIR`` or
``~/.cache/circuit_tracer/<ref>/config.yaml``) or in the Hugging Face cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..protocol import ModelLoadError

SUPPORTED_ARCHITECTURES = (
    "LlamaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Qwen2ForCausalLM",
    "Qwen3ForCausalLM", "MistralForCausalLM",
)


def _hf_snapshot(repo_id: str, marker: str) -> Path | None:
    """Folder of the cached snapshot of ``repo_id`` that holds ``marker``, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    ref, _, revision = repo_id.partition("@")  # "org/name[/sub]@rev": the revision ends it
    repo, _, sub = ref.partition("//")
    parts = repo.split("/")
    if len(parts) > 2:  # "org/name/subfolder" form used by circuit-tracer refs
        repo, sub = "/".join(parts[:2]), "/".join(parts[2:] + ([sub] if sub else []))
    filename = f"{sub}/{marker}" if sub else marker
    try:
        hit = try_to_load_from_cache(repo, filename, revision=revision or None)
    except Exception:  # noqa: BLE001 - invalid repo ids raise assorted validation errors
        return None
    if isinstance(hit, str):
        return Path(hit).parent
    return None


def cached_repos() -> list[str]:
    """Hub ids of every model repo in the local Hugging Face cache (empty if none)."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir()
    except Exception:  # noqa: BLE001 - no cache dir, unreadable cache
        return []
    return sorted(r.repo_id for r in info.repos if r.repo_type == "model")


def resolve_model_dir(ref: str | Path) -> Path:
    """A local folder with ``config.json`` for ``ref`` (a path or a cached hub id)."""
    p = Path(ref).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ModelLoadError(p, "no config.json (not a Hugging Face model folder)")
        return p
    hit = _hf_snapshot(str(ref), "config.json")
    if hit is None:
        raise ModelLoadError(str(ref), "model folder does not exist and is not in the local "
                             "Hugging Face cache (nothing is downloaded)")
    return hit


def circuit_tracer_cache_dir() -> Path:
    env = os.environ.get("CIRCUIT_TRACER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "circuit_tracer"


SHORTCUTS = {"gemma": "mwhanna/gemma-scope-transcoders", "llama": "mntss/transcoder-Llama-3.2-1B"}
"""circuit-tracer's short transcoder names (``utils/caching.py``)."""


def normalize_ref(ref: str) -> str:
    """circuit-tracer's cache key of a ref: shortcuts expanded, ``hf://o/r/p?revision=v`` →
    ``o/r/p@v``, ``repo//sub`` → ``repo/sub``."""
    ref = SHORTCUTS.get(ref, ref)
    if ref.startswith("hf://"):
        from urllib.parse import parse_qs, urlparse

        parsed = urlparse(ref)
        ref = parsed.netloc + parsed.path.rstrip("/")
        rev = (parse_qs(parsed.query).get("revision") or [""])[0]
        ref = f"{ref}@{rev}" if rev else ref
    return ref.replace("//", "/")


def resolve_transcoders_dir(ref: str | Path) -> Path:
    """A local transcoder folder for ``ref``: a path, a shortcut (``gemma``, ``llama``), or a
    hub ref (``org/repo[/sub][@rev]``, ``hf://…``) in the engine's or Hugging Face's cache."""
    p = Path(ref).expanduser()
    if p.is_dir():
        return p
    s = str(ref)
    for cand in dict.fromkeys((s, s.replace("//", "/"), normalize_ref(s))):
        c = circuit_tracer_cache_dir() / cand
        if (c / "config.yaml").is_file():
            return c
    hit = _hf_snapshot(normalize_ref(s), "config.yaml")
    if hit is not None:
        return hit
    raise ModelLoadError(s, "transcoder folder does not exist and is not in the local "
                         "circuit-tracer or Hugging Face cache (nothing is downloaded)")


def load_hf_model(model_dir: Path, dtype: Any, device: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a local folder, eval mode, no grads on parameters."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(model_dir, f"unreadable config.json: {str(exc).splitlines()[0]}") from None
    arch = (getattr(config, "architectures", None) or ["?"])[0]
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelLoadError(model_dir, f"architecture {arch} is not supported "
                             f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelLoadError(model_dir, f"no usable tokenizer: {str(exc).splitlines()[0]}") from None
    # Kept mapped in the file's narrower dtype on the CPU only: an accelerator copies the
    # weights anyway, and there the float32 parameters cost no page faults.
    model = load_weights_direct(model_dir, config, dtype, upcast_on_use=str(device) == "cpu")
    if model is None:
        model = _from_pretrained(model_dir, dtype)
    model.to(device)
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    return model, tokenizer


def _from_pretrained(model_dir: Path, dtype: Any) -> Any:
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no tqdm on stderr
    try:
        return AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, dtype=dtype, attn_implementation="eager")
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(model_dir, f"cannot load weights: {str(exc).splitlines()[0]}") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _weight_files(model_dir: Path) -> list[Path] | None:
    """The folder's safetensors files (one file or an index of shards); None for others."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        files = [model_dir / s for s in shards]
    else:
        files = [model_dir / "model.safetensors"]
    return files if all(f.is_file() for f in files) else None


def load_weights_direct(model_dir: Path, config: Any, dtype: Any, *,
                        upcast_on_use: bool = False) -> Any:
    """The model built empty and filled tensor by tensor from its mapped safetensors, each
    converted straight into its parameter of the compute dtype; None when the checkpoint is not
    plain (other key names, fp32-kept modules, no safetensors): then transformers loads it.

    With ``upcast_on_use``, Linear and Embedding weights stored narrower than ``dtype`` (bf16
    or fp16 files computing in float32) are not converted: they stay mapped from the file and
    are upcast where used (:mod:`.stored_weights`), with the same results.

    transformers' loader holds the file's tensors and their converted copies at once (7.2 GiB
    peak for a 4.6 GiB float32 Llama-3.2-1B from bf16 files, 7.5-8 s); here each mapped tensor
    is released after its copy, so the peak is the model plus one tensor's pages.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from .tensor_files import read_safetensors_header

    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # another transformers: its own loader
        return None
    files = _weight_files(model_dir)
    if files is None:
        return None
    headers = {f: read_safetensors_header(f) for f in files}
    with no_init_weights():  # every parameter is overwritten below
        model = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
            config, dtype=dtype, attn_implementation="eager")
    model.tie_weights()  # skipped with the initialisation; the checkpoint holds one copy
    if getattr(model, "_keep_in_fp32_modules", None):
        return None
    params = dict(model.named_parameters())  # tied weights once
    known = set(model.state_dict())
    found = {n: (f, tuple(int(x) for x in h["shape"])) for f, hs in headers.items()
             for n, h in hs.items()}
    if set(params) - set(found) or set(found) - known or any(
            n in params and tuple(params[n].shape) != shape for n, (_, shape) in found.items()):
        return None  # renamed, missing or extra keys: transformers knows the conversions
    from .stored_weights import replace_with_stored
    from .tensor_files import map_safetensors

    keep = _kept_mapped(model, found, headers, dtype) if upcast_on_use else set()
    stored: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for f in files:
            mapped = map_safetensors(f)
            for name in list(mapped):
                t = mapped.pop(name)  # its pages leave our RSS when the map goes
                if name in keep:
                    stored[id(params[name])] = t
                elif name in params:
                    params[name].copy_(t)
                del t
    if stored:
        replace_with_stored(model, stored, dtype)
    return model


def _kept_mapped(model: Any, found: dict[str, tuple[Path, tuple[int, ...]]],
                 headers: dict[Path, dict[str, Any]], dtype: Any) -> set[str]:
    """Names of the weights to keep in the file's dtype: stored narrower than ``dtype``, and
    used only by modules that :mod:`.stored_weights` reproduces (a tied weight by all)."""
    from .stored_weights import is_narrower, storable
    from .tensor_files import torch_dtype

    users: dict[int, list[bool]] = {}
    for m in model.modules():
        for prm in m.parameters(recurse=False):
            users.setdefault(id(prm), []).append(storable(m) and prm is getattr(m, "weight", None))
    keep = set()
    for name, prm in model.named_parameters():
        f, _ = found[name]
        file_dtype = torch_dtype(headers[f][name]["dtype"])
        if file_dtype is not None and is_narrower(file_dtype, dtype) and all(users[id(prm)]):
            keep.add(name)
    return keep


def locate_for_graph(model: str, scan: str | list[str] | None, transcoder_set: str = ""
                     ) -> tuple[Path, Path]:
    """Local model and transcoder folders for a graph's metadata, from the local caches only.

    Args:
        model: The graph's model name (``cfg.model_name`` / JSON ``metadata.info``).
        scan: The graph's ``scan`` (a transcoder ref such as ``mntss/clt-gemma-2-2b-426k``).
        transcoder_set: Neuronpedia's transcoder set name, tried after ``scan``.

    Raises:
        ModelLoadError: Nothing usable is cached (one line naming what was looked for).
    """
    if not model:
        raise ModelLoadError("", "the graph does not name its model")
    model_dir = resolve_model_dir(model)
    refs = [s for s in ([scan] if isinstance(scan, str) else list(scan or [])) if s]
    refs += [transcoder_set] if transcoder_set else []
    for ref in refs:
        try:
            return model_dir, resolve_transcoders_dir(ref)
        except ModelLoadError:
            continue
    raise ModelLoadError(", ".join(refs) or model, "no cached transcoders for this graph "
                         "(looked in the circuit-tracer and Hugging Face caches)")
