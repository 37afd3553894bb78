"""Circuit-level claims on the local model: is a circuit necessary, is it sufficient?

*Necessity* ablates every feature of the circuit at once; *sufficiency* ablates every active
feature outside it. What the errors do follows the freeze mode, as in circuit-tracer's
``feature_intervention``: with every layer frozen, MLP outputs (errors included) keep their clean
values and only the ablations' direct deltas move the logit; with attention or nothing frozen the
model's own MLPs run, so the error terms follow the changed inputs. Both are compared with the
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

from ..graph.analysis.verify import Paths, paths_of, predict
from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.model import Graph, NodeKind
from .protocol import FreezeSpec, Intervention, InterventionError, ReplacementBackend
from .verify import default_target

DEFINITIONS = {
    "errors": "freeze all: MLP outputs and errors stay clean (the graph's linear view); "
              "attention / none: the model's own MLPs run, errors follow the inputs",
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

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["definitions"] = DEFINITIONS
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaithfulnessReport:
        """Read back what :meth:`to_json` wrote (a saved session); TypeError/KeyError when not."""
        points = [CircuitPoint(**{**p, "necessity": Outcome(**p["necessity"]),
                                  "sufficiency": Outcome(**p["sufficiency"])})
                  for p in data.get("points", [])]
        return cls(str(data["target_token"]), str(data["freeze"]), str(data["ablation"]),
                   int(data["active_features"]), Outcome(**data["clean"]),
                   Outcome(**data["all_ablated"]), points)


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


def _features(graph: Graph, rows: Sequence[int]) -> list[tuple[int, int, int]]:
    n = graph.nodes
    return [(int(n.layer[r]), int(n.position[r]), int(n.feature[r])) for r in rows
            if n.kind[r] == NodeKind.FEATURE]


def _value(means: np.ndarray | None, layer: int, feature: int) -> float:
    return 0.0 if means is None else float(means[layer, feature])


def run_faithfulness(
    backend: ReplacementBackend,
    graph: Graph,
    circuits: Sequence[Circuit],
    input_ids: Sequence[int],
    *,
    freeze: FreezeSpec = "attention",
    means: np.ndarray | None = None,
    edge_mask: np.ndarray | None = None,
    batch_size: int = 16,
    on_point: Callable[[CircuitPoint], None] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> FaithfulnessReport:
    """Necessity and sufficiency of every circuit, batched; points arrive as batches finish.

    Args:
        means: ``[n_layers, d_transcoder]`` mean activations to ablate to (mean ablation);
            None ablates to zero.
        edge_mask: The pruned graph's edges, for the path-summed prediction.

    Cancelling takes effect between batches.
    """
    target = default_target(graph)
    vocab_id = int(graph.nodes.vocab_id[target])
    if not 0 <= vocab_id < backend.vocab_size:
        raise InterventionError(f"target {graph.nodes.label[target]!r} is not a vocabulary token")
    ids = list(input_ids)
    clean_run = backend.intervene(ids, [], freeze=freeze, return_activations=True)
    if clean_run.activations is None:
        raise InterventionError("the backend returned no feature activations")
    acts = np.asarray(clean_run.activations)
    layer, pos, feat = np.nonzero(acts)
    keep = pos > 0  # the BOS position carries no graph features (FORMATS.md §1)
    active = list(zip(layer[keep].tolist(), pos[keep].tolist(), feat[keep].tolist()))
    clean = _outcome(clean_run.logits[-1], vocab_id)

    def ablate(where: Sequence[tuple[int, int, int]]) -> list[Intervention]:
        return [Intervention(lay, p, f, _value(means, lay, f)) for lay, p, f in where]

    sets: list[list[Intervention]] = [ablate(active)]
    for c in circuits:
        inside = set(_features(graph, c.rows))
        sets.append(ablate(sorted(inside)))
        sets.append(ablate([a for a in active if a not in inside]))
    report = FaithfulnessReport(graph.nodes.label[target], str(freeze),
                                "zero" if means is None else "mean", len(active), clean, clean)
    paths = paths_of(graph, edge_mask)  # the same edges for every circuit's prediction
    results: list[Outcome] = []
    for start in range(0, len(sets), batch_size):
        cancel.check()
        chunk = sets[start:start + batch_size]
        runs = [c for c in chunk if c]  # an empty set is the clean run itself
        batch = iter(backend.intervene_batch(ids, runs, freeze=freeze, batch_size=batch_size,
                                             cancel=cancel) if runs else [])
        results += [_outcome(next(batch).logits[-1], vocab_id) if c else clean for c in chunk]
        if start == 0:
            report.all_ablated = results[0]
        while 1 + 2 * (len(report.points) + 1) <= len(results):
            k = len(report.points)
            point = _point(graph, circuits[k], target, clean, report.all_ablated,
                           results[1 + 2 * k], results[2 + 2 * k], means, paths)
            report.points.append(point)
            if on_point is not None:
                on_point(point)
        progress(min(1.0, len(results) / len(sets)), "circuit tests")
    return report


def _point(graph: Graph, circuit: Circuit, target: int, clean: Outcome, floor: Outcome,
           necessity: Outcome, sufficiency: Outcome, means: np.ndarray | None,
           paths: Paths) -> CircuitPoint:
    rows = [int(r) for r in circuit.rows if graph.nodes.kind[r] == NodeKind.FEATURE]
    n = graph.nodes
    if means is None:
        fraction: float | np.ndarray = -1.0
    else:
        a = n.activation[rows].astype(np.float64)
        m = np.array([means[n.layer[r], n.feature[r]] for r in rows], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.where(a != 0, (m - a) / a, -1.0)
    pred = predict(graph, rows, fraction, paths=paths)
    whole = clean.logit - floor.logit
    return CircuitPoint(
        circuit.label, len(rows), necessity, sufficiency, float(pred.direct[target]),
        float(pred.total[target]), _share(clean.logit - necessity.logit, whole),
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
            means = np.load(folder / name, allow_pickle=False)
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
