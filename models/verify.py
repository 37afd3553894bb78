"""Rerun a graph's interventions on the local model: predicted beside observed.

Pure orchestration over a :class:`ReplacementBackend`: the predictions come from
graph/verify.py, the observations from batched interventions. Results are delivered row by
row through ``on_rows`` as each batch finishes, so the app can fill its table live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.model import Graph, NodeKind
from ..graph.analysis.verify import Summary, paths_of, predict, summarise, verdict
from .activation_check import ActivationCheck, check_activations
from .protocol import (
    FreezeSpec, Intervention, InterventionError, ReplacementBackend, TokenScore,
)

Mode = Literal["ablate", "scale"]


@dataclass(frozen=True)
class Claim:
    """One thing to test: a node, or a supernode whose members are ablated together."""

    key: str
    label: str
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Downstream:
    """Predicted and observed change of one downstream feature's pre-activation."""

    key: str
    predicted: float
    observed: float


@dataclass(frozen=True)
class VerifyRow:
    """The answer for one claim, on the target logit."""

    key: str
    label: str
    predicted: float
    """The prediction the verdict is made against (direct when all layers are frozen)."""
    predicted_direct: float
    predicted_total: float
    observed: float
    verdict: str
    top_after: tuple[TokenScore, ...] = ()
    downstream: tuple[Downstream, ...] = ()


@dataclass
class VerifyReport:
    target_row: int
    target_token: str
    freeze: FreezeSpec
    mode: Mode
    factor: float
    baseline_top: list[TokenScore]
    rows: list[VerifyRow] = field(default_factory=list)
    activation_check: ActivationCheck | None = None
    """Whether the clean run reproduced the graph's recorded activations (None: not run)."""

    def summary(self) -> Summary:
        return summarise([r.predicted for r in self.rows], [r.observed for r in self.rows])


def default_target(graph: Graph) -> int:
    """The target logit row: the one marked as target, else the most probable logit."""
    logits = np.flatnonzero(graph.nodes.kind == NodeKind.LOGIT)
    if not logits.size:
        raise InterventionError("the graph has no logit node to verify against")
    marked = [int(r) for r in logits if graph.raw_nodes and graph.raw_nodes[r].get("is_target_logit")]
    if marked:
        return marked[0]
    probs = np.nan_to_num(graph.nodes.token_prob[logits], nan=-1.0)
    return int(logits[int(np.argmax(probs))])


def feature_claims(graph: Graph, rows: Sequence[int]) -> list[Claim]:
    """One claim per feature node among ``rows``."""
    n = graph.nodes
    return [Claim(n.ids[r], n.label[r] or n.file_ids[r], (int(r),))
            for r in rows if n.kind[r] == NodeKind.FEATURE]


def _interventions(graph: Graph, claim: Claim, mode: Mode, factor: float) -> list[Intervention]:
    n = graph.nodes
    out = []
    for r in claim.rows:
        if n.kind[r] != NodeKind.FEATURE:
            continue
        value = 0.0
        if mode == "scale":
            a = float(n.activation[r])
            if not np.isfinite(a):
                raise InterventionError(f"node {n.file_ids[r]} has no activation to scale")
            value = factor * a
        out.append(Intervention(int(n.layer[r]), int(n.position[r]), int(n.feature[r]), value))
    return out


def run_verification(
    backend: ReplacementBackend,
    graph: Graph,
    claims: Sequence[Claim],
    input_ids: Sequence[int],
    *,
    mode: Mode = "ablate",
    factor: float = 0.0,
    freeze: FreezeSpec = "attention",
    target_row: int | None = None,
    edge_mask: np.ndarray | None = None,
    batch_size: int = 16,
    feature_targets: Sequence[int] = (),
    on_rows: Callable[[list[VerifyRow]], None] | None = None,
    on_check: Callable[[ActivationCheck], None] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> VerifyReport:
    """Predicted and observed change of the target's demeaned logit for every claim.

    With ``freeze="all"`` the model gives the graph's direct effects, so the verdict is made
    against the direct prediction; otherwise against the total (path-summed) prediction.
    ``feature_targets`` are feature rows whose pre-activation change is reported too.
    ``on_check`` gets the activation check (:mod:`.activation_check`) after the clean run,
    before the first claim. Cancelling takes effect between batches.
    """
    target = default_target(graph) if target_row is None else target_row
    vocab_id = int(graph.nodes.vocab_id[target])
    if not 0 <= vocab_id < backend.vocab_size:
        raise InterventionError(f"target {graph.nodes.label[target]!r} is not a vocabulary token")
    fraction = -1.0 if mode == "ablate" else factor - 1.0
    n = graph.nodes
    down = [int(r) for r in feature_targets if n.kind[r] == NodeKind.FEATURE]
    where = tuple(np.array([[n.layer[r], n.position[r], n.feature[r]] for r in down],
                           dtype=np.int64).reshape(-1, 3).T)
    # pre-activations (the activation function changes only what is reported, not the run)
    acts: dict[str, Any] = dict(return_activations=bool(down), apply_activation_function=not down)
    # the clean run always returns its activations: they are checked against the graph's
    base = backend.intervene(list(input_ids), [], freeze=freeze,
                             **{**acts, "return_activations": True})
    base_down = base.activations[where] if down and base.activations is not None else None
    last = np.asarray(base.logits[-1], dtype=np.float64)
    base_value = last[vocab_id] - last.mean()
    report = VerifyReport(target, graph.nodes.label[target], freeze, mode, factor,
                          backend.top_tokens(last, 10),
                          activation_check=check_activations(graph, base.activations))
    if on_check is not None and report.activation_check is not None:
        on_check(report.activation_check)
    use_direct = freeze == "all"
    paths = paths_of(graph, edge_mask)  # prepared once for every claim
    for start in range(0, len(claims), batch_size):
        cancel.check()
        chunk = list(claims[start:start + batch_size])
        results = backend.intervene_batch(
            list(input_ids), [_interventions(graph, c, mode, factor) for c in chunk],
            freeze=freeze, batch_size=batch_size, cancel=cancel, **acts)
        rows = []
        for claim, res in zip(chunk, results):
            logits = np.asarray(res.logits[-1], dtype=np.float64)
            observed = float(logits[vocab_id] - logits.mean() - base_value)
            pred = predict(graph, claim.rows, fraction, paths=paths)
            direct, total = float(pred.direct[target]), float(pred.total[target])
            judged = direct if use_direct or not np.isfinite(total) else total
            effects: tuple[Downstream, ...] = ()
            if base_down is not None and res.activations is not None:
                moved = res.activations[where] - base_down
                wanted = pred.direct if use_direct else pred.total
                effects = tuple(Downstream(n.ids[r], float(wanted[r]), float(m))
                                for r, m in zip(down, moved.tolist()) if r not in claim.rows)
            rows.append(VerifyRow(claim.key, claim.label, judged, direct, total, observed,
                                  verdict(judged, observed), tuple(backend.top_tokens(logits, 5)),
                                  effects))
        report.rows.extend(rows)
        if on_rows is not None:
            on_rows(rows)
        progress(min(1.0, (start + len(chunk)) / max(len(claims), 1)), "verifying")
    return report
