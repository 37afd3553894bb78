"""What every model backend offers the app: a small, numpy-in / numpy-out protocol.

A backend wraps one *local replacement model*: a causal LM plus transcoders (FORMATS.md §4).
It tokenises prompts the way circuit-tracer does, runs feature interventions with the
engine's freeze modes (FORMATS.md §5) and traces attribution graphs (FORMATS.md §1).
Nothing here imports torch; backends live in their own modules and are opened through
:mod:`circuitdesk.models.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..graph.cancel import NEVER, CancelToken, Progress, no_progress
from ..graph.errors import CircuitDeskError

if TYPE_CHECKING:
    from ..graph.io.dense import DenseGraphData
    from ..graph.model import Graph


class ModelLoadError(CircuitDeskError):
    """A model or transcoder folder could not be used.

    Args:
        path: The folder or file concerned (may be empty).
        problem: One line saying what is wrong.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(problem.split())
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


class InterventionError(CircuitDeskError):
    """An intervention or freeze argument is out of range or malformed (one line)."""


class Intervention(NamedTuple):
    """Set feature ``feature`` of layer ``layer`` at position ``pos`` to ``value`` (absolute)."""

    layer: int
    pos: int
    feature: int
    value: float


FreezeSpec = Literal["attention", "none", "all"] | tuple[int, int]
"""``"attention"``: patterns frozen to the clean run (engine default); ``"none"``: nothing
frozen; ``"all"``: every layer constrained (direct effects); ``(a, b)``: layers ``a..b``
inclusive constrained (MLP outputs frozen there, deltas applied only there)."""


ErrorsSpec = Literal["clean", "respond"]
"""What the error terms (MLP output minus transcoder reconstruction) do in a patched run.
``"respond"``: the model's own MLPs run, so errors follow the changed inputs (the engine's
``feature_intervention``); ``"clean"``: each MLP output becomes the transcoder reconstruction
of the current feature activations plus the clean run's error, so only features move and
error nodes are fixed inputs, as in the attribution graph. Constrained layers (freeze
``all`` or a range) keep clean MLP outputs either way, so there both modes agree."""

ERRORS_MODES: tuple[ErrorsSpec, ...] = ("clean", "respond")


def parse_errors(text: str) -> ErrorsSpec:
    """Parse ``clean|respond`` into an :data:`ErrorsSpec`."""
    t = text.strip().lower()
    if t in ERRORS_MODES:
        return t
    raise InterventionError(f"errors mode {text!r}: expected clean or respond")


def parse_freeze(text: str) -> FreezeSpec:
    """Parse ``attention|none|all|A-B`` (inclusive range) into a :data:`FreezeSpec`."""
    t = text.strip().lower()
    if t in ("attention", "none", "all"):
        return t  # type: ignore[return-value]
    parts = t.split("-")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        a, b = int(parts[0]), int(parts[1])
        if a > b:
            raise InterventionError(f"freeze range {text!r}: start is after end")
        return (a, b)
    raise InterventionError(f"freeze mode {text!r}: expected attention, none, all or A-B")


@dataclass
class InterventionResult:
    """Output of one (possibly patched) forward pass.

    Attributes:
        logits: ``[n_pos, vocab]`` float32 logits at every position.
        activations: ``[n_layers, n_pos, d_transcoder]`` recomputed feature activations
            (intervened features keep their unpatched value), or None when not asked for.
        input_ids: The token ids that were run (BOS included).
    """

    logits: npt.NDArray[np.float32]
    activations: npt.NDArray[np.float32] | None
    input_ids: list[int] = field(default_factory=list)


class TokenScore(NamedTuple):
    """One row of a top-k table."""

    token: str
    id: int
    logit: float
    prob: float


PromptOrIds = str | Sequence[int]

InterventionSet = Sequence[Intervention] | npt.NDArray[np.float64]
"""One independent set of interventions: Intervention tuples, or the same as a ``[k, 4]``
array of ``(layer, pos, feature, value)`` rows (no per-entry Python work in the backend)."""


@runtime_checkable
class ReplacementBackend(Protocol):
    """A loaded replacement model. All arrays in and out are numpy."""

    name: str
    model_name: str
    scan: str | list[str] | None

    @property
    def n_layers(self) -> int: ...

    @property
    def d_transcoder(self) -> int: ...

    @property
    def vocab_size(self) -> int: ...

    def tokenize(self, prompt: PromptOrIds) -> list[int]:
        """Token ids as the engine runs them (BOS prepended when the tokenizer omits it)."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (e.g. for a logit target)."""
        ...

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each id decoded on its own."""
        ...

    def top_tokens(self, logits: npt.ArrayLike, k: int = 10) -> list[TokenScore]:
        """The ``k`` highest logits of a ``[vocab]`` row with their softmax probabilities."""
        ...

    def intervene(
        self,
        prompt: PromptOrIds,
        interventions: InterventionSet,
        *,
        freeze: FreezeSpec = "attention",
        errors: ErrorsSpec = "respond",
        return_activations: bool = True,
        apply_activation_function: bool = True,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER,
    ) -> InterventionResult:
        """One forward pass with ``interventions`` applied (empty list = plain run)."""
        ...

    def intervene_batch(
        self,
        prompt: PromptOrIds,
        batch: Sequence[InterventionSet],
        *,
        freeze: FreezeSpec = "attention",
        errors: ErrorsSpec = "respond",
        return_activations: bool = False,
        apply_activation_function: bool = True,
        batch_size: int = 64,
        last_position_only: bool = False,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER,
    ) -> list[InterventionResult]:
        """Many independent intervention sets on one prompt, batched into few forward passes.

        ``last_position_only=True`` gives each result ``logits`` of shape ``[1, vocab]``: the
        last position's row, all that a caller reading ``logits[-1]`` needs (the unembedding
        then runs on that position alone).
        """
        ...

    def trace(
        self,
        prompt: PromptOrIds,
        *,
        max_feature_nodes: int | None = None,
        max_n_logits: int = 10,
        desired_logit_prob: float = 0.95,
        batch_size: int = 512,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER,
    ) -> DenseGraphData:
        """An attribution graph in the engine's dense layout (FORMATS.md §1)."""
        ...

    def check_graph_tokens(self, graph: Graph) -> list[int]:
        """The graph's token ids; ModelLoadError when this tokenizer does not reproduce them."""
        ...

    def close(self) -> None:
        """Release memory; the backend is unusable afterwards."""
        ...
