"""What every backend does the same way, on top of its own ``intervene_batch``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from .protocol import (
    ErrorsSpec,
    FreezeSpec,
    InterventionError,
    InterventionResult,
    InterventionSet,
    PromptOrIds,
    TokenScore,
)


Table = npt.NDArray[np.float64]
"""One intervention set as rows ``(layer, pos, feature, value)``, duplicates removed."""


def intervention_table(ivs: InterventionSet) -> Table:
    """``ivs`` as a ``[k, 4]`` float64 table (duplicates are removed by ``_check``).

    A ``[k, 4]`` array passes through without per-entry Python work (sweeps send thousands).
    """
    if isinstance(ivs, np.ndarray):
        table = np.asarray(ivs, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != 4:
            if table.size == 0:
                return np.zeros((0, 4))
            raise InterventionError(f"an intervention array has shape {table.shape}, "
                                    "expected [k, 4]")
    else:
        table = np.array([tuple(iv) for iv in ivs], dtype=np.float64).reshape(-1, 4)
    return table


class BackendBase:
    """Mixin: needs ``n_layers``, ``d_transcoder``, ``token_strings`` and ``intervene_batch``."""

    @property
    def n_layers(self) -> int:
        raise NotImplementedError

    @property
    def d_transcoder(self) -> int:
        raise NotImplementedError

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        raise NotImplementedError

    def intervene_batch(self, prompt: PromptOrIds, batch: Sequence[InterventionSet], *,
                        freeze: FreezeSpec = "attention", errors: ErrorsSpec = "respond",
                        return_activations: bool = False,
                        apply_activation_function: bool = True, batch_size: int = 64,
                        last_position_only: bool = False, progress: Progress = no_progress,
                        cancel: CancelToken = NEVER) -> list[InterventionResult]:
        raise NotImplementedError

    def top_tokens(self, logits: npt.ArrayLike, k: int = 10) -> list[TokenScore]:
        """The ``k`` highest logits of a ``[vocab]`` row with their softmax probabilities."""
        row = np.asarray(logits, dtype=np.float64).reshape(-1)
        p = np.exp(row - row.max())
        p /= p.sum()
        order = np.argsort(-row, kind="stable")[:k]
        names = self.token_strings([int(i) for i in order])
        return [TokenScore(s, int(i), float(row[i]), float(p[i])) for s, i in zip(names, order)]

    @staticmethod
    def _in_vocabulary(ids: list[int], vocab_size: int) -> list[int]:
        """``ids`` unchanged, or a one-line InterventionError naming the ids out of range."""
        bad = [i for i in ids if not 0 <= i < vocab_size]
        if bad:
            raise InterventionError(f"token ids {bad[:5]} are outside the vocabulary "
                                    f"(size {vocab_size})")
        return ids

    def _tables(self, batch: Sequence[InterventionSet], n_pos: int) -> list[Table]:
        """Each set as a checked ``[k, 4]`` table (see :func:`intervention_table`)."""
        return [self._check(intervention_table(ivs), n_pos) for ivs in batch]

    def _check(self, table: Table, n_pos: int) -> Table:
        """``table`` without duplicates, or a one-line InterventionError for the first entry out
        of range (layer, position, feature) or not finite; vectorised, as sweeps send
        thousands. Of duplicate ``(layer, pos, feature)`` entries the later one wins, as in
        the engine, and the rest keep their order."""
        if not table.size:
            return table
        if not np.isfinite(table).all():
            bad = table[~np.isfinite(table).all(axis=1)][0]
            raise InterventionError(f"value {bad[3]} is not finite" if np.isfinite(bad[:3]).all()
                                    else f"intervention {tuple(bad)} is not finite")
        for col, name, hi in ((0, "layer", self.n_layers), (1, "position", n_pos),
                              (2, "feature", self.d_transcoder)):
            v = table[:, col]
            wrong = (v < 0) | (v >= hi) | (v != np.floor(v))
            if wrong.any():
                raise InterventionError(f"{name} {v[wrong][0]:g} is outside 0-{hi - 1}")
        if len(table) < 2:
            return table
        where = table[:, :3].astype(np.int64)
        key = (where[:, 0] * n_pos + where[:, 1]) * self.d_transcoder + where[:, 2]
        if (key[1:] > key[:-1]).all():  # sorted and distinct, as a sweep sends them
            return table
        _, last = np.unique(key[::-1], return_index=True)
        if len(last) == len(table):
            return table
        kept: Table = table[np.sort(len(table) - 1 - last)]
        return kept

    @staticmethod
    def _results(logits: npt.NDArray[np.float32], acts: npt.NDArray[np.float32] | None,
                 ids: Sequence[int]) -> list[InterventionResult]:
        """One result per batch row (``acts`` may be None)."""
        return [InterventionResult(logits=logits[r], activations=None if acts is None else acts[r],
                                   input_ids=list(ids)) for r in range(len(logits))]

    def intervene(self, prompt: PromptOrIds, interventions: InterventionSet, *,
                  freeze: FreezeSpec = "attention", errors: ErrorsSpec = "respond",
                  return_activations: bool = True, apply_activation_function: bool = True,
                  progress: Progress = no_progress,
                  cancel: CancelToken = NEVER) -> InterventionResult:
        """One forward pass with ``interventions`` (engine ``feature_intervention``)."""
        return self.intervene_batch(
            prompt, [interventions], freeze=freeze, errors=errors,
            return_activations=return_activations,
            apply_activation_function=apply_activation_function, progress=progress,
            cancel=cancel)[0]
