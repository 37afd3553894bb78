"""Legibility of the canvas and the subgraph view, checked with numbers (issue 15).

The placement, spreading and density helpers are tested on hand-made inputs; the whole
window is checked through ``circuitdesk screenshot --report`` on the real fixtures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from circuitdesk.app.canvas.cells import glyph_size, spread_cells  # noqa: E402
from circuitdesk.app.canvas.density import density_mask  # noqa: E402
from circuitdesk.app.canvas.labels import place_labels  # noqa: E402
from circuitdesk.app.canvas.token_ticks import tick_texts  # noqa: E402
from circuitdesk.app.cli import main  # noqa: E402

from .conftest import FIXTURES  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from legibility import kinds_labelled, legibility  # noqa: E402

pytestmark = pytest.mark.gui


def _overlaps(boxes: np.ndarray) -> int:
    b = boxes[~np.isnan(boxes[:, 0])]
    n = 0
    for i in range(len(b)):
        for j in range(i + 1, len(b)):
            n += bool(b[i, 0] < b[j, 2] and b[j, 0] < b[i, 2] and b[i, 1] < b[j, 3] and b[j, 1] < b[i, 3])
    return n


def test_crowded_row_of_must_labels_stacks_without_overlap() -> None:
    anchors = np.column_stack([np.linspace(600, 780, 10), np.full(10, 300.0)])
    sizes = np.tile([120.0, 16.0], (10, 1))
    glyphs = np.column_stack([anchors - 4, anchors + 4])
    boxes = place_labels(anchors, sizes, np.full(10, 4.0), np.ones(10, bool), glyphs,
                         (0, 0, 800, 600))
    assert not np.isnan(boxes).any()  # every one placed
    assert _overlaps(boxes) == 0
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 800).all() and (boxes[:, 1] >= 0).all()
    for box in boxes:  # no label covers a glyph
        assert not ((glyphs[:, 0] < box[2]) & (box[0] < glyphs[:, 2])
                    & (glyphs[:, 1] < box[3]) & (box[1] < glyphs[:, 3])).any()


def test_a_must_label_with_no_free_spot_covers_the_fewest_glyphs() -> None:
    """Boxed in (every spot covers a glyph), a label that must show takes the spot that
    covers the fewest: here the one left of its node, which covers one, not the three to
    its right where the first candidate is."""
    anchor = np.array([[200.0, 100.0]])
    right = [(214.0 + 30 * i, 100.0) for i in range(3)]  # beside it on the right
    left = [(150.0, 100.0)]  # one on the left
    centres = np.array(right + left)
    ring = [(200.0 + dx, 100.0 + dy) for dx in range(-300, 301, 12)
            for dy in (-60, -40, -20, 20, 40, 60)]  # every spot further out covers some
    glyphs = np.vstack([np.column_stack([centres - 4, centres + 4]),
                        np.column_stack([np.array(ring) - 4, np.array(ring) + 4])])
    box = place_labels(anchor, np.array([[90.0, 16.0]]), np.array([4.0]), np.array([True]),
                       glyphs, (0, 30, 400, 170))[0]
    assert not np.isnan(box).any()
    covered = ((glyphs[:, 0] < box[2]) & (box[0] < glyphs[:, 2])
               & (glyphs[:, 1] < box[3]) & (box[1] < glyphs[:, 3])).sum()
    assert covered == 1 and box[2] <= anchor[0, 0]


def test_optional_labels_are_left_out_when_there_is_no_room() -> None:
    anchors = np.array([[50.0, 50.0], [52.0, 50.0], [54.0, 50.0]])
    boxes = place_labels(anchors, np.tile([80.0, 16.0], (3, 1)), np.full(3, 3.0),
                         np.zeros(3, bool), np.zeros((0, 4)), (0, 0, 140, 100))
    assert _overlaps(boxes) == 0
    assert np.isnan(boxes[:, 0]).sum() >= 1


def test_crowded_cell_wraps_into_subrows_and_glyphs_shrink() -> None:
    n = 40
    xy = np.column_stack([np.linspace(-0.4, 0.4, n), np.full(n, 3.0)])
    rows, pos = np.full(n, 3), np.zeros(n, int)
    sx, sy = 150.0, 25.0  # one column 150 px wide, one row 25 px tall
    before = glyph_size(xy, rows, pos, sx, sy)
    spread = spread_cells(xy, rows, pos, np.full(n, 0.8), sx, sy)
    assert len(np.unique(spread[:, 1])) > 1  # sub-rows
    assert np.abs(spread[:, 1] - 3.0).max() < 0.5  # still inside the layer's band
    size = glyph_size(spread, rows, pos, sx, sy)
    assert size > before
    px = spread * np.array([sx, sy])
    d = np.hypot(*(px[:, None, :] - px[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= size * 0.5  # no glyph covered more than half by its neighbour


def test_edge_density_modes() -> None:
    drawn = np.arange(10)
    share = np.linspace(0.01, 1.0, 10)
    source, target = np.arange(10) % 3, np.full(10, 5)
    chosen = np.zeros(6, bool)
    assert density_mask("all", drawn, share, source, target, chosen).tolist() == drawn.tolist()
    assert density_mask("top20", drawn, share, source, target, chosen).tolist() == [8, 9]
    chosen[1] = True
    kept = density_mask("selected", drawn, share, source, target, chosen)
    assert kept.tolist() == [1, 4, 7]


def test_token_axis_thins_and_elides_long_prompts() -> None:
    tokens = [f" token{k:02d}" for k in range(63)]
    x = np.arange(63, dtype=float)
    ticks = tick_texts(tokens, x, np.ones(63), px_per_unit=1000 / 63)
    assert len(ticks) < 63  # every k-th only
    assert all(len(text) <= 16 for _, text in ticks)
    wide = tick_texts(tokens, x, np.ones(63), px_per_unit=200.0)
    assert [t for _, t in wide] == tokens


def _shoot(tmp_path: Path, name: str, *extra: str, size: str = "1600x1000") -> dict:
    out, rep = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    assert main(["screenshot", str(FIXTURES[name]), "-o", str(out), "--report", str(rep),
                 "--size", size, *extra]) == 0
    assert out.stat().st_size > 10_000
    return json.loads(rep.read_text())


@pytest.mark.parametrize("size", ["1400x900", "1130x730"])
@pytest.mark.parametrize("name", ["legacy", "neuronpedia"])
def test_every_logit_is_labelled_in_smaller_windows(qapp, tmp_path: Path, name: str,
                                                    size: str) -> None:
    """The window opens at 1400x900; ten logits of one position still all get a label."""
    report = _shoot(tmp_path, name, size=size)
    numbers = legibility(report, report["canvas"])
    assert numbers["label_overlaps"] == 0 and numbers["labels_clipped"] == 0
    kinds = kinds_labelled(report)
    assert kinds["logits"] == 10 and kinds["logits_labelled"] == 10


@pytest.mark.parametrize("name", ["legacy", "neuronpedia", "tc"])
def test_screenshot_report_is_legible(qapp, tmp_path: Path, name: str) -> None:
    report = _shoot(tmp_path, name)
    assert report["window"] == [1600, 1000]
    numbers = legibility(report, report["canvas"])
    assert numbers["label_overlaps"] == 0 and numbers["labels_clipped"] == 0
    assert numbers["labels_on_glyph"] == 0
    assert numbers["glyph_overlap_share"] <= 0.05
    kinds = kinds_labelled(report)
    assert kinds["logits"] > 0 and kinds["logits_labelled"] == kinds["logits"]
    if name in ("neuronpedia", "tc"):  # files with clerps show feature labels
        assert kinds["feature_labels"] >= 10
    assert report["edges_drawn"] > 0
    for status in report["status"]:  # the counts and scores are whole, inside the window
        x, _y, w, _h = status["rect"]
        assert w >= status["needs"] and x + w <= report["window"][0], status
    assert any("nodes" in s["text"] for s in report["status"])
    if name == "tc":  # pinned nodes and supernodes in its qParams
        sub = report["subgraph"]
        assert sub["rect"] is not None and len(sub["nodes"]) >= 5
        s = legibility(sub)
        assert s["label_overlaps"] == 0 and s["labels_clipped"] == 0
        assert len(sub["labels"]) == len(sub["nodes"])


def test_screenshot_select_and_pin_label_those_nodes(qapp, tmp_path: Path) -> None:
    from circuitdesk.graph import load_graph
    from circuitdesk.graph.model import NodeKind

    graph = load_graph(FIXTURES["legacy"])
    feat = [graph.nodes.file_ids[i] for i in np.flatnonzero(graph.nodes.kind == NodeKind.FEATURE)[:2]]
    report = _shoot(tmp_path, "legacy", "--select", feat[0], "--pin", feat[1], "--theme", "dark")
    labelled = {lab["node"] for lab in report["labels"]}
    ids = {graph.nodes.ids[graph.nodes.file_ids.index(f)] for f in feat}
    assert ids <= labelled
    assert legibility(report, report["canvas"])["label_overlaps"] == 0


@pytest.mark.parametrize("args, message", [
    (["screenshot", "missing.json", "-o", "x.png"], "no such file"),
    (["screenshot", str(FIXTURES["legacy"]), "-o", "x.png", "--size", "big"], "--size"),
    (["screenshot", str(FIXTURES["legacy"]), "-o", "x.png", "--select", "nope"], "nope"),
])
def test_screenshot_bad_input_exits_2_with_one_line(qapp, tmp_path: Path, capsys, args, message) -> None:
    args = [a if a != "x.png" else str(tmp_path / "x.png") for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
