"""`circuitdesk info`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circuitdesk.app.cli import main

from .conftest import FIXTURES


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(FIXTURES["neuronpedia"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "neuronpedia-json"
    assert (out["nodes"], out["links"], out["layers"], out["positions"]) == (302, 2770, 26, 7)
    assert out["feature_types"] == {"embedding": 7, "feature": 227, "error": 58, "logit": 10}
    assert out["prompt"] == "<bos>Nobel comes from the country of"
    assert out["warnings"] == []


def test_info_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "trunc.json"
    bad.write_bytes(FIXTURES["legacy"].read_bytes()[:500])
    assert main(["info", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in captured.err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["info"])
    assert info.value.code == 2
