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
    printed = capsys.readouterr()
    out = json.loads(printed.out)
    assert out["activation_check"]["ok"] is True and printed.err == ""
    assert out["results"] and {"node_id", "predicted", "observed", "verdict"} <= set(out["results"][0])
    for r in out["results"]:
        assert abs(r["observed"] - r["predicted_direct"]) < 1e-5
    assert out["summary"]["sign_agreement"] == 1.0
    # a missing model folder: one line, exit 2
    assert main(["verify", str(pt), "--model", str(tmp_path / "nope"), "--transcoders", str(tc),
                 "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
    # transcoders that did not trace it: the numbers, and one warning line
    other = build_transcoders(tmp_path / "other", "plt", jump=True, seed=7)
    assert main(["verify", str(pt), "--model", str(model), "--transcoders", str(other),
                 "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["activation_check"]["ok"] is False
    err = printed.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("circuitdesk: warning: These transcoders do not")


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


def test_activation_check_passes_on_the_tracing_model(traced) -> None:  # type: ignore[no-untyped-def]
    """The model and transcoders that traced the graph reproduce every recorded activation,
    and the check arrives before the first claim's rows."""
    b, ids, g = traced
    feats = np.flatnonzero((g.nodes.kind == NodeKind.FEATURE) & (g.nodes.activation != 0))
    order: list[str] = []
    report = run_verification(b, g, feature_claims(g, feats[:3]), ids,
                              on_check=lambda c: order.append("check"),
                              on_rows=lambda r: order.append("rows"))
    check = report.activation_check
    assert check is not None and check.ok
    assert check.compared == check.reproduced == feats.size > 0
    assert check.median_error < 1e-4 and order[0] == "check"
    assert check.text().startswith("Activations reproduced")


def test_activation_check_flags_other_transcoders(traced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same model with another transcoder set (same shapes, other weights) does not
    reproduce the graph, and the check says so, naming the worst feature."""
    b, ids, g = traced
    other = open_tiny(tmp_path, "llama", "clt", jump=True, seed=7)
    feats = np.flatnonzero(g.nodes.kind == NodeKind.FEATURE)
    report = run_verification(other, g, feature_claims(g, feats[:2]), ids)
    check = report.activation_check
    assert check is not None and not check.ok
    assert check.reproduced < 0.8 * check.compared
    assert "do not reproduce" in check.text() and check.worst in g.nodes.file_ids


def test_activation_check_counts_absent_features_and_skips_unknown_ones(traced) -> None:  # type: ignore[no-untyped-def]
    """A feature index beyond the transcoders' width is a mismatch (absent here); features
    without a recorded activation (NaN) are not compared; with none left, nothing is judged."""
    from dataclasses import replace

    from circuitdesk.models.activation_check import ActivationCheck, check_activations

    _, _, g = traced
    n = g.nodes
    feats = np.flatnonzero((n.kind == NodeKind.FEATURE) & (n.activation != 0))
    acts = np.zeros((int(n.layer[feats].max()) + 1, g.n_positions, int(n.feature.max()) + 1))
    acts[n.layer[feats], n.position[feats], n.feature[feats]] = n.activation[feats]
    assert check_activations(g, acts).reproduced == feats.size
    wide = n.feature.copy()
    wide[feats[0]] = acts.shape[2] + 5
    check = check_activations(replace(g, nodes=replace(n, feature=wide)), acts)
    assert check.reproduced == feats.size - 1 and check.worst == n.file_ids[feats[0]]
    assert check.absent == 1 and "1 not in these transcoders" in check.text()
    assert check.ok  # one of many: still reproduced overall
    # traced with wider transcoders: every feature absent here, and said so (no "inf %")
    beyond = n.feature + acts.shape[2]
    gone = check_activations(replace(g, nodes=replace(n, feature=beyond)), acts)
    assert gone.absent == gone.compared == feats.size and not gone.ok
    assert "inf" not in gone.text() and "absent here" in gone.text()
    assert ActivationCheck.from_json(gone.as_json()) == gone  # nan fields compare as "none"
    unknown = np.full_like(n.activation, np.nan)
    none = check_activations(replace(g, nodes=replace(n, activation=unknown)), acts)
    assert none.compared == 0 and none.ok and "records no feature activations" in none.text()
    assert check_activations(g, None) is None
    back = ActivationCheck.from_json(check.as_json())  # nan is saved as null, and back
    assert back is not None and back.as_json() == check.as_json() and np.isnan(back.worst_local)
    assert ActivationCheck.from_json({"compared": "x"}) is None
    assert ActivationCheck.from_json({"compared": -3, "reproduced": 10}) is None
    assert ActivationCheck.from_json(None) is None
