"""``circuitdesk prune`` (app/commands/prune.py), run through the CLI entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from circuitdesk.app.cli import main
from circuitdesk.graph.io.load import load_graph
from circuitdesk.graph.analysis.prune import prune

from .conftest import DATA, FIXTURES


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["prune", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prune_json_matches_engine_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(DATA / "ct050_small.pt"), "--json")
    assert code == 0
    report = json.loads(out)
    expected = json.loads((DATA / "ct050_small.expected.json").read_text())
    run = expected["runs"][0]
    assert report["nodes_kept"] == len(run["node_mask"])
    assert report["replacement_score"] == pytest.approx(expected["replacement_score"], abs=1e-5)
    assert report["completeness_score"] == pytest.approx(expected["completeness_score"], abs=1e-5)
    first = report["kept"][0]
    assert set(first) == {"node_id", "kind", "layer", "position", "feature"}
    assert {k["kind"] for k in report["kept"]} >= {"embedding", "logit", "feature"}


def test_prune_writes_json_that_loads_back(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    out_file = tmp_path / "pruned.json"
    code, out, _ = _run(capsys, str(FIXTURES["legacy"]), "--node-threshold", "0.5",
                        "--json", "-o", str(out_file))
    assert code == 0
    report = json.loads(out)
    back = load_graph(out_file)
    assert back.n_nodes <= report["nodes_kept"] and back.n_edges == report["edges_kept"]
    original = load_graph(FIXTURES["legacy"])
    res = prune(original, 0.5, 0.98)
    by_id = {fid: i for i, fid in enumerate(original.nodes.file_ids)}
    for fid, infl in zip(back.nodes.file_ids, back.nodes.influence.tolist()):
        assert infl == pytest.approx(float(res.cumulative_scores[by_id[fid]]), abs=1e-6)
    assert np.isfinite(back.nodes.influence).all()


def test_prune_unreadable_input_exits_2(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    code, out, err = _run(capsys, str(bad), "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(bad) in err


def test_prune_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(FIXTURES["neuronpedia"]))
    assert code == 0 and "nodes_kept" in out and "completeness_score" in out


def test_prune_command_does_not_import_qt() -> None:
    import subprocess

    code = ("import sys; import circuitdesk.app.commands.prune; "
            "assert 'PySide6' not in sys.modules, 'Qt imported'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
