"""Verification on a tiny traced model: with every layer frozen, observed = direct prediction."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.graph.cancel import CancelToken
from circuitdesk.graph.io.dense import graph_from_dense
from circuitdesk.graph.errors import Cancelled
from circuitdesk.graph.model import NodeKind
from circuitdesk.models.verify import feature_claims, run_verification

from .models_util import PROMPT, open_tiny

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    b = open_tiny(tmp_path_factory.mktemp("verify"), "llama", "clt", jump=True)
    ids = b.tokenize(PROMPT)
    return b, ids, graph_from_dense(b.trace(ids))


def test_all_layers_frozen_matches_direct_prediction(traced) -> None:  # type: ignore[no-untyped-def]
    b, ids, g = traced
    rows = np.flatnonzero(g.nodes.kind == NodeKind.FEATURE)
    claims = feature_claims(g, rows)
    seen: list[int] = []
    report = run_verification(b, g, claims, ids, freeze="all", batch_size=8,
                              on_rows=lambda r: seen.append(len(r)))
    assert len(report.rows) == len(claims) and sum(seen) == len(claims) and len(seen) > 1
    pred = np.array([r.predicted_direct for r in report.rows])
    obs = np.array([r.observed for r in report.rows])
    np.testing.assert_allclose(obs, pred, atol=1e-5, rtol=0)
    assert np.abs(pred).max() > 1e-3
    summary = report.summary()
    assert summary.sign_agreement == 1.0 and summary.correlation > 0.9999
    assert set(summary.verdicts) <= {"confirmed", "no effect predicted"}


def test_steering_prediction_scales(traced) -> None:  # type: ignore[no-untyped-def]
    b, ids, g = traced
    rows = np.flatnonzero(g.nodes.kind == NodeKind.FEATURE)[:4]
    report = run_verification(b, g, feature_claims(g, rows), ids, mode="scale", factor=3.0,
                              freeze="all")
    for r in report.rows:  # tripling a feature adds 2 × its direct edge
        assert r.observed == pytest.approx(r.predicted_direct, abs=1e-5)


def test_cancel_stops_between_batches(traced) -> None:  # type: ignore[no-untyped-def]
    b, ids, g = traced
    token = CancelToken()
    claims = feature_claims(g, np.flatnonzero(g.nodes.kind == NodeKind.FEATURE))
    done: list[int] = []

    def on_rows(rows: list) -> None:  # type: ignore[type-arg]
        done.append(len(rows))
        token.cancel()

    with pytest.raises(Cancelled):
        run_verification(b, g, claims, ids, freeze="all", batch_size=4, on_rows=on_rows,
                         cancel=token)
    assert done == [4]


def test_cli_verify_json(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from circuitdesk.app.cli import main

    from .models_util import build_model, build_transcoders

    model = build_model(tmp_path / "model")
    tc = build_transcoders(tmp_path / "tc", "plt", jump=True)
    pt = tmp_path / "g.pt"
    common = ["--model", str(model), "--transcoders", str(tc)]
    assert main(["trace", *common, "--prompt", PROMPT, "-o", str(pt)]) == 0
    capsys.readouterr()
    assert main(["verify", str(pt), *common, "--freeze", "all", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"] and {"node_id", "predicted", "observed", "verdict"} <= set(out["results"][0])
    for r in out["results"]:
        assert abs(r["observed"] - r["predicted_direct"]) < 1e-5
    assert out["summary"]["sign_agreement"] == 1.0
    # a missing model folder: one line, exit 2
    assert main(["verify", str(pt), "--model", str(tmp_path / "nope"), "--transcoders", str(tc),
                 "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_downstream_features_match_direct_effects(traced) -> None:  # type: ignore[no-untyped-def]
    b, ids, g = traced
    feats = np.flatnonzero(g.nodes.kind == NodeKind.FEATURE)
    early = feats[g.nodes.layer[feats] == g.nodes.layer[feats].min()][:4]
    late = feats[g.nodes.layer[feats] == g.nodes.layer[feats].max()][:6]
    report = run_verification(b, g, feature_claims(g, early), ids, freeze="all",
                              feature_targets=late)
    checked = 0
    for row in report.rows:
        assert len(row.downstream) == len(late)
        for d in row.downstream:  # with all layers frozen: exactly the graph's edge
            assert d.observed == pytest.approx(d.predicted, abs=1e-5)
            checked += abs(d.predicted) > 1e-4
    assert checked > 0
