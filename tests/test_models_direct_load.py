"""The model is filled straight from its mapped safetensors (issue 17): same weights, buffers
and logits as transformers' own loader, on every supported architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.models.torch.hf_loading import _from_pretrained, load_weights_direct

from .models_util import build_model

pytestmark = pytest.mark.models


@pytest.mark.parametrize("arch", ["llama", "llama3", "gemma2", "gemma3", "qwen3"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_direct_load_matches_transformers(tmp_path: Path, arch: str, dtype: str) -> None:
    from transformers import AutoConfig

    folder = build_model(tmp_path / arch, arch=arch, dtype="bfloat16")
    dt = getattr(torch, dtype)
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    mine = load_weights_direct(folder, config, dt)
    assert mine is not None
    ref = _from_pretrained(folder, dt)
    a, b = mine.state_dict(), ref.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert torch.equal(a[name], b[name]), name
    buffers = dict(ref.named_buffers())
    for name, buf in mine.named_buffers():
        assert torch.equal(buf, buffers[name]), name
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(mine.eval()(ids).logits, ref.eval()(ids).logits)
    if arch == "llama3":  # tied: one tensor, as transformers ties it
        assert mine.lm_head.weight.data_ptr() == mine.model.embed_tokens.weight.data_ptr()


def test_unusual_checkpoints_fall_back(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig

    folder = build_model(tmp_path / "m")
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    weights = load_file(folder / "model.safetensors")
    weights = {("prefix." + k if "layers.0." in k else k): v for k, v in weights.items()}
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    assert load_weights_direct(folder, config, torch.float32) is None
    (folder / "model.safetensors").unlink()
    assert load_weights_direct(folder, config, torch.float32) is None


@pytest.mark.parametrize("arch", ["llama", "llama3", "gemma2", "gemma3", "qwen3"])
def test_weights_kept_in_file_dtype_give_float32_logits(tmp_path: Path, arch: str) -> None:
    """bf16 files computing in float32: the weights stay mapped in bf16 and are upcast on use,
    and the logits equal those of float32 parameters exactly (bf16→fp32 is exact)."""
    from circuitdesk.models.torch.stored_weights import StoredEmbedding, StoredLinear
    from transformers import AutoConfig

    folder = build_model(tmp_path / arch, arch=arch, dtype="bfloat16")
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    stored = load_weights_direct(folder, config, torch.float32, upcast_on_use=True)
    plain = load_weights_direct(folder, config, torch.float32)
    assert stored is not None and plain is not None
    kinds = {type(m) for m in stored.modules()}
    assert StoredLinear in kinds and StoredEmbedding in kinds
    assert not any(p.dtype == torch.bfloat16 for p in stored.parameters())
    assert stored.dtype == torch.float32
    assert torch.equal(stored.get_output_embeddings().weight, plain.get_output_embeddings().weight)
    ids = torch.tensor([[1, 5, 6, 7, 8], [1, 9, 10, 11, 12]])
    with torch.inference_mode():  # the shared scratch buffer
        assert torch.equal(stored.eval()(ids).logits, plain.eval()(ids).logits)
    with torch.no_grad():
        assert torch.equal(stored(ids).logits, plain(ids).logits)
    # With autograd on (attribution), gradients flow through fresh upcasts.
    emb = plain.get_input_embeddings()(ids).detach().requires_grad_(True)
    out_a = stored(inputs_embeds=emb).logits[0, -1, 3]
    (g_a,) = torch.autograd.grad(out_a, emb)
    out_b = plain(inputs_embeds=emb).logits[0, -1, 3]
    (g_b,) = torch.autograd.grad(out_b, emb)
    assert torch.equal(out_a, out_b) and torch.equal(g_a, g_b)
    if arch == "llama3":  # tied: one stored tensor for the embedding and the head
        assert stored.lm_head.stored is stored.model.embed_tokens.stored


def test_head_upcast_in_chunks_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A head wider than the scratch buffer is upcast in row chunks, with the same logits."""
    from circuitdesk.models.torch import stored_weights
    from transformers import AutoConfig

    folder = build_model(tmp_path / "m", arch="llama3", dtype="bfloat16")
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    stored = load_weights_direct(folder, config, torch.float32, upcast_on_use=True)
    plain = load_weights_direct(folder, config, torch.float32)
    monkeypatch.setattr(stored_weights, "SCRATCH_ELEMENTS", 16 * 7)  # 7 rows of d_model 16
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    with torch.inference_mode():
        a, b = stored.eval()(ids).logits, plain.eval()(ids).logits
    assert (a - b).abs().max() <= 1e-6 * b.abs().max(), (a - b).abs().max()


def test_backend_on_bf16_files_matches_float32_parameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interventions and a trace through weights kept in bf16 equal those of float32 ones."""
    from circuitdesk.models.protocol import Intervention
    from circuitdesk.models.registry import open_backend
    from circuitdesk.models.torch import hf_loading
    from circuitdesk.models.torch.stored_weights import StoredLinear

    from .models_util import PROMPT, build_transcoders

    model = build_model(tmp_path / "m", arch="llama3", dtype="bfloat16")
    clt = build_transcoders(tmp_path / "clt", "clt", jump=True)
    ivs = [[Intervention(1, 2, 0, 0.0)], [Intervention(0, 1, 3, 2.0)]]

    def run() -> tuple[Any, Any, Any]:
        b = open_backend("torch", model_dir=model, transcoders_dir=clt, device="cpu",
                         dtype="float32")
        kinds = {type(m) for m in b.rm.hf.modules()}  # type: ignore[attr-defined]
        out = [r.logits for r in b.intervene_batch(PROMPT, ivs)], b.trace(PROMPT).adjacency
        return *out, kinds

    logits_s, adj_s, kinds_s = run()
    direct = hf_loading.load_weights_direct
    monkeypatch.setattr(hf_loading, "load_weights_direct",
                        lambda *a, **k: direct(*a, **{**k, "upcast_on_use": False}))
    logits_p, adj_p, kinds_p = run()
    assert StoredLinear in kinds_s and StoredLinear not in kinds_p
    for a, b in zip(logits_s, logits_p):
        assert np.array_equal(a, b)
    assert np.allclose(adj_s, adj_p, rtol=1e-5, atol=1e-6)
