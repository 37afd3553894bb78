"""The demo builder: layout, tokenizer, learning and transcoder files (test-sized build)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
yaml = pytest.importorskip("yaml")
safetensors_torch = pytest.importorskip("safetensors.torch")

from circuitdesk.graph.cancel import CancelToken
from circuitdesk.graph.errors import Cancelled
from circuitdesk.models.demo.builder import SIZES, build_demo, collect_mlp_activations

pytestmark = pytest.mark.models

SMALL = SIZES["small"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[float]]:
    out = tmp_path_factory.mktemp("demo")
    fractions: list[float] = []
    report = build_demo(out, size="small", seed=0, progress=lambda f, _p: fractions.append(f))
    return out, report, fractions


def _tokenizer(out: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(out / "model"), local_files_only=True)


def _model(out: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(out / "model"), local_files_only=True).eval()


def test_layout(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    out, _, _ = built
    n = SMALL.n_layers
    expected = ["model/config.json", "model/model.safetensors", "model/tokenizer.json",
                "model/tokenizer_config.json", "README.md", "build_info.json",
                "transcoders-plt/config.yaml", "transcoders-clt/config.yaml"]
    expected += [f"transcoders-plt/layer_{i}.safetensors" for i in range(n)]
    expected += [f"transcoders-clt/W_{w}_{i}.safetensors" for i in range(n) for w in ("enc", "dec")]
    missing = [p for p in expected if not (out / p).is_file()]
    assert not missing
    info = json.loads((out / "build_info.json").read_text())
    assert info["size"] == "small" and set(info["top5"]) and info["bytes"]["model"] > 0


def test_progress_runs_to_one(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    _, _, fractions = built
    assert fractions[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(fractions))


def test_tokenizer_adds_bos_and_round_trips(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    tok = _tokenizer(built[0])
    prompt = "The capital of France is"
    ids = tok(prompt)["input_ids"]
    # <bos> = 1, not 0: circuit-tracer's filter(None, ...) would skip a BOS id of 0.
    assert tok.bos_token_id == 1 and tok.pad_token_id == 0 and tok.eos_token_id == 2
    assert ids[0] == tok.bos_token_id and tok.bos_token_id not in ids[1:]
    assert tok(prompt, add_special_tokens=False)["input_ids"] == ids[1:]
    assert tok.decode(ids, skip_special_tokens=True) == prompt


def test_model_learned(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    out, report, _ = built
    losses = report["losses"]
    assert losses["final_train_loss"] < 0.5 * losses["initial_loss"]
    assert losses["held_out_loss"] < 0.5 * losses["initial_loss"]
    tok, model = _tokenizer(out), _model(out)
    ids = tok("one two three", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        probs = model(input_ids=ids).logits[0, -1].softmax(-1)
    four = tok(" four", add_special_tokens=False)["input_ids"]
    assert len(four) == 1
    # Uniform would be 1/len(tok); the small build reaches ~0.8 here.
    assert float(probs[four[0]]) > 10 / len(tok)


def _config(folder: Path) -> dict[str, Any]:
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    assert cfg["feature_input_hook"] == "mlp.hook_in"
    assert cfg["feature_output_hook"] == "mlp.hook_out"
    assert "transcoders" not in cfg  # found next to config.yaml, as in circuit-tracer's cache
    return cfg


def test_plt_files_match_formats(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    folder = built[0] / "transcoders-plt"
    cfg = _config(folder)
    assert cfg["model_kind"] == "transcoder_set" and cfg["scan"] == "circuitdesk-demo/plt"
    assert cfg["activation"] == "relu"
    f, d = SMALL.plt.n_features, SMALL.d_model
    for i in range(SMALL.n_layers):
        t = safetensors_torch.load_file(str(folder / f"layer_{i}.safetensors"))
        assert {k: tuple(v.shape) for k, v in t.items()} == {
            "W_enc": (f, d), "W_dec": (f, d), "b_enc": (f,), "b_dec": (d,)}
        assert all(v.dtype == torch.float32 for v in t.values())


def test_clt_files_match_formats(built: tuple[Path, dict[str, Any], list[float]]) -> None:
    folder = built[0] / "transcoders-clt"
    cfg = _config(folder)
    assert cfg["model_kind"] == "cross_layer_transcoder" and cfg["scan"] == "circuitdesk-demo/clt"
    n, f, d = SMALL.n_layers, SMALL.clt.n_features, SMALL.d_model
    for i in range(n):
        enc = safetensors_torch.load_file(str(folder / f"W_enc_{i}.safetensors"))
        assert {k: tuple(v.shape) for k, v in enc.items()} == {
            f"W_enc_{i}": (f, d), f"b_enc_{i}": (f,), f"b_dec_{i}": (d,), f"threshold_{i}": (f,)}
        assert bool((enc[f"threshold_{i}"] > 0).all())
        dec = safetensors_torch.load_file(str(folder / f"W_dec_{i}.safetensors"))
        assert {k: tuple(v.shape) for k, v in dec.items()} == {f"W_dec_{i}": (f, n - i, d)}


def _reconstruct(folder: Path, x: Any, cross: bool) -> Any:
    """The engine's semantics, written out independently of the builder's training code."""
    n = x.shape[0]
    acts, b_dec, w_dec = [], [], []
    for i in range(n):
        if cross:
            enc = safetensors_torch.load_file(str(folder / f"W_enc_{i}.safetensors"))
            pre = torch.nn.functional.linear(x[i], enc[f"W_enc_{i}"], enc[f"b_enc_{i}"])
            acts.append(pre * (pre > enc[f"threshold_{i}"]))
            b_dec.append(enc[f"b_dec_{i}"])
            w_dec.append(safetensors_torch.load_file(
                str(folder / f"W_dec_{i}.safetensors"))[f"W_dec_{i}"])
        else:
            t = safetensors_torch.load_file(str(folder / f"layer_{i}.safetensors"))
            acts.append(torch.relu(torch.nn.functional.linear(x[i], t["W_enc"], t["b_enc"])))
            b_dec.append(t["b_dec"])
            w_dec.append(t["W_dec"][:, None])
    out = []
    for j in range(n):
        sources = range(j + 1) if cross else [j]
        out.append(b_dec[j] + sum(acts[i] @ w_dec[i][:, j - i] for i in sources))
    return torch.stack(out)


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_saved_transcoders_reconstruct_mlp(built: tuple[Path, dict[str, Any], list[float]],
                                           kind: str) -> None:
    out, report, _ = built
    tok, model = _tokenizer(out), _model(out)
    rows = tok(["The capital of France is Paris. one two three four",
                "The opposite of hot is cold. Monday Tuesday Wednesday"])["input_ids"]
    x, y = collect_mlp_activations(model, rows, tok.pad_token_id)
    rec = _reconstruct(out / f"transcoders-{kind}", x, cross=kind == "clt")
    fve = 1 - (rec - y).pow(2).sum() / (y - y.mean(dim=1, keepdim=True)).pow(2).sum()
    assert float(fve) > 0.5
    assert min(report["transcoders"][kind]["fve"]) > 0.5


def test_cancel_and_bad_size(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        build_demo(tmp_path, size="small", cancel=token)
    with pytest.raises(ValueError, match="unknown demo size"):
        build_demo(tmp_path, size="huge")
