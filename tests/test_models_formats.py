"""Transcoder layouts as circuit-tracer 0.5.x reads them, from tiny files written here.

Each layout holds the same random weights as a reference folder in the engine's cache layout,
so loading it must give the same encoders, thresholds, skip maps and decoder rows. Hub layouts
come from a fake local Hugging Face cache; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
yaml = pytest.importorskip("yaml")
from circuitdesk.models.protocol import ModelLoadError
from circuitdesk.models.torch.hf_loading import resolve_transcoders_dir
from circuitdesk.models.torch.transcoder_formats import load_transcoders
from circuitdesk.models.torch.transcoders import Transcoders
from safetensors.torch import load_file, save_file

from .models_util import build_transcoders

pytestmark = pytest.mark.models
L, D, F = 3, 16, 24
HOOKS = {"feature_input_hook": "mlp.hook_in", "feature_output_hook": "mlp.hook_out"}


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import huggingface_hub.constants as c

    cache = tmp_path / "hf"
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("CIRCUIT_TRACER_CACHE_DIR", str(tmp_path / "ct-empty"))
    return cache


def put(cache: Path, repo: str, filename: str) -> Path:
    """The path of ``filename`` in a cached snapshot of ``repo`` (folders made, refs/main set)."""
    base = cache / ("models--" + repo.replace("/", "--"))
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text("0123abcd")
    p = base / "snapshots" / "0123abcd" / filename
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def write_config(path: Path, **cfg: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))


def same(a: Transcoders, b: Transcoders, *, skip: bool = False) -> None:
    assert (a.kind, a.n_layers, a.d_transcoder, a.d_model) == (b.kind, b.n_layers, b.d_transcoder,
                                                              b.d_model)
    torch.testing.assert_close(a.w_enc, b.w_enc, rtol=0, atol=0)
    torch.testing.assert_close(a.b_enc, b.b_enc, rtol=0, atol=0)
    torch.testing.assert_close(a.b_dec, b.b_dec, rtol=0, atol=0)
    assert (a.threshold is None) == (b.threshold is None) and a.activation == b.activation
    if a.threshold is not None:
        torch.testing.assert_close(a.threshold, b.threshold, rtol=0, atol=0)
    feats = torch.tensor([5, 0, 23, 5])
    for layer in range(a.n_layers):
        torch.testing.assert_close(a.decoder_rows(layer, feats), b.decoder_rows(layer, feats),
                                   rtol=0, atol=0)
    x = torch.randn(2, D, generator=torch.Generator().manual_seed(3))
    assert (a.skip(1, x) is None) == (not skip) == (b.skip(1, x) is None)
    if skip:
        torch.testing.assert_close(a.skip(1, x), b.skip(1, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("compressed", [False, True])
def test_gemma_scope_npz_through_the_gemma_shortcut(tmp_path: Path, hf_cache: Path,
                                                    compressed: bool) -> None:
    ref = load_transcoders(build_transcoders(tmp_path / "ref", "plt", jump=True))
    entries = []
    for i in range(L):
        t = load_file(str(tmp_path / "ref" / f"layer_{i}.safetensors"))
        name = f"layer_{i}/width_16k/average_l0_7/params.npz"
        arrays = {"W_enc": t["W_enc"].T.numpy(), "W_dec": t["W_dec"].numpy(),
                  "b_enc": t["b_enc"].numpy(), "b_dec": t["b_dec"].numpy(),
                  "threshold": t["activation_function.threshold"].numpy()}
        (np.savez_compressed if compressed else np.savez)(
            put(hf_cache, "google/gemma-scope-2b-pt-transcoders", name), **arrays)
        entries.append(f"hf://google/gemma-scope-2b-pt-transcoders/{name}")
    write_config(put(hf_cache, "mwhanna/gemma-scope-transcoders", "config.yaml"),
                 model_kind="transcoder_set", transcoders=entries, **HOOKS)
    folder = resolve_transcoders_dir("gemma")
    tc = load_transcoders(folder)
    same(tc, ref)
    assert tc.scan == "mwhanna/gemma-scope-transcoders"


def test_llama_shortcut_per_layer_safetensors_in_the_hub_layout(tmp_path: Path,
                                                               hf_cache: Path) -> None:
    ref = load_transcoders(build_transcoders(tmp_path / "ref", "plt", skip=True))
    repo = "mntss/transcoder-Llama-3.2-1B"
    for i in range(L):
        put(hf_cache, repo, f"layer_{i}.safetensors").write_bytes(
            (tmp_path / "ref" / f"layer_{i}.safetensors").read_bytes())
    write_config(put(hf_cache, repo, "config.yaml"), model_kind="transcoder_set",
                 transcoders=[f"hf://{repo}/layer_{i}.safetensors" for i in range(L)], **HOOKS)
    same(load_transcoders(resolve_transcoders_dir("llama")), ref, skip=True)


def test_gemma_scope_2_per_layer_with_affine_skip(tmp_path: Path, hf_cache: Path) -> None:
    ref = load_transcoders(build_transcoders(tmp_path / "ref", "plt", jump=True, skip=True))
    repo = "google/gemma-scope-2-270m-pt"
    entries = []
    for i in range(L):
        t = load_file(str(tmp_path / "ref" / f"layer_{i}.safetensors"))
        name = f"transcoder/layer_{i}_width_16k_l0_small/params.safetensors"
        save_file({"w_enc": t["W_enc"].T.contiguous(), "w_dec": t["W_dec"],
                   "b_enc": t["b_enc"], "b_dec": t["b_dec"],
                   "threshold": t["activation_function.threshold"],
                   "affine_skip_connection": t["W_skip"].T.contiguous()},
                  str(put(hf_cache, repo, name)))
        entries.append(f"hf://{repo}/{name}?revision=main")
    write_config(put(hf_cache, repo, "transcoder/config.yaml"), model_kind="transcoder_set",
                 transcoders=entries, **HOOKS)
    tc = load_transcoders(resolve_transcoders_dir(f"{repo}/transcoder"))
    same(tc, ref, skip=True)
    assert tc.scan == f"{repo}//transcoder"
    # The scan a graph records (repo//subfolder@revision) finds the same folder.
    assert resolve_transcoders_dir(f"{repo}//transcoder@main") == resolve_transcoders_dir(
        f"{repo}/transcoder")


def test_gemma_scope_2_cross_layer(tmp_path: Path, hf_cache: Path) -> None:
    ref = load_transcoders(build_transcoders(tmp_path / "ref", "clt", jump=True))
    repo = "google/gemma-scope-2-270m-pt"
    entries = []
    for i in range(L):
        t = load_file(str(tmp_path / "ref" / f"W_enc_{i}.safetensors"))
        dec = load_file(str(tmp_path / "ref" / f"W_dec_{i}.safetensors"))[f"W_dec_{i}"]
        full = torch.cat([torch.full((F, i, D), float("nan")), dec], dim=1)  # slots < i unused
        name = f"clt/layer_{i}.safetensors"
        save_file({"w_enc": t[f"W_enc_{i}"].T.contiguous(), "w_dec": full.contiguous(),
                   "b_enc": t[f"b_enc_{i}"], "b_dec": t[f"b_dec_{i}"],
                   "threshold": t[f"threshold_{i}"]}, str(put(hf_cache, repo, name)))
        entries.append(f"hf://{repo}/{name}")
    write_config(put(hf_cache, repo, "clt/config.yaml"), model_kind="cross_layer_transcoder",
                 transcoders=entries, **HOOKS)
    same(load_transcoders(resolve_transcoders_dir(f"hf://{repo}/clt")), ref)


def test_cross_layer_skip_weights(tmp_path: Path) -> None:
    folder = build_transcoders(tmp_path / "clt", "clt")
    no_skip = load_transcoders(folder)
    assert no_skip.w_skip is None
    w = torch.randn(D, D, generator=torch.Generator().manual_seed(9))
    for i in range(L):
        p = folder / f"W_enc_{i}.safetensors"
        t = load_file(str(p))
        save_file({**t, f"W_skip_{i}": w * (i + 1)}, str(p))
    tc = load_transcoders(folder)
    x = torch.randn(4, D)
    torch.testing.assert_close(tc.skip(2, x), x @ (3 * w), rtol=1e-6, atol=1e-6)


def test_topk_keeps_the_k_largest(tmp_path: Path) -> None:
    folder = build_transcoders(tmp_path / "topk", "plt")
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    write_config(folder / "config.yaml", **cfg, activation="topk", k=3)
    tc = load_transcoders(folder)
    pre = torch.randn(5, F)
    post = tc.activate(0, pre)
    assert ((post != 0).sum(-1) == 3).all()
    top = torch.topk(pre, 3, dim=-1).indices
    torch.testing.assert_close(post.gather(-1, top), pre.gather(-1, top))
    write_config(folder / "config.yaml", **cfg, activation="topk")
    with pytest.raises(ModelLoadError, match="topk needs a positive k"):
        load_transcoders(folder)
    for i in range(L):  # the engine's own cache stores k beside the weights
        p = folder / f"layer_{i}.safetensors"
        save_file({**load_file(str(p)), "k": torch.tensor(2)}, str(p))
    assert load_transcoders(folder).k == 2


def test_missing_hub_file_names_file_and_repo(tmp_path: Path, hf_cache: Path) -> None:
    repo = "someone/tc-repo"
    write_config(put(hf_cache, repo, "config.yaml"), model_kind="transcoder_set",
                 transcoders=[f"hf://{repo}/layer_0.safetensors"], **HOOKS)
    with pytest.raises(ModelLoadError) as info:
        load_transcoders(resolve_transcoders_dir(repo))
    msg = str(info.value)
    assert "\n" not in msg and "layer_0.safetensors" in msg and repo in msg
    with pytest.raises(ModelLoadError, match="not in the local circuit-tracer or Hugging Face"):
        resolve_transcoders_dir("someone/absent-repo")


def test_decoders_stay_on_disk_and_encoders_take_the_compute_dtype(tmp_path: Path) -> None:
    folder = build_transcoders(tmp_path / "clt", "clt")
    tc = load_transcoders(folder, dtype=torch.bfloat16)
    assert tc.w_enc.dtype == tc.b_enc.dtype == torch.bfloat16
    feats = torch.tensor([1, 7])
    before = tc.decoder_rows(0, feats)
    assert before.dtype == torch.bfloat16
    # Rewrite the decoder file in place: a mapped decoder sees it, a copied one would not.
    p = folder / "W_dec_0.safetensors"
    t = load_file(str(p))
    save_file({"W_dec_0": -t["W_dec_0"]}, str(tmp_path / "neg.safetensors"))
    with p.open("r+b") as f:
        f.write((tmp_path / "neg.safetensors").read_bytes())
    torch.testing.assert_close(tc.decoder_rows(0, feats), -before)


def test_bad_safetensors_header_is_one_line(tmp_path: Path) -> None:
    folder = build_transcoders(tmp_path / "plt", "plt")
    (folder / "layer_1.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ModelLoadError, match="layer_1.safetensors.*header length"):
        load_transcoders(folder)
