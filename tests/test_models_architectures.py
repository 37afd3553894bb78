"""The architectures circuit-tracer supports, as tiny random models: -A check on each.

With every layer frozen, ablating a feature moves each logit and each downstream
pre-activation by exactly minus its adjacency entry (see test_models_direct_effects.py). This
ties hooks, norms, attention and unembedding of each architecture to the tracer.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


from .models_util import PROMPT, assert_frozen_ablations_give_minus_a, open_tiny

pytestmark = pytest.mark.models

CASES = {
    "llama3-clt": ("llama3", "clt", {"jump": True}),
    "llama3-plt-skip": ("llama3", "plt", {"jump": True, "skip": True}),
    "gemma3-clt": ("gemma3", "clt", {"jump": True, "input_hook": "hook_resid_mid",
                                     "output_hook": "hook_mlp_out"}),
    "gemma3-plt-normalized": ("gemma3", "plt", {"input_hook": "ln2.hook_normalized",
                                                "output_hook": "hook_mlp_out"}),
    "gemma2-plt": ("gemma2", "plt", {"jump": True}),
    "qwen3-clt": ("qwen3", "clt", {"jump": True}),
    "qwen3-plt": ("qwen3", "plt", {}),
}
ARCHITECTURES = {"llama3": "LlamaForCausalLM", "gemma2": "Gemma2ForCausalLM",
                 "gemma3": "Gemma3ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("arch")


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_layer_frozen_gives_minus_a(root, case: str) -> None:  # type: ignore[no-untyped-def]
    arch, kind, kw = CASES[case]
    b = open_tiny(root, arch, kind, **kw)
    assert b.config_dict()["original_architecture"] == ARCHITECTURES[arch]
    ids = b.tokenize(PROMPT)
    g = b.trace(ids, max_feature_nodes=24)
    A, sel = g.adjacency, g.selected_features
    n_sel, n_logit = len(sel), len(g.logit_tokens)
    assert n_sel == 24 and np.abs(A[:n_sel, :n_sel]).max() > 0.01
    assert np.abs(A[-n_logit:, :n_sel]).max() > 0.01
    assert_frozen_ablations_give_minus_a(b, ids, g)
