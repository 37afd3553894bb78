"""Loading local models and transcoders: layouts, caches, and one-line errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.graph.io.dense import DenseGraphData, graph_from_dense
from circuitdesk.graph.errors import CircuitDeskError
from circuitdesk.models.protocol import ModelLoadError
from circuitdesk.models.registry import available_backends, open_backend

from .models_util import build_model, build_transcoders, open_tiny

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("load")
    build_model(r / "model")
    return r


def _open(model: Path, tcs: Path) -> object:
    return open_backend("torch", model_dir=model, transcoders_dir=tcs)


def _error(model: Path, tcs: Path) -> str:
    with pytest.raises(ModelLoadError) as info:
        _open(model, tcs)
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, CircuitDeskError)
    return msg


def test_registry_lists_and_rejects() -> None:
    assert "torch" in available_backends()
    with pytest.raises(ModelLoadError, match="unknown model backend"):
        open_backend("nope", model_dir=".", transcoders_dir=".")


def test_models_package_does_not_import_torch() -> None:
    code = ("import sys, circuitdesk.models, circuitdesk.models.registry; "
            "sys.exit(1 if 'torch' in sys.modules or 'transformers' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_and_bad_transcoder_folders(root: Path) -> None:
    model = root / "model"
    assert "does not exist" in _error(model, root / "absent")
    empty = root / "empty"
    empty.mkdir()
    assert "config.yaml" in _error(model, empty)
    tc = build_transcoders(root / "bad-kind")
    (tc / "config.yaml").write_text(
        "model_kind: sae\nfeature_input_hook: mlp.hook_in\nfeature_output_hook: mlp.hook_out\n")
    assert "model_kind 'sae'" in _error(model, tc)
    tc = build_transcoders(root / "bad-hook", input_hook="blocks.hook_x")
    assert "feature_input_hook" in _error(model, tc)
    tc = build_transcoders(root / "gap")
    (tc / "layer_1.safetensors").unlink()
    assert "numbered" in _error(model, tc)
    tc = build_transcoders(root / "clt-no-dec", kind="clt")
    (tc / "W_dec_2.safetensors").unlink()
    assert "W_dec_2.safetensors" in _error(model, tc)


def test_shape_mismatches(root: Path) -> None:
    model = root / "model"
    assert "d_model 8 != model hidden size 16" in _error(
        model, build_transcoders(root / "narrow", d_model=8))
    assert "cover 2 layers but the model has 3" in _error(
        model, build_transcoders(root / "short", n_layers=2))
    tc = build_transcoders(root / "wrong-dec")
    shutil.copy(build_transcoders(root / "wide", n_features=30) / "layer_1.safetensors",
                tc / "layer_1.safetensors")
    assert "layer_1.safetensors" in _error(model, tc)


def test_bad_model_folders(root: Path) -> None:
    tc = build_transcoders(root / "tc-ok")
    assert "does not exist" in _error(root / "no-model", tc)
    notmodel = root / "not-a-model"
    notmodel.mkdir()
    assert "config.json" in _error(notmodel, tc)


def test_bos_is_prepended_once(root: Path) -> None:
    from circuitdesk.models.protocol import ReplacementBackend

    b = open_tiny(root, "llama", "plt")
    assert isinstance(b, ReplacementBackend)
    ids = b.tokenize("the cat")
    assert ids[0] == 1 and len(ids) == 3 and b.token_strings(ids)[0] == "<s>"
    assert b.tokenize(ids) == ids
    assert b.tokenize(ids[1:]) == ids


def _graph(tokens: list[int], prompt: str) -> object:
    data = DenseGraphData(
        adjacency=np.zeros((len(tokens) * 4 + 1,) * 2, np.float32),
        active_features=np.zeros((0, 3), np.int64), activation_values=np.zeros(0, np.float32),
        selected_features=np.zeros(0, np.int64), input_tokens=np.asarray(tokens),
        logit_tokens=[5], logit_strings=["cat"], logit_probabilities=np.ones(1, np.float32),
        n_layers=3, prompt=prompt)
    return graph_from_dense(data)


def test_graph_tokens_must_match_tokenizer(root: Path) -> None:
    b = open_tiny(root, "llama", "plt")
    ok = b.tokenize("the cat sat")
    assert b.check_graph_tokens(_graph(ok, "the cat sat")) == ok
    with pytest.raises(ModelLoadError, match="input_tokens"):
        b.check_graph_tokens(_graph([1, 6, 5, 4], "the cat sat"))


def test_found_in_local_caches(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hc
    from circuitdesk.models.torch.hf_loading import locate_for_graph

    hub = root / "hub"
    snap = hub / "models--tiny--llama" / "snapshots" / "abc123"
    shutil.copytree(root / "model", snap)
    (hub / "models--tiny--llama" / "refs").mkdir()
    (hub / "models--tiny--llama" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hub))
    ct = root / "ct-cache"
    build_transcoders(ct / "tiny" / "plt-set")
    monkeypatch.setenv("CIRCUIT_TRACER_CACHE_DIR", str(ct))
    model_dir, tc_dir = locate_for_graph("tiny/llama", "tiny/plt-set")
    assert model_dir == snap and tc_dir == ct / "tiny" / "plt-set"
    with pytest.raises(ModelLoadError, match="no cached transcoders"):
        locate_for_graph("tiny/llama", "other/set")
    with pytest.raises(ModelLoadError, match="nothing is downloaded"):
        locate_for_graph("tiny/absent", "tiny/plt-set")
