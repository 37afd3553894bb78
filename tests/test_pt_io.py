"""Safe reading of circuit-tracer .pt graphs (graph/pt_io.py)."""

from __future__ import annotations

import io
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from circuitdesk.graph.errors import (
    GraphLoadError, GraphSchemaError, MissingDependencyError, NotAGraphFileError, UnsafeFileError,
)
from circuitdesk.graph.io.load import load_graph
from circuitdesk.graph.model import NodeKind
from circuitdesk.graph.io.pt_io import load_pt

from .conftest import DATA

torch = pytest.importorskip("torch")

CURRENT = DATA / "ct050_small.pt"
V010 = DATA / "ct010_small.pt"


def _raw(path: Path) -> dict:
    from circuitdesk.graph.io.pt_io import _torch_load

    return _torch_load(torch, path)


def test_current_layout_nodes_follow_engine_order_and_ids() -> None:
    g = load_graph(CURRENT)
    raw = _raw(CURRENT)
    assert g.format == "circuit-tracer-pt"
    assert g.kind_counts() == {"embedding": 8, "feature": 120, "error": 32, "logit": 4}
    np.testing.assert_array_equal(g.adjacency, raw["adjacency_matrix"].numpy())
    layer, pos, feat = raw["active_features"][raw["selected_features"][0]].tolist()
    assert g.nodes.file_ids[0] == f"{layer}_{feat}_{pos}"
    assert g.nodes.file_ids[120] == "0_0_0"            # first error node: layer 0, pos 0
    assert g.nodes.file_ids[-1] == "5_1003_7"           # virtual index of a custom target
    assert g.nodes.label[-4] == f'Output " Paris" (p={float(raw["logit_probabilities"][0]):.3f})'
    assert g.metadata.n_layers == 4 and g.metadata.model == "tiny-test-model"
    # No tokenizer at /nonexistent: prompt tokens are shown as ids.
    assert g.metadata.prompt_tokens == [str(t) for t in raw["input_tokens"].tolist()]
    assert g.n_edges == int(np.count_nonzero(g.adjacency))


def test_v010_layout_reads_logit_tokens_and_tl_config() -> None:
    g = load_graph(V010)
    assert g.format == "circuit-tracer-pt-v0.1"
    assert g.metadata.n_layers == 3
    logits = np.flatnonzero(g.kind_mask(NodeKind.LOGIT))
    assert [g.nodes.file_ids[i] for i in logits] == ["4_11_5", "4_402_5", "4_9_5"]


def test_missing_torch_names_models_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"circuitdesk\[models\]"):
        load_pt(CURRENT)


class _Marker:
    """Would create a marker file if it were ever fully unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_Marker, _EvalMarker])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "hostile.pt"
    torch.save({"adjacency_matrix": torch.zeros(2, 2), "cfg": payload(marker)}, bad)
    # Sanity: a plain unpickle of this file would run the payload.
    with zipfile.ZipFile(bad) as zf:
        name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        assert b"system" in zf.read(name) or b"eval" in zf.read(name)
    with pytest.raises(UnsafeFileError) as info:
        load_graph(bad)
    assert not marker.exists()
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_unknown_class_is_unsafe(tmp_path: Path) -> None:
    bad = tmp_path / "unknown.pt"
    torch.save({"x": io.StringIO("hi")}, bad)
    with pytest.raises(UnsafeFileError, match="_io.StringIO"):
        load_pt(bad)


def test_truncated_archive(tmp_path: Path) -> None:
    bad = tmp_path / "cut.pt"
    bad.write_bytes(CURRENT.read_bytes()[:5000])
    with pytest.raises(NotAGraphFileError):
        load_graph(bad)


def _resave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **changes) -> Path:
    """Re-save the current fixture with some fields changed, as the engine would pickle it."""
    d = _raw(CURRENT)
    for key, value in changes.items():
        if value is None:
            d.pop(key)
        else:
            d[key] = value
    d["logit_targets"] = torch.tensor([t.vocab_idx for t in d["logit_targets"]])
    # A plain class pickled under the engine's qualified name, as a real file has it.
    engine = types.ModuleType("circuit_tracer.utils.tl_nnsight_mapping")
    config_cls = type("UnifiedConfig", (), {"__module__": engine.__name__})
    engine.UnifiedConfig = config_cls  # type: ignore[attr-defined]
    for parent in ("circuit_tracer", "circuit_tracer.utils"):
        monkeypatch.setitem(sys.modules, parent, types.ModuleType(parent))
    monkeypatch.setitem(sys.modules, engine.__name__, engine)
    cfg = config_cls()
    cfg.__dict__.update(d["cfg"].__dict__)
    d["cfg"] = cfg
    out = tmp_path / "changed.pt"
    torch.save(d, out)
    return out


def test_wrong_schema_and_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = load_pt(_resave(tmp_path, monkeypatch))
    assert good.n_nodes == 164 and good.format == "circuit-tracer-pt-v0.1"
    with pytest.raises(GraphSchemaError, match="missing selected_features"):
        load_pt(_resave(tmp_path, monkeypatch, selected_features=None))
    with pytest.raises(GraphSchemaError, match="adjacency"):
        load_pt(_resave(tmp_path, monkeypatch, adjacency_matrix=torch.zeros(5, 5)))
    with pytest.raises(GraphSchemaError, match="1-D"):
        load_pt(_resave(tmp_path, monkeypatch, input_tokens=torch.zeros(2, 2, dtype=torch.long)))
    nan_adj = _raw(CURRENT)["adjacency_matrix"].clone()
    nan_adj[3, 1] = float("nan")
    with pytest.raises(GraphSchemaError, match="NaN"):
        load_pt(_resave(tmp_path, monkeypatch, adjacency_matrix=nan_adj))


def test_top_level_not_a_dict(tmp_path: Path) -> None:
    bad = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], bad)
    with pytest.raises(GraphSchemaError, match="not a circuit-tracer dict"):
        load_graph(bad)
    assert issubclass(GraphSchemaError, GraphLoadError)
