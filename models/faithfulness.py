"""Circuit-level claims on the local model: is a circuit necessary, is it sufficient?

*Necessity* ablates every feature of the circuit at once; *sufficiency* ablates every active
feature outside it. Error nodes stay at their clean values by default (``errors="clean"``):
every MLP output becomes the transcoder reconstruction of the current, intervened feature
activations plus the clean run's error term (clean MLP output − clean reconstruction), so only
features move, as in the attribution graph, where error nodes are fixed inputs.
``errors="respond"`` runs the model's own MLPs instead (circuit-tracer's
``feature_intervention``), so the error terms follow the changed inputs. With every layer frozen
(``freeze="all"``) MLP outputs keep their clean values and only the ablations' direct deltas move
the logit, so both modes agree. Both tests are compared with the
clean run and with the run where every active feature is ablated, so each test reads as a share
of the clean effect:

- necessity removed  = (L_clean − L_circuit ablated) / (L_clean − L_all ablated)
- sufficiency recovered = (L_rest ablated − L_all ablated) / (L_clean − L_all ablated)

where L is the target's demeaned logit at the last position. Over a sweep of node thresholds
this is the faithfulness curve of the circuit-discovery literature. All intervention sets of
a sweep go through ``intervene_batch`` together, so a sweep costs a few batched passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..graph.analysis.verify import Paths, paths_of, predict_many
from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.model import Graph, NodeKind
from .activation_check import ActivationCheck, check_activations
from .protocol import (
    ErrorsSpec,
    FreezeSpec,
    InterventionError,
    ReplacementBackend,
    parse_errors,
)
from .verify import default_target

DEFINITIONS = {
    "errors": "clean: each MLP output = transcoder reconstruction of the current feature "
              "activations + the clean run's error (clean MLP output - clean reconstruction), "
              "so only features move; respond: the model's own MLPs run and errors follow the "
              "inputs; with freeze all, MLP outputs stay clean and both modes agree",
    "logit": "the target token's logit minus the mean logit, at the last position",
    "necessity_removed": "(L_clean - L_circuit_ablated) / (L_clean - L_all_ablated)",
    "sufficiency_recovered": "(L_rest_ablated - L_all_ablated) / (L_clean - L_all_ablated)",
    "predicted_direct": "sum of the circuit's direct effects on the target (graph edges)",
    "predicted_total": "the same change summed over every path of the pruned graph",
}


@dataclass(frozen=True)
class Outcome:
    """The target token after one run."""

    logit: float
    """Demeaned logit of the target at the last position."""
    prob: float
    rank: int
    """0 = the most likely token."""


@dataclass(frozen=True)
class CircuitPoint:
    """Necessity and sufficiency of one circuit."""

    label: str
    size: int
    """Feature nodes in the circuit."""
    necessity: Outcome
    sufficiency: Outcome
    predicted_direct: float
    predicted_total: float
    necessity_removed: float
    sufficiency_recovered: float
    threshold: float | None = None


@dataclass
class FaithfulnessReport:
    target_token: str
    freeze: str
    ablation: str
    active_features: int
    clean: Outcome
    all_ablated: Outcome
    points: list[CircuitPoint] = field(default_factory=list)
    errors: str = "clean"
    """``clean`` or ``respond`` (see :data:`DEFINITIONS`)."""
    activation_check: ActivationCheck | None = None
    """Whether the clean run reproduced the graph's recorded activations."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["definitions"] = DEFINITIONS
        check = self.activation_check
        out["activation_check"] = None if check is None else check.as_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaithfulnessReport:
        """Read back what :meth:`to_json` wrote (a saved session); TypeError/KeyError when not."""
        points = [CircuitPoint(**{**p, "necessity": Outcome(**p["necessity"]),
                                  "sufficiency": Outcome(**p["sufficiency"])})
                  for p in data.get("points", [])]
        # Reports saved before the errors option had errors follow the model ("respond").
        return cls(str(data["target_token"]), str(data["freeze"]), str(data["ablation"]),
                   int(data["active_features"]), Outcome(**data["clean"]),
                   Outcome(**data["all_ablated"]), points, str(data.get("errors", "respond")),
                   ActivationCheck.from_json(data.get("activation_check")))


@dataclass(frozen=True)
class Circuit:
    """Feature rows of the graph that form one circuit (e.g. the kept nodes at a threshold)."""

    label: str
    rows: tuple[int, ...]
    threshold: float | None = None


def _outcome(logits: np.ndarray, vocab_id: int) -> Outcome:
    row = np.asarray(logits, dtype=np.float64).reshape(-1)
    p = np.exp(row - row.max())
    p /= p.sum()
    rank = int((row > row[vocab_id]).sum())
    return Outcome(float(row[vocab_id] - row.mean()), float(p[vocab_id]), rank)


def _share(part: float, whole: float) -> float:
    return float(part / whole) if abs(whole) > 1e-12 else float("nan")


def run_faithfulness(
    backend: ReplacementBackend,
    graph: Graph,
    circuits: Sequence[Circuit],
    input_ids: Sequence[int],
    *,
    freeze: FreezeSpec = "attention",
    errors: ErrorsSpec = "clean",
    means: np.ndarray | None = None,
    edge_mask: np.ndarray | None = None,
    batch_size: int = 16,
    on_point: Callable[[CircuitPoint], None] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> FaithfulnessReport:
    """Necessity and sufficiency of every circuit, batched; points arrive as batches finish.

    Args:
        errors: ``clean`` holds error nodes at their clean values, ``respond`` lets the
            model's MLPs run (see the module docstring).
        means: ``[n_layers, d_transcoder]`` mean activations to ablate to (mean ablation);
            None ablates to zero.
        edge_mask: The pruned graph's edges, for the path-summed prediction.

    Cancelling takes effect between batches.
    """
    errors = parse_errors(errors)
    target = default_target(graph)
    vocab_id = int(graph.nodes.vocab_id[target])
    if not 0 <= vocab_id < backend.vocab_size:
        raise InterventionError(f"target {graph.nodes.label[target]!r} is not a vocabulary token")
    ids = list(input_ids)
    clean_run = backend.intervene(ids, [], freeze=freeze, return_activations=True)
    if clean_run.activations is None:
        raise InterventionError("the backend returned no feature activations")
    active = np.argwhere(np.asarray(clean_run.activations) != 0)  # (layer, pos, feature)
    active = active[active[:, 1] > 0]  # the BOS position carries no graph features (FORMATS.md §1)
    clean = _outcome(clean_run.logits[-1], vocab_id)
    rows = [_feature_rows(graph, c) for c in circuits]
    sets = _sets(graph, rows, active, means)
    report = FaithfulnessReport(graph.nodes.label[target], str(freeze),
                                "zero" if means is None else "mean", len(active), clean, clean,
                                errors=errors, activation_check=check_activations(
                                    graph, np.asarray(clean_run.activations)))
    paths = paths_of(graph, edge_mask)  # the same edges for every circuit's prediction
    predictions = _predictions(graph, rows, target, means, paths)
    results: list[Outcome] = []
    for start in range(0, len(sets), batch_size):
        cancel.check()
        chunk = sets[start:start + batch_size]
        runs = [c for c in chunk if len(c)]  # an empty set is the clean run itself
        batch = iter(backend.intervene_batch(ids, runs, freeze=freeze, errors=errors,
                                             batch_size=batch_size, last_position_only=True,
                                             cancel=cancel)
                     if runs else [])
        results += [_outcome(next(batch).logits[-1], vocab_id) if len(c) else clean
                    for c in chunk]
        if start == 0:
            report.all_ablated = results[0]
        while 1 + 2 * (len(report.points) + 1) <= len(results):
            k = len(report.points)
            point = _point(circuits[k], len(rows[k]), clean, report.all_ablated,
                           results[1 + 2 * k], results[2 + 2 * k], predictions[k])
            report.points.append(point)
            if on_point is not None:
                on_point(point)
        progress(min(1.0, len(results) / len(sets)), "circuit tests")
    return report


def _feature_rows(graph: Graph, circuit: Circuit) -> np.ndarray:
    """The circuit's feature rows (other kinds of node left out), duplicates kept."""
    rows = np.asarray(circuit.rows, dtype=np.int64).reshape(-1)
    picked: np.ndarray = rows[graph.nodes.kind[rows] == NodeKind.FEATURE]
    return picked


def _sets(graph: Graph, circuits: Sequence[np.ndarray], active: np.ndarray,
          means: np.ndarray | None) -> list[np.ndarray]:
    """``[k, 4]`` intervention tables: all active features, then each circuit's necessity
    (its features) and sufficiency (the active features outside it) sets."""
    def ablate(where: np.ndarray) -> np.ndarray:
        value = (np.zeros(len(where)) if means is None
                 else means[where[:, 0], where[:, 2]].astype(np.float64))
        return np.column_stack([where.astype(np.float64), value]).reshape(-1, 4)

    n = graph.nodes
    width = max(int(active[:, 2].max(initial=0)), int(n.feature.max(initial=0))) + 1
    span = max(int(active[:, 1].max(initial=0)), int(n.position.max(initial=0))) + 1

    def keys(lpf: np.ndarray) -> np.ndarray:
        key: np.ndarray = (lpf[:, 0].astype(np.int64) * span + lpf[:, 1]) * width + lpf[:, 2]
        return key

    active_keys = keys(active)
    sets = [ablate(active)]
    for rows in circuits:
        inside = np.column_stack([n.layer[rows], n.position[rows], n.feature[rows]]
                                 ).astype(np.int64).reshape(-1, 3)
        inside_keys, first = np.unique(keys(inside), return_index=True)
        sets.append(ablate(inside[first]))  # sorted by (layer, pos, feature), no duplicates
        sets.append(ablate(active[~np.isin(active_keys, inside_keys)]))
    return sets


def _predictions(graph: Graph, circuits: Sequence[np.ndarray], target: int,
                 means: np.ndarray | None, paths: Paths) -> list[tuple[float, float]]:
    """``(direct, total)`` predicted change of the target for ablating each circuit."""
    n = graph.nodes
    sources, fractions = [], []
    for rows in circuits:
        fraction: float | np.ndarray = -1.0
        if means is not None:
            a = n.activation[rows].astype(np.float64)
            m = means[n.layer[rows], n.feature[rows]].astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                fraction = np.where(a != 0, (m - a) / a, -1.0)
        sources.append(rows)
        fractions.append(fraction)
    preds = predict_many(graph, sources, fractions, paths)
    return [(float(p.direct[target]), float(p.total[target])) for p in preds]


def _point(circuit: Circuit, size: int, clean: Outcome, floor: Outcome, necessity: Outcome,
           sufficiency: Outcome, predicted: tuple[float, float]) -> CircuitPoint:
    whole = clean.logit - floor.logit
    return CircuitPoint(
        circuit.label, size, necessity, sufficiency, predicted[0], predicted[1],
        _share(clean.logit - necessity.logit, whole),
        _share(sufficiency.logit - floor.logit, whole), circuit.threshold)


def threshold_circuits(graph: Graph, thresholds: Sequence[float], edge_threshold: float = 0.98,
                       *, cancel: CancelToken = NEVER) -> list[Circuit]:
    """The kept feature nodes of the engine's pruning at each node threshold."""
    from ..graph.analysis.prune import prune

    out = []
    for t in sorted(thresholds):
        cancel.check()
        result = prune(graph, t, edge_threshold, cancel=cancel)
        rows = np.flatnonzero(result.node_mask & (graph.nodes.kind == NodeKind.FEATURE))
        out.append(Circuit(f"node threshold {t:g}", tuple(int(r) for r in rows), t))
    return out


def mean_activations(backend: ReplacementBackend, text: str, *, window: int = 64,
                     max_tokens: int = 20_000, progress: Progress = no_progress,
                     cancel: CancelToken = NEVER) -> np.ndarray:
    """``[n_layers, d_transcoder]`` mean activation of every feature over ``text`` (BOS
    positions left out), streamed in windows of ``window`` tokens."""
    ids = backend.encode(text)[:max_tokens]
    if not ids:
        raise InterventionError("the text for mean ablation has no tokens")
    total = np.zeros((backend.n_layers, backend.d_transcoder), dtype=np.float64)
    count = 0
    for start in range(0, len(ids), window):
        cancel.check()
        run = backend.intervene(backend.tokenize(ids[start:start + window]), [],
                                return_activations=True)
        if run.activations is not None:
            a = np.asarray(run.activations, dtype=np.float64)[:, 1:]
            total += a.sum(axis=1)
            count += a.shape[1]
        progress(min(1.0, (start + window) / len(ids)), "mean activations")
    return (total / max(count, 1)).astype(np.float32)


def cached_means(backend: ReplacementBackend, text_path: str | Path, cache_dirs: Sequence[Path],
                 *, progress: Progress = no_progress, cancel: CancelToken = NEVER) -> np.ndarray:
    """:func:`mean_activations` over a text file, computed once and kept as ``.npy`` in the
    first writable folder of ``cache_dirs`` (next to the model, then the user's cache)."""
    data = Path(text_path).read_bytes()
    key = hashlib.sha256(data + f"|{backend.model_name}|{backend.n_layers}|"
                         f"{backend.d_transcoder}".encode()).hexdigest()[:16]
    name = f"circuitdesk-means-{key}.npy"
    for folder in cache_dirs:
        if (folder / name).is_file():
            means: np.ndarray = np.load(folder / name, allow_pickle=False)
            if means.shape == (backend.n_layers, backend.d_transcoder):
                return means
    means = mean_activations(backend, data.decode("utf-8", errors="replace"), progress=progress,
                             cancel=cancel)
    for folder in cache_dirs:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / name, means, allow_pickle=False)
            break
        except OSError:
            continue
    return means
