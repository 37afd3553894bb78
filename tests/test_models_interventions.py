"""Feature interventions: the engine's semantics (FORMATS.md §5) on a tiny seeded Llama."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from circuitdesk.models.protocol import Intervention, InterventionError, parse_freeze

from .models_util import PROMPT, open_tiny

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("iv")


@pytest.fixture(scope="module")
def plt(root: Path):  # type: ignore[no-untyped-def]
    return open_tiny(root, "llama", "plt", jump=True)


@pytest.fixture(scope="module")
def clt(root: Path):  # type: ignore[no-untyped-def]
    return open_tiny(root, "llama", "clt")


def _active(b, ids, layer: int):  # type: ignore[no-untyped-def]
    acts = b.intervene(ids, []).activations
    pos, feat = np.argwhere(acts[layer] > 0)[-1]
    return int(pos), int(feat), float(acts[layer, pos, feat]), acts


def test_plain_run_matches_transformers(root: Path, plt) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    ids = plt.tokenize(PROMPT)
    hf = AutoModelForCausalLM.from_pretrained(root / "model-llama", local_files_only=True)
    with torch.no_grad():
        want = hf(torch.tensor([ids])).logits[0].numpy()
    got = plt.intervene(ids, [])
    np.testing.assert_allclose(got.logits, want, atol=1e-5)
    assert got.activations.shape == (3, len(ids), 24)
    assert not got.activations[:, 0].any()  # BOS position has no features


def test_intervened_feature_reports_unpatched_value(plt) -> None:  # type: ignore[no-untyped-def]
    ids = plt.tokenize(PROMPT)
    pos, feat, value, _ = _active(plt, ids, 1)
    for freeze in ("attention", "none", "all"):
        r = plt.intervene(ids, [Intervention(1, pos, feat, 0.0)], freeze=freeze)
        assert r.activations[1, pos, feat] == pytest.approx(value, abs=1e-6)
        assert np.abs(r.logits - plt.intervene(ids, []).logits).max() > 1e-4


def test_setting_current_value_changes_nothing(plt) -> None:  # type: ignore[no-untyped-def]
    ids = plt.tokenize(PROMPT)
    pos, feat, value, _ = _active(plt, ids, 0)
    base = plt.intervene(ids, [])
    same = plt.intervene(ids, [Intervention(0, pos, feat, value)], freeze="none")
    np.testing.assert_allclose(same.logits, base.logits, atol=1e-5)


def test_steering_an_inactive_feature(plt) -> None:  # type: ignore[no-untyped-def]
    ids = plt.tokenize(PROMPT)
    base = plt.intervene(ids, [])
    pos, feat = np.argwhere(base.activations[0] == 0)[-1]
    r = plt.intervene(ids, [Intervention(0, int(pos), int(feat), 5.0)])
    assert np.abs(r.logits[pos:] - base.logits[pos:]).max() > 1e-3
    np.testing.assert_allclose(r.logits[:pos], base.logits[:pos], atol=1e-5)  # causal


def test_freeze_modes_differ(plt) -> None:  # type: ignore[no-untyped-def]
    ids = plt.tokenize(PROMPT)
    ivs = [Intervention(0, 2, f, 4.0) for f in range(3)]
    logits = {m: plt.intervene(ids, ivs, freeze=m).logits[-1] for m in ("attention", "none", "all")}
    assert np.abs(logits["attention"] - logits["none"]).max() > 1e-5
    assert np.abs(logits["attention"] - logits["all"]).max() > 1e-5


def test_constrained_range_outside_plt_layer_has_no_effect(plt) -> None:  # type: ignore[no-untyped-def]
    ids = plt.tokenize(PROMPT)
    base = plt.intervene(ids, [])
    r = plt.intervene(ids, [Intervention(0, 3, 1, 6.0)], freeze=(1, 2))
    np.testing.assert_allclose(r.logits, base.logits, atol=1e-5)
    inside = plt.intervene(ids, [Intervention(1, 3, 1, 6.0)], freeze=(1, 2))
    assert np.abs(inside.logits - base.logits).max() > 1e-4


def test_clt_feature_writes_to_later_layers(clt) -> None:  # type: ignore[no-untyped-def]
    ids = clt.tokenize(PROMPT)
    base = clt.intervene(ids, [])
    r = clt.intervene(ids, [Intervention(0, 3, 1, 6.0)], freeze=(1, 2))
    assert np.abs(r.logits - base.logits).max() > 1e-4  # decoders of layer 0 reach 1 and 2


def test_batch_equals_one_by_one(clt) -> None:  # type: ignore[no-untyped-def]
    ids = clt.tokenize(PROMPT)
    sets = [[], [Intervention(0, 2, 3, 0.0)], [Intervention(1, 4, 5, 2.0), Intervention(2, 5, 1, 1.0)]]
    for freeze in ("attention", "none", (1, 2)):
        batched = clt.intervene_batch(ids, sets, freeze=freeze, return_activations=True,
                                      batch_size=2)
        for ivs, got in zip(sets, batched):
            one = clt.intervene(ids, ivs, freeze=freeze)
            np.testing.assert_allclose(got.logits, one.logits, atol=1e-5)
            np.testing.assert_allclose(got.activations, one.activations, atol=1e-5)


@pytest.mark.parametrize("bad", [
    Intervention(3, 1, 1, 0.0), Intervention(0, 99, 1, 0.0), Intervention(0, 1, 24, 0.0),
    Intervention(0, 1, 1, float("nan")),
])
def test_bad_interventions(plt, bad: Intervention) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InterventionError):
        plt.intervene(PROMPT, [bad])


def test_freeze_parsing(plt) -> None:  # type: ignore[no-untyped-def]
    assert parse_freeze("ALL") == "all" and parse_freeze("1-2") == (1, 2)
    for text in ("2-1", "x", "1-"):
        with pytest.raises(InterventionError):
            parse_freeze(text)
    with pytest.raises(InterventionError, match="outside layers"):
        plt.intervene(PROMPT, [Intervention(0, 1, 1, 0.0)], freeze=(1, 3))
