"""Legibility numbers from a ``circuitdesk screenshot --report`` JSON.

    python -m circuitdesk... or: python benchmarks/legibility.py REPORT.json [...]

Prints, per report: labels, label pairs that overlap, labels leaving the canvas, labels
covering a glyph, logits labelled, and the share of glyphs that overlap another glyph
by more than half their area. ``legibility(report)`` returns the same as a dict (tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _boxes(items: list[dict[str, Any]]) -> np.ndarray:
    r = np.array([i["rect"] for i in items], dtype=float).reshape(-1, 4)
    return np.column_stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]])


def _inter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def legibility(part: dict[str, Any], canvas: list[float] | None = None) -> dict[str, Any]:
    """Numbers for one drawing (the report itself, or its ``subgraph`` part)."""
    labels, nodes = _boxes(part["labels"]), _boxes(part["nodes"])
    rect = canvas or part.get("canvas") or part.get("rect")
    x, y, w, h = rect
    li = _inter(labels, labels) > 0.5  # touching edges by a rounding do not count
    np.fill_diagonal(li, False)
    out = ((labels[:, 0] < x - 0.5) | (labels[:, 1] < y - 0.5)
           | (labels[:, 2] > x + w + 0.5) | (labels[:, 3] > y + h + 0.5))
    area = (nodes[:, 2] - nodes[:, 0]) * (nodes[:, 3] - nodes[:, 1])
    gi = _inter(nodes, nodes)
    np.fill_diagonal(gi, 0)
    crowded = (gi > 0.5 * area[:, None]).any(axis=1) if len(nodes) else np.zeros(0, bool)
    own = np.array([[lab["node"] == n["id"] for n in part["nodes"]] for lab in part["labels"]],
                   bool).reshape(len(labels), len(nodes))  # a supernode's box is its label
    on_glyph = ((_inter(labels, nodes) > 0.5) & ~own).any(axis=1)
    return {"labels": len(labels), "label_overlaps": int(li.sum() // 2),
            "labels_clipped": int(out.sum()), "labels_on_glyph": int(on_glyph.sum()),
            "glyphs": len(nodes), "glyph_overlap_share": float(crowded.mean()) if len(nodes) else 0.0}


def kinds_labelled(rep: dict[str, Any]) -> dict[str, Any]:
    """Logits drawn vs labelled, and how many feature nodes carry a label."""
    labelled = {lab["node"] for lab in rep["labels"]}
    logits = [n["id"] for n in rep["nodes"] if n.get("kind") == "logit"]
    features = [n["id"] for n in rep["nodes"] if n.get("kind") == "feature"]
    return {"logits": len(logits), "logits_labelled": sum(i in labelled for i in logits),
            "feature_labels": sum(i in labelled for i in features)}


def main(paths: list[str]) -> None:
    for path in paths:
        rep = json.loads(Path(path).read_text())
        row = legibility(rep, rep["canvas"])
        row["edges_drawn"] = rep["edges_drawn"]
        row.update(kinds_labelled(rep))
        print(path, json.dumps(row))
        if rep["subgraph"]["rect"]:
            print("  subgraph", json.dumps(legibility(rep["subgraph"])))


if __name__ == "__main__":
    main(sys.argv[1:])
