"""Attention while exporting (:mod:`circuitdesk.models.onnx.export`): patterns for some rows only.

The exported graph takes ``pattern_rows``: every row when patterns are live, ``[0]`` when they
are frozen (each row then uses the clean pattern, and row 0's live one is only recorded).
Query rotation, Q·Kᵀ, mask and softmax then cost one row instead of B; the ``[1, H, n, n]``
pattern broadcasts over the batch in the value product. Same maths as
:func:`circuitdesk.models.torch.replacement._attention`; the run is the export's ``_GraphRun``
(``t["pattern_rows"]``, ``rows_taken``, ``on_pattern``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from ..torch.replacement import ReplacementModel

EXPORT_ATTN = "circuitdesk-onnx"  # name of rows_attention in transformers' registries


def rows_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor,
                   value: torch.Tensor, attention_mask: torch.Tensor | None,
                   dropout: float = 0.0, scaling: float | None = None,
                   softcap: float | None = None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention with the pattern computed for ``pattern_rows`` only (see module doc)."""
    run: Any = module._circuitdesk_owner().run  # type: ignore[operator]
    rows = run.t["pattern_rows"]
    if scaling is None:
        scaling = float(getattr(module, "head_dim", query.shape[-1])) ** -0.5
    groups = query.shape[1] // key.shape[1]
    k = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    v = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    if not run.rows_taken:  # else rotary_rows_first already kept just those query/key rows
        query, k = query.index_select(0, rows), k.index_select(0, rows)
    run.rows_taken = False
    w = torch.matmul(query, k.transpose(2, 3))
    w = w * scaling
    if softcap is not None:
        w = torch.tanh(w / softcap) * softcap
    if attention_mask is not None:
        mask = attention_mask[:, :, :, : k.shape[-2]]
        w = w + (mask.index_select(0, rows) if mask.shape[0] != 1 else mask)
    w = nn.functional.softmax(w, dim=-1, dtype=torch.float32).to(query.dtype)
    w = run.on_pattern(module.layer_idx, w)
    return torch.matmul(w, v).transpose(1, 2).contiguous(), w


@contextmanager
def rotary_rows_first(rm: ReplacementModel) -> Iterator[None]:
    """Rotate only the ``pattern_rows`` of query and key (the rest would be thrown away).

    Swaps the ``apply_rotary_pos_emb`` of each attention module's HF file while exporting;
    a model without one still exports (rows are then picked in :func:`rows_attention`).
    """
    saved: list[tuple[Any, Any]] = []
    for mod in {sys.modules[type(block.self_attn).__module__] for block in rm.layers}:
        rotate = getattr(mod, "apply_rotary_pos_emb", None)
        if rotate is None:
            continue

        def rows_first(q: torch.Tensor, k: torch.Tensor, *args: Any, _rotate: Any = rotate,
                       **kw: Any) -> Any:
            run: Any = rm.run  # the export's _GraphRun while exporting
            if not hasattr(run, "rows_taken"):  # not an export run
                return _rotate(q, k, *args, **kw)
            run.rows_taken = True
            rows = run.t["pattern_rows"]
            return _rotate(q.index_select(0, rows), k.index_select(0, rows), *args, **kw)

        saved.append((mod, rotate))
        setattr(mod, "apply_rotary_pos_emb", rows_first)  # noqa: B010 - any HF modeling module
    try:
        yield
    finally:
        for mod, rotate in saved:
            mod.apply_rotary_pos_emb = rotate


def use_attention(hf: Any, name: str) -> None:
    """Switch ``hf`` to attention function ``name`` (registering :func:`rows_attention`)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    if name == EXPORT_ATTN:
        AttentionInterface.register(EXPORT_ATTN, rows_attention)
        AttentionMaskInterface.register(EXPORT_ATTN, eager_mask)
    hf.set_attn_implementation(name)
