"""Tracing: the engine's graph layout, node selection, .pt / JSON output and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.app.cli import main as cli_main
from circuitdesk.graph import load_graph
from circuitdesk.graph.io.dense import graph_from_dense
from circuitdesk.graph.io.json_write import graph_to_json, write_json
from circuitdesk.models.torch.pt_writer import write_pt

from .models_util import PROMPT, open_tiny

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trace")


@pytest.fixture(scope="module")
def clt(root: Path):  # type: ignore[no-untyped-def]
    return open_tiny(root, "llama", "clt", jump=True)


@pytest.fixture(scope="module")
def full(clt):  # type: ignore[no-untyped-def]
    return clt.trace(PROMPT)


def test_layout_follows_the_engine(clt, full) -> None:  # type: ignore[no-untyped-def]
    g, L = full, clt.n_layers
    n, n_sel, n_log = len(g.input_tokens), len(g.selected_features), len(g.logit_tokens)
    af = g.active_features
    assert g.adjacency.shape == (n_sel + L * n + n + n_log,) * 2
    assert np.array_equal(g.selected_features, np.arange(len(af)))
    assert [tuple(r) for r in af] == sorted(tuple(r) for r in af) and not (af[:, 1] == 0).any()
    assert (g.activation_values > 0).all()
    assert not g.adjacency[n_sel:n_sel + L * n + n].any()  # error and token rows
    assert not g.adjacency[:, -n_log:].any()  # logit columns
    cum = np.cumsum(g.logit_probabilities)
    assert n_log == 10 or (cum[-1] >= 0.95 and (n_log == 1 or cum[-2] < 0.95))
    assert g.prompt.startswith("<s>") and list(g.input_tokens) == clt.tokenize(PROMPT)


def test_feature_cap_selects_a_consistent_subgraph(clt, full) -> None:  # type: ignore[no-untyped-def]
    small = clt.trace(PROMPT, max_feature_nodes=12, batch_size=4)
    sel = small.selected_features
    assert len(sel) == 12 and np.all(np.diff(sel) > 0)
    n_full = len(full.selected_features)
    cols = np.concatenate([sel, np.arange(n_full, full.adjacency.shape[0])])
    rows = np.concatenate([sel, np.arange(n_full, full.adjacency.shape[0])])
    want = full.adjacency[np.ix_(rows, cols)]
    want[12:want.shape[0] - len(small.logit_tokens)] = 0
    np.testing.assert_allclose(small.adjacency, want, atol=1e-6)


def test_pt_and_json_round_trip(tmp_path: Path, clt, full) -> None:  # type: ignore[no-untyped-def]
    write_pt(tmp_path / "g.pt", full)
    g = load_graph(tmp_path / "g.pt")
    assert g.adjacency is not None
    np.testing.assert_array_equal(g.adjacency, full.adjacency)
    assert g.metadata.input_tokens == list(full.input_tokens) and g.metadata.scan == "tiny-clt"
    assert clt.check_graph_tokens(g) == list(full.input_tokens)
    write_json(tmp_path / "g.json", graph_to_json(graph_from_dense(full)))
    j = load_graph(tmp_path / "g.json")
    assert j.n_nodes == full.adjacency.shape[0] and j.n_edges == np.count_nonzero(full.adjacency)


def _cli(root: Path, *args: str) -> int:
    return cli_main([args[0], "--model", str(root / "model-llama"), "--transcoders",
                     str(root / "llama-clt-jumpTrue"), *args[1:]])


def test_cli_trace_and_intervene(root: Path, clt, tmp_path: Path,  # type: ignore[no-untyped-def]
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(root, "trace", "--prompt", PROMPT, "-o", str(tmp_path / "t.pt"),
                "--json", str(tmp_path / "t.json"), "--max-feature-nodes", "20") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["selected_features"] == 20 and load_graph(tmp_path / "t.json").n_nodes > 0
    assert _cli(root, "intervene", "--prompt", PROMPT, "--set", "1:3:2=0", "--set", "0:4:1=5",
                "--freeze", "1-2", "--target", "moon", "--target", "#5", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["baseline_top"]) == 10 and [t["id"] for t in rep["targets"]][1] == 5
    row = rep["targets"][0]
    assert row["token"] == "moon" and row["delta_logit"] == pytest.approx(
        row["patched_logit"] - row["baseline_logit"])


@pytest.mark.parametrize("args", [
    ("intervene", "--prompt", "the cat", "--set", "1:2"),
    ("intervene", "--prompt", "the cat", "--set", "7:1:1=0"),
    ("intervene", "--prompt", "the cat", "--freeze", "sideways"),
    ("intervene", "--prompt", "the cat", "--target", "moon sun"),
    ("trace", "--prompt", "the cat", "-o", "/no/such/dir/x.pt"),
    ("trace", "--prompt", "the cat", "-o", "x.pt", "--max-feature-nodes", "0"),
])
def test_cli_bad_arguments_exit_2(root: Path, clt, args: tuple[str, ...],  # type: ignore[no-untyped-def]
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(root, *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("circuitdesk:") and "\n" not in err
