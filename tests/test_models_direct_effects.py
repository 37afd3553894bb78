"""With every layer constrained, ablating a feature moves each target by −A[target, source].

This ties the tracer (rows of the adjacency) to the intervention code (freeze modes) on tiny
seeded random models: demeaned logits and downstream pre-activations, FORMATS.md §5.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


from .models_util import PROMPT, assert_frozen_ablations_give_minus_a, open_tiny

pytestmark = pytest.mark.models

CASES = {
    "llama-plt-relu": ("llama", "plt", {}),
    "llama-plt-jumprelu": ("llama", "plt", {"jump": True}),
    "llama-plt-skip": ("llama", "plt", {"jump": True, "skip": True}),
    "llama-plt-resid-mid": ("llama", "plt", {"input_hook": "hook_resid_mid",
                                             "output_hook": "hook_mlp_out"}),
    "llama-clt-relu": ("llama", "clt", {}),
    "llama-clt-jumprelu": ("llama", "clt", {"jump": True}),
    "gemma2-clt-jumprelu": ("gemma2", "clt", {"jump": True}),
    "gemma2-plt-normalized": ("gemma2", "plt", {"input_hook": "ln2.hook_normalized",
                                                "output_hook": "hook_mlp_out"}),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("direct")


@pytest.mark.parametrize("case", sorted(CASES))
def test_ablation_equals_minus_adjacency(root, case: str) -> None:  # type: ignore[no-untyped-def]
    arch, kind, kw = CASES[case]
    b = open_tiny(root, arch, kind, **kw)
    ids = b.tokenize(PROMPT)
    g = b.trace(ids, max_feature_nodes=48)  # a selected subset keeps the test quick
    A, sel = g.adjacency, g.selected_features
    n_sel = len(sel)
    assert n_sel == 48 and np.abs(A[:n_sel, :n_sel]).max() > 0.05
    assert_frozen_ablations_give_minus_a(b, ids, g)
