"""Do this model and these transcoders reproduce the graph? Its recorded feature activations
against the ones the local clean run computes.

A graph records each feature's activation on its prompt. Run on the model and transcoders that
traced it, the same features come out with the same values, to the precision of the dtype; with
another transcoder set (a different width, release or training run) they do not, and every
verdict would then be about a different computation. Verification reports this beside its
results, so a mismatch is seen before a claim is judged.

The clean run's pre-activation of a feature is compared when the run reports pre-activations:
for an active feature it equals the activation under ReLU, JumpReLU and TopK alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph.model import Graph, NodeKind

REL_TOL = 0.1
"""A feature is reproduced when the local activation is within 10 % of the recorded one."""
FLOOR = 0.01
"""Errors are relative to at least this share of the median recorded activation: a ReLU
feature barely active (1e-5) is within rounding of any dtype, and would count as off."""
MIN_SHARE = 0.8
"""The graph is reproduced when at least this share of its compared features is."""


@dataclass(frozen=True, eq=False)
class ActivationCheck:
    """How many of the graph's recorded feature activations the local run reproduced.

    Attributes:
        compared: features with a finite, non-zero recorded activation.
        reproduced: those within :data:`REL_TOL` of it here.
        absent: those whose layer, position or index does not exist here (the graph was
            traced with wider transcoders, or more layers).
        median_error: median relative error over the compared features present here (nan:
            none), each relative to the recorded activation or :data:`FLOOR` of the median.
        worst: file node id of the feature that differs most (None: none compared).
        worst_recorded, worst_local: its recorded and local activation (local nan: absent).
    """

    compared: int
    reproduced: int
    median_error: float = float("nan")
    worst: str | None = None
    worst_recorded: float = float("nan")
    worst_local: float = float("nan")
    absent: int = 0

    def __eq__(self, other: object) -> bool:
        # nan stands for "none" here, so two checks are equal when their JSON is
        return isinstance(other, ActivationCheck) and self.as_json() == other.as_json()

    def __hash__(self) -> int:
        return hash(tuple(self.as_json().items()))

    @property
    def ok(self) -> bool:
        """Whether the graph is reproduced (True when it records nothing to compare)."""
        return self.compared == 0 or self.reproduced >= MIN_SHARE * self.compared

    def text(self) -> str:
        """One sentence for the Verify panel and the command line."""
        if not self.compared:
            return ("The graph records no feature activations, so it cannot be checked that "
                    "this model and these transcoders traced it.")
        notes = []
        if np.isfinite(self.median_error):
            notes.append(f"median error {self.median_error:.1%}")
        if self.absent:
            notes.append(f"{self.absent} not in these transcoders")
        counts = (f"{self.reproduced} of {self.compared} recorded feature activations within "
                  f"{REL_TOL:.0%} ({', '.join(notes)})")
        if self.ok:
            return f"Activations reproduced: {counts}."
        here = self.worst_local
        local = f"{here:.4g} here" if np.isfinite(here) else "absent here"
        return (f"These transcoders do not reproduce the graph: only {counts}; {self.worst} "
                f"records {self.worst_recorded:.4g}, {local}. The verdicts may be about a "
                "different model or transcoder set.")

    def as_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {"ok": self.ok, "compared": self.compared, "reproduced": self.reproduced,
                "absent": self.absent, "median_error": num(self.median_error),
                "worst": self.worst, "worst_recorded": num(self.worst_recorded),
                "worst_local": num(self.worst_local)}

    @classmethod
    def from_json(cls, data: Any) -> ActivationCheck | None:
        """Back from :meth:`as_json` (a saved session); None when ``data`` is not one."""
        try:
            def num(key: str) -> float:
                v = data.get(key)
                return float("nan") if v is None else float(v)

            worst = data.get("worst")
            check = cls(int(data["compared"]), int(data["reproduced"]), num("median_error"),
                        worst if isinstance(worst, str) else None, num("worst_recorded"),
                        num("worst_local"), int(data.get("absent", 0)))
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            return None
        counts_fit = 0 <= check.reproduced <= check.compared and 0 <= check.absent <= check.compared
        return check if counts_fit else None


def check_activations(graph: Graph, activations: np.ndarray | None) -> ActivationCheck | None:
    """Compare ``graph``'s recorded feature activations with ``activations``
    (``[n_layers, n_pos, d_transcoder]`` from the clean run); None when the run gave none."""
    if activations is None:
        return None
    n = graph.nodes
    recorded = np.asarray(n.activation, dtype=np.float64)
    rows = np.flatnonzero((n.kind == NodeKind.FEATURE) & np.isfinite(recorded) & (recorded != 0))
    if not rows.size:
        return ActivationCheck(0, 0)
    layer, pos, feat = (np.asarray(a[rows], dtype=np.int64)
                        for a in (n.layer, n.position, n.feature))
    shape = activations.shape
    inside = ((layer >= 0) & (layer < shape[0]) & (pos >= 0) & (pos < shape[1])
              & (feat >= 0) & (feat < shape[2]))
    local = np.full(rows.size, np.nan)
    local[inside] = activations[layer[inside], pos[inside], feat[inside]]
    want = recorded[rows]
    scale = np.maximum(np.abs(want), FLOOR * float(np.median(np.abs(want))))
    error = np.abs(local - want) / scale
    present = np.isfinite(error)
    median = float(np.median(error[present])) if present.any() else float("nan")
    error[~present] = np.inf  # absent here (or not a number): the worst
    k = int(np.argmax(error))
    return ActivationCheck(int(rows.size), int((error <= REL_TOL).sum()), median,
                           n.file_ids[int(rows[k])], float(want[k]), float(local[k]),
                           int((~inside).sum()))
