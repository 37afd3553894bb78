"""The onnxruntime backend against the torch backend on tiny seeded models, and its CLI."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")
pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.app.cli import main
from circuitdesk.models.protocol import Intervention, InterventionError, ModelLoadError
from circuitdesk.models.registry import open_backend

from .models_util import PROMPT, open_tiny

pytestmark = pytest.mark.models

FREEZES = ["attention", "none", "all", (0, 1), (1, 2)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def _export(root: Path, kind: str, **tc_kw: object) -> tuple[object, object, Path]:
    """(torch backend, onnx backend, .onnx path), exported through the CLI as ``<tc>.onnx``."""
    tb = open_tiny(root, "llama", kind, **tc_kw)
    tc_dir = Path(tb.rm.tc.path)  # type: ignore[attr-defined]
    out = tc_dir.with_name(tc_dir.name + ".onnx")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["export-onnx", "--model", str(root / "model-llama"), "--transcoders",
                     str(tc_dir), "-o", str(out)])
    assert code == 0
    report = json.loads(buf.getvalue())
    assert report["output"] == str(out) and Path(report["tokenizer"]).is_file()
    return tb, open_backend("onnx", model_dir=out), out


@pytest.fixture(scope="module")
def plt(root: Path) -> tuple[object, object, Path]:
    return _export(root, "plt", jump=True, skip=True)


@pytest.fixture(scope="module")
def clt(root: Path) -> tuple[object, object, Path]:
    return _export(root, "clt")


def _batch(tb: object, ids: list[int]) -> list[list[Intervention]]:
    """An empty set, an ablation, a steer, and a set with a duplicate (the later one wins)."""
    acts = tb.intervene(ids, []).activations  # type: ignore[attr-defined]
    act = [Intervention(int(a), int(b), int(c), 0.0) for a, b, c in np.argwhere(acts > 0)]
    return [[], [act[-1]], [act[0], Intervention(1, 3, 5, 2.5)],
            [Intervention(0, 2, 7, 3.0), Intervention(2, 6, 1, -1.0), Intervention(0, 2, 7, 1.0)]]


@pytest.mark.parametrize("which", ["plt", "clt"])
def test_onnx_matches_torch_in_every_freeze_mode(which: str, request: pytest.FixtureRequest) -> None:
    tb, ob, _ = request.getfixturevalue(which)
    ids = tb.tokenize(PROMPT)  # type: ignore[attr-defined]
    batch = _batch(tb, ids)
    seen = []
    for freeze in FREEZES:
        for apply, errors in ((True, "respond"), (False, "respond"), (True, "clean")):
            kw = {"freeze": freeze, "errors": errors, "return_activations": True,
                  "apply_activation_function": apply}
            want = tb.intervene_batch(ids, batch, **kw)  # type: ignore[attr-defined]
            got = ob.intervene_batch(ids, batch, batch_size=3, **kw)  # type: ignore[attr-defined]
            assert len(got) == len(batch)
            for w, g in zip(want, got):
                assert g.input_ids == ids
                np.testing.assert_allclose(g.logits, w.logits, atol=1e-4, err_msg=str(freeze))
                np.testing.assert_allclose(g.activations, w.activations, atol=1e-4)
        seen.append(got[2].logits[-1])
    # the modes really differ, so agreeing in each one means something
    assert min(np.abs(a - b).max() for i, a in enumerate(seen) for b in seen[i + 1:]) > 1e-4


@pytest.mark.parametrize("freeze", ["attention", "none", (0, 1)])
def test_last_position_only_is_the_last_row(plt, freeze: object) -> None:  # type: ignore[no-untyped-def]
    tb, ob, _ = plt
    ids = tb.tokenize(PROMPT)
    batch = _batch(tb, ids)
    full = ob.intervene_batch(ids, batch, freeze=freeze)
    last = ob.intervene_batch(ids, batch, freeze=freeze, last_position_only=True, batch_size=2)
    for f, g in zip(full, last):
        assert g.logits.shape == (1, tb.vocab_size) and g.activations is None
        np.testing.assert_allclose(g.logits[0], f.logits[-1], atol=1e-5)
    assert full[0].logits.shape == (len(ids), tb.vocab_size)  # the default is unchanged


def test_other_lengths_and_single_intervention(plt) -> None:  # type: ignore[no-untyped-def]
    tb, ob, _ = plt
    for prompt in ("the dog ran", "the big red car went up the hill and the old man saw it"):
        iv = [Intervention(1, 2, 3, 1.5)]
        want, got = tb.intervene(prompt, iv), ob.intervene(prompt, iv)
        np.testing.assert_allclose(got.logits, want.logits, atol=1e-4)
        np.testing.assert_allclose(got.activations, want.activations, atol=1e-4)
    assert ob.intervene(PROMPT, [], return_activations=False).activations is None


def test_tokens_and_metadata(plt) -> None:  # type: ignore[no-untyped-def]
    import onnx

    tb, ob, path = plt
    assert ob.tokenize(PROMPT) == tb.tokenize(PROMPT)
    assert ob.tokenize([5, 6]) == tb.tokenize([5, 6]) and ob.tokenize([1, 5]) == [1, 5]
    assert ob.encode(" dog") == tb.encode(" dog")
    every = list(range(tb.vocab_size))
    assert ob.token_strings(every) == tb.token_strings(every)
    row = tb.intervene(PROMPT, []).logits[-1]
    assert ob.top_tokens(row, 5) == tb.top_tokens(row, 5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["model_name"] == tb.model_name and json.loads(meta["scan"]) == "tiny-plt"
    assert (int(meta["n_layers"]), int(meta["d_transcoder"]), int(meta["vocab_size"])) == (
        tb.n_layers, tb.d_transcoder, tb.vocab_size)
    assert json.loads(meta["bos_id"]) == 1 and meta["freeze_modes"] == "attention,none,all,range"
    assert (ob.n_layers, ob.d_transcoder, ob.vocab_size) == (3, 24, tb.vocab_size)


def test_bad_requests_are_one_line_errors(plt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, ob, path = plt
    ok = [Intervention(0, 1, 0, 1.0)]
    cases = [(ok, (1, 5)), (ok, "most"), ([Intervention(3, 1, 0, 1.0)], "attention"),
             ([Intervention(0, 99, 0, 1.0)], "none"), ([Intervention(0, 1, 24, 1.0)], "all"),
             ([Intervention(0, 1, 0, float("nan"))], "attention")]
    for ivs, freeze in cases:
        with pytest.raises(InterventionError) as info:
            ob.intervene(PROMPT, ivs, freeze=freeze)
        assert "\n" not in str(info.value)
    ob.freeze_modes.discard("range")  # an export that cannot express ranges refuses them
    try:
        with pytest.raises(InterventionError, match="not supported"):
            ob.intervene(PROMPT, [Intervention(0, 1, 0, 1.0)], freeze=(0, 1))
    finally:
        ob.freeze_modes.add("range")
    with pytest.raises(ModelLoadError, match="not supported by the onnx backend"):
        ob.trace(PROMPT)
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not onnx")
    with pytest.raises(ModelLoadError, match="bogus.onnx"):
        open_backend("onnx", model_dir=bogus)
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(path.read_bytes())  # no lonely.tokenizer.json beside it
    with pytest.raises(ModelLoadError, match="tokenizer"):
        open_backend("onnx", model_dir=lonely)
    with pytest.raises(ModelLoadError, match="export-onnx"):
        open_backend("onnx", model_dir=tmp_path, transcoders_dir=tmp_path / "tc")


_CHILD = """
import json, sys
sys.modules["torch"] = None  # `import torch` now fails
import numpy as np
from circuitdesk.models import Intervention, available_backends, open_backend
model, tc, out = sys.argv[1:4]
b = open_backend(None, model_dir=model, transcoders_dir=tc)  # finds <tc>.onnx, as the app does
r = b.intervene_batch("{prompt}", [[], [Intervention(1, 3, 5, 2.5)]], freeze="all",
                      return_activations=True)
np.savez(out, logits=np.stack([x.logits for x in r]), acts=np.stack([x.activations for x in r]))
heavy = sorted(m for m, v in sys.modules.items()
               if v is not None and m.split(".")[0] in ("torch", "transformers"))
print(json.dumps({{"available": available_backends(), "name": b.name, "heavy": heavy}}))
"""


def test_backend_runs_without_torch(plt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tb, _, path = plt
    out = tmp_path / "r.npz"
    code = _CHILD.format(prompt=PROMPT)
    proc = subprocess.run([sys.executable, "-c", code, str(path.parent / "model-llama"),
                           str(path.with_suffix("")), str(out)],
                          check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {"available": ["onnx"], "name": "onnx", "heavy": []}
    got = np.load(out)
    want = tb.intervene_batch(PROMPT, [[], [Intervention(1, 3, 5, 2.5)]], freeze="all",
                              return_activations=True)
    np.testing.assert_allclose(got["logits"], np.stack([w.logits for w in want]), atol=1e-4)
    np.testing.assert_allclose(got["acts"], np.stack([w.activations for w in want]), atol=1e-4)


def _cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_intervene_with_onnx_matches_torch(plt, capsys) -> None:  # type: ignore[no-untyped-def]
    tb, _, path = plt
    common = ["intervene", "--prompt", PROMPT, "--set", "1:3:5=2.5", "--set", "0:2:7=0",
              "--freeze", "0-1", "--target", "dog", "--json"]
    got = _cli_json([*common, "--onnx", str(path)], capsys)
    want = _cli_json([*common, "--model", str(path.parent / "model-llama"), "--transcoders",
                      tb.rm.tc.path], capsys)
    assert got["input_tokens"] == want["input_tokens"]
    for key in ("baseline_top", "patched_top", "targets"):
        assert [r["id"] for r in got[key]] == [r["id"] for r in want[key]]
        for g, w in zip(got[key], want[key]):
            assert abs(g["patched_logit"] - w["patched_logit"]) < 1e-4
            assert abs(g["delta_logit"] - w["delta_logit"]) < 1e-4


def test_cli_verify_with_onnx(clt, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from circuitdesk.models.torch.pt_writer import write_pt

    tb, _, path = clt
    pt = tmp_path / "g.pt"
    write_pt(pt, tb.trace(PROMPT, max_feature_nodes=12))
    got = _cli_json(["verify", str(pt), "--onnx", str(path), "--freeze", "all", "--json"], capsys)
    want = _cli_json(["verify", str(pt), "--model", str(path.parent / "model-llama"),
                      "--transcoders", tb.rm.tc.path, "--freeze", "all", "--json"], capsys)
    assert len(got["results"]) == len(want["results"]) > 0
    for g, w in zip(got["results"], want["results"]):
        assert g["node_id"] == w["node_id"] and abs(g["observed"] - w["observed"]) < 1e-4


@pytest.mark.parametrize("args,needle", [
    (["intervene", "--prompt", "the cat"], "--model and --transcoders are required"),
    (["intervene", "--prompt", "the cat", "--onnx", "X.onnx", "--model", "m"], "either --onnx"),
    (["intervene", "--prompt", "the cat", "--onnx", "{missing}"], "does not exist"),
    (["verify", "{missing}", "--transcoders", "t"], ""),
    (["export-onnx", "--model", "m", "--transcoders", "t", "-o", "{dir}/x.txt"], "end in .onnx"),
    (["export-onnx", "--model", "m", "--transcoders", "t", "-o", "{dir}/no/x.onnx"],
     "folder does not exist"),
    (["export-onnx", "--model", "m", "-o", "x.onnx"], "--transcoders"),
])
def test_cli_bad_arguments_exit_2(args: list[str], needle: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(dir=tmp_path, missing=tmp_path / "missing.onnx") for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit through SystemExit(2)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]



DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_shipped_demo_exports_match_the_demo_model(kind: str) -> None:
    onnx_file = DEMO / f"transcoders-{kind}.onnx"
    if not (onnx_file.is_file() and (DEMO / "model" / "config.json").is_file()):
        pytest.skip("no bundled demo ONNX export")
    tb = open_backend("torch", model_dir=DEMO / "model", transcoders_dir=DEMO / f"transcoders-{kind}")
    ob = open_backend("onnx", model_dir=DEMO / "model", transcoders_dir=DEMO / f"transcoders-{kind}")
    assert ob.path == onnx_file and ob.model_name == "circuitdesk-demo/tiny-llama"
    prompt = "The capital of France is Paris and the opposite of small is"
    assert ob.tokenize(prompt) == tb.tokenize(prompt)
    batch = _batch(tb, tb.tokenize(prompt))
    for freeze in ("attention", "all"):
        want = tb.intervene_batch(prompt, batch, freeze=freeze, return_activations=True)
        got = ob.intervene_batch(prompt, batch, freeze=freeze, return_activations=True)
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.logits, w.logits, atol=1e-4)
            np.testing.assert_allclose(g.activations, w.activations, atol=1e-4)


def test_export_of_weights_kept_in_bf16(tmp_path: Path) -> None:
    """A bf16 checkpoint computing in float32 keeps its weights in bf16 on the CPU; the export
    traces one cast per weight and matches the torch backend."""
    from circuitdesk.models.onnx.export import export_onnx
    from circuitdesk.models.torch.stored_weights import StoredLinear

    from .models_util import build_model, build_transcoders

    model = build_model(tmp_path / "m", arch="llama3", dtype="bfloat16")
    clt = build_transcoders(tmp_path / "clt", "clt", jump=True)
    tb = open_backend("torch", model_dir=model, transcoders_dir=clt, device="cpu", dtype="float32")
    assert any(isinstance(m, StoredLinear) for m in tb.rm.hf.modules())  # type: ignore[attr-defined]
    ob = open_backend("onnx", model_dir=export_onnx(model, clt, tmp_path / "m.onnx"))
    ivs = [[], [Intervention(1, 2, 0, 0.0)], [Intervention(0, 1, 3, 2.0)]]
    for got, want in zip(ob.intervene_batch(PROMPT, ivs), tb.intervene_batch(PROMPT, ivs)):
        np.testing.assert_allclose(got.logits, want.logits, atol=1e-4)
