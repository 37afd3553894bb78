"""Does a model fit a graph? Token-level check with a message that says exactly what differs.

A graph that carries ``input_tokens`` is checked by id: the ids must lie in the model's
vocabulary, and the decoded strings are compared only when the file carries real token
strings. An engine-written ``.pt`` read without its tokenizer has its ids stringified as
placeholders (``"1"``, ``"651"`` …); comparing those with the model's ``'<|bos|>'`` would
refuse a graph that the model wrote itself.
"""

from __future__ import annotations

from ..graph.model import Graph
from .protocol import ModelLoadError, ReplacementBackend


def graph_input_ids(backend: ReplacementBackend, graph: Graph) -> list[int]:
    """The token ids to run for ``graph``'s prompt on ``backend``.

    Uses the graph's own ``input_tokens`` when it has them (checked against the vocabulary,
    and against the graph's token strings when those are real strings, not stringified
    ids); otherwise tokenises the prompt and requires the decoded tokens to equal the graph's
    ``prompt_tokens``.

    Raises:
        ModelLoadError: naming the first position where model and graph disagree.
    """
    meta = graph.metadata
    name = backend.model_name
    if meta.input_tokens:
        ids = [int(t) for t in meta.input_tokens]
        outside = [i for i in ids if not 0 <= i < backend.vocab_size]
        if outside:
            raise ModelLoadError(name, f"graph token ids {outside[:5]} are outside this model's "
                                       f"vocabulary (size {backend.vocab_size}): a different model?")
        if has_token_strings(meta.prompt_tokens, ids):
            _compare(name, backend.token_strings(ids), meta.prompt_tokens)
        return ids
    if not meta.prompt:
        raise ModelLoadError(name, "the graph has neither input_tokens nor a prompt")
    ids = backend.tokenize(meta.prompt)
    if meta.prompt_tokens:
        _compare(name, backend.token_strings(ids), meta.prompt_tokens)
    n_pos = graph.n_positions
    if len(ids) != n_pos:
        raise ModelLoadError(name, f"the model makes {len(ids)} tokens of the prompt, the graph "
                                   f"has {n_pos} positions")
    return ids


def has_token_strings(strings: list[str], ids: list[int]) -> bool:
    """True when ``strings`` are decoded tokens, False when empty or just the ids as text."""
    if not strings:
        return False
    return len(strings) != len(ids) or any(s.strip() != str(i) for s, i in zip(strings, ids))


def _compare(name: str, mine: list[str], theirs: list[str]) -> None:
    for pos, (a, b) in enumerate(zip(mine, theirs)):
        if a.strip() != b.strip():
            raise ModelLoadError(name, f"tokenizer mismatch at position {pos}: the model has "
                                       f"{a!r}, the graph has {b!r} (model tokens {mine[:pos + 2]}…)")
    if len(mine) != len(theirs):
        raise ModelLoadError(name, f"tokenizer mismatch: the model makes {len(mine)} tokens, the "
                                   f"graph has {len(theirs)} ({mine} vs {theirs})")
