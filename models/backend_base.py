"""What every backend does the same way, on top of its own ``intervene_batch``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from .protocol import (
    FreezeSpec,
    Intervention,
    InterventionError,
    InterventionResult,
    PromptOrIds,
    TokenScore,
)


class BackendBase:
    """Mixin: needs ``n_layers``, ``d_transcoder``, ``token_strings`` and ``intervene_batch``."""

    n_layers: int
    d_transcoder: int

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        raise NotImplementedError

    def intervene_batch(self, prompt: PromptOrIds, batch: Sequence[Sequence[Intervention]], *,
                        freeze: FreezeSpec = "attention", return_activations: bool = False,
                        apply_activation_function: bool = True, batch_size: int = 64,
                        progress: Progress = no_progress,
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

    def _check(self, ivs: Sequence[Intervention], n_pos: int) -> None:
        """One-line InterventionError for a layer, position or feature out of range."""
        for iv in ivs:
            if not 0 <= iv.layer < self.n_layers:
                raise InterventionError(f"layer {iv.layer} is outside 0-{self.n_layers - 1}")
            if not 0 <= iv.pos < n_pos:
                raise InterventionError(f"position {iv.pos} is outside 0-{n_pos - 1}")
            if not 0 <= iv.feature < self.d_transcoder:
                raise InterventionError(
                    f"feature {iv.feature} is outside 0-{self.d_transcoder - 1}")
            if not np.isfinite(iv.value):
                raise InterventionError(f"value {iv.value} is not finite")

    @staticmethod
    def _results(logits: npt.NDArray[np.float32], acts: npt.NDArray[np.float32] | None,
                 ids: Sequence[int]) -> list[InterventionResult]:
        """One result per batch row (``acts`` may be None)."""
        return [InterventionResult(logits=logits[r], activations=None if acts is None else acts[r],
                                   input_ids=list(ids)) for r in range(len(logits))]

    def intervene(self, prompt: PromptOrIds, interventions: Sequence[Intervention], *,
                  freeze: FreezeSpec = "attention", return_activations: bool = True,
                  apply_activation_function: bool = True, progress: Progress = no_progress,
                  cancel: CancelToken = NEVER) -> InterventionResult:
        """One forward pass with ``interventions`` (engine ``feature_intervention``)."""
        return self.intervene_batch(
            prompt, [list(interventions)], freeze=freeze, return_activations=return_activations,
            apply_activation_function=apply_activation_function, progress=progress,
            cancel=cancel)[0]
