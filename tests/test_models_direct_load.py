"""The model is filled straight from its mapped safetensors (issue 17): same weights, buffers
and logits as transformers' own loader, on every supported architecture."""

from __future__ import annotations

from pathlib import Path

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
