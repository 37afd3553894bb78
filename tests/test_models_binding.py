"""Binding a graph to a model by token ids (issue 17): engine-written .pt files verify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.app.cli import main
from circuitdesk.graph import load_graph
from circuitdesk.graph.io.dense import graph_from_dense
from circuitdesk.models.binding import graph_input_ids, has_token_strings
from circuitdesk.models.protocol import ModelLoadError
from circuitdesk.models.torch.pt_writer import write_pt

from .models_util import PROMPT, open_tiny

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("binding")
    b = open_tiny(root, "llama", "clt", jump=True)
    data = b.trace(b.tokenize(PROMPT), max_feature_nodes=12)
    return root, b, data


def _pt_without_tokenizer(root: Path, data) -> Path:  # type: ignore[no-untyped-def]
    """The engine's .pt, named after a tokenizer that is not on disk: strings become ids."""
    cfg = dict(data.extra["cfg"], tokenizer_name="nobody/not-cached-model")
    out = root / "engine.pt"
    write_pt(out, data, cfg)
    return out


def test_stringified_ids_are_not_token_strings() -> None:
    assert not has_token_strings([], [1, 2])
    assert not has_token_strings(["1", "651"], [1, 651])
    assert has_token_strings(["<s>", "the"], [1, 4])
    assert has_token_strings(["1"], [1, 2])


def test_engine_pt_binds_by_ids(traced) -> None:  # type: ignore[no-untyped-def]
    root, b, data = traced
    graph = load_graph(_pt_without_tokenizer(root, data))
    ids = [int(t) for t in data.input_tokens]
    assert graph.metadata.prompt_tokens == [str(i) for i in ids]  # the loader's placeholders
    assert graph_input_ids(b, graph) == ids


def test_real_strings_are_still_compared(traced) -> None:  # type: ignore[no-untyped-def]
    _, b, data = traced
    good = graph_from_dense(data)
    assert graph_input_ids(b, good) == [int(t) for t in data.input_tokens]
    bad = graph_from_dense(data)
    bad.metadata.prompt_tokens = ["<s>", "dog", *bad.metadata.prompt_tokens[2:]]
    with pytest.raises(ModelLoadError, match="tokenizer mismatch at position 1"):
        graph_input_ids(b, bad)
    outside = graph_from_dense(data)
    outside.metadata.input_tokens = [1, 10_000]
    with pytest.raises(ModelLoadError, match="outside this model's vocabulary"):
        graph_input_ids(b, outside)


def test_cli_verify_on_engine_pt(traced, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, b, data = traced
    pt = _pt_without_tokenizer(root, data)
    code = main(["verify", str(pt), "--model", str(root / "model-llama"), "--transcoders",
                 b.rm.tc.path, "--freeze", "all", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    obs = np.array([r["observed"] for r in out["results"]])
    pred = np.array([r["predicted_direct"] for r in out["results"]])
    assert len(obs) == 12
    np.testing.assert_allclose(obs, pred, atol=1e-5, rtol=0)


def test_engine_pt_names_a_local_tokenizer(traced) -> None:  # type: ignore[no-untyped-def]
    """The loader decodes the prompt with the named tokenizer (graph/io/token_strings.py),
    each token as the full tokenizer decodes it."""
    from tokenizers import Tokenizer

    root, b, data = traced
    folder = root / "model-llama"
    out = root / "named.pt"
    write_pt(out, data, dict(data.extra["cfg"], tokenizer_name=str(folder)))
    graph = load_graph(out)
    full = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = [int(t) for t in data.input_tokens]
    assert graph.metadata.prompt_tokens == [full.decode([i], skip_special_tokens=False)
                                            for i in ids]
    assert graph.metadata.prompt_tokens != [str(i) for i in ids]
    assert graph_input_ids(b, graph) == ids
