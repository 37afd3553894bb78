"""--dtype / --device on model commands and the backend opener (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.app.cli import main
from circuitdesk.models.protocol import Intervention, ModelLoadError
from circuitdesk.models.registry import open_backend
from circuitdesk.models.torch.backend import choose_device, choose_dtype

from .models_util import PROMPT, build_model, build_transcoders

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("device")
    return build_model(root / "model"), build_transcoders(root / "clt", "clt", jump=True)


def test_defaults_per_device() -> None:
    assert choose_dtype(None, "cpu") == torch.float32
    assert choose_dtype(None, "cuda:1") == torch.bfloat16
    assert choose_dtype(None, "mps") == torch.float16
    assert choose_dtype("float16", "cpu") == torch.float16
    assert choose_device("cpu") == "cpu"
    with pytest.raises(ModelLoadError, match="not cpu, cuda"):
        choose_device("tpu")


def test_bfloat16_opener_computes_in_bfloat16(files: tuple[Path, Path]) -> None:
    model, clt = files
    b16 = open_backend("torch", model_dir=model, transcoders_dir=clt, dtype="bfloat16")
    b32 = open_backend("torch", model_dir=model, transcoders_dir=clt, device="cpu")
    assert b16.rm.dtype == b16.rm.tc.w_enc.dtype == torch.bfloat16  # type: ignore[attr-defined]
    assert b32.rm.tc.w_enc.dtype == torch.float32  # type: ignore[attr-defined]
    ids = b32.tokenize(PROMPT)
    iv = [Intervention(1, 3, 5, 2.0)]
    lo16 = b16.intervene(ids, iv).logits[-1]
    lo32 = b32.intervene(ids, iv).logits[-1]
    assert np.abs(lo16 - lo32).max() < 0.05 * np.abs(lo32).max()
    b16.close()
    b32.close()


def test_cli_dtype_and_device(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
                              ) -> None:
    model, clt = files
    argv = ["intervene", "--model", str(model), "--transcoders", str(clt), "--prompt", PROMPT,
            "--set", "1:3:5=0", "--json"]
    assert main([*argv, "--dtype", "bfloat16", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["patched_top"]
    if not torch.cuda.is_available():
        assert main([*argv, "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "no CUDA GPU" in err
