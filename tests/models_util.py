"""Tiny seeded models and transcoders for the models/ tests (built on disk, nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "small", "red", "blue", "green", "house", "tree", "car", "went", "saw", "it", "was", "in", "of", "is", "up", "down", "fast", "slow", "old", "new", "day", "night", "sun", "moon", "star", "sky", "sea", "river", "hill", "city", "town", "road", "king", "queen", "man", "woman", "boy", "girl", "one", "two", "three", "four", "five"]


def build_tokenizer(out: Path) -> None:
    """A whitespace word-level tokenizer with ``<s>`` as BOS (not added by default)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "<pad>", *WORDS])}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    fast.save_pretrained(out)
    # transformers 5 writes "TokenizersBackend", which 4.x (the engine's pin) cannot read.
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg))


def build_model(out: Path, arch: str = "llama", seed: int = 0, n_layers: int = 3,
                d_model: int = 16, dtype: str = "float32") -> Path:
    """Save a random tiny Llama, Llama 3, Gemma 2, Gemma 3 or Qwen 3 (+ tokenizer) to ``out``.

    ``llama3`` is Llama-3.2's shape: llama3 rope scaling and tied embeddings. Gemma 3 and
    Qwen 3 carry RMSNorms on queries and keys; Gemma 3 mixes sliding and full attention.
    """
    import torch
    from transformers import (
        AutoModelForCausalLM,
        Gemma2Config,
        Gemma3TextConfig,
        LlamaConfig,
        Qwen3Config,
    )

    n_vocab = len(WORDS) + 4
    common = dict(vocab_size=n_vocab, hidden_size=d_model, intermediate_size=2 * d_model,
                  num_hidden_layers=n_layers, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=d_model // 4, max_position_embeddings=64, initializer_range=0.4,
                  bos_token_id=1, eos_token_id=2, pad_token_id=3, tie_word_embeddings=False)
    if arch == "llama":
        cfg = LlamaConfig(**common)
    elif arch == "llama3":
        cfg = LlamaConfig(**{**common, "tie_word_embeddings": True}, rope_parameters={
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8})
    elif arch == "gemma3":
        cfg = Gemma3TextConfig(**common, query_pre_attn_scalar=4, sliding_window=4,
                               layer_types=[("full_attention" if i % 2 else "sliding_attention")
                                            for i in range(n_layers)])
    elif arch == "qwen3":
        cfg = Qwen3Config(**common)
    elif arch == "gemma2":
        cfg = Gemma2Config(**common, final_logit_softcapping=None, query_pre_attn_scalar=4,
                           sliding_window=4, attn_logit_softcapping=50.0)
    else:
        raise ValueError(arch)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg).to(getattr(torch, dtype))
    with torch.no_grad():  # non-trivial norm weights, so norm handling is exercised
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.3 * torch.randn_like(p))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    legacy_rope_keys(out)
    build_tokenizer(out)
    return out


def legacy_rope_keys(model_dir: Path) -> None:
    """Add transformers 4's rope keys beside 5's ``rope_parameters`` in ``config.json``.

    transformers 4.57 (circuit-tracer's pin, used by the parity benchmarks) ignores
    ``rope_parameters`` and would run llama3 scaling or Gemma 3's two bases as defaults;
    transformers 5 builds the same model with or without these keys.
    """
    path = model_dir / "config.json"
    cfg = json.loads(path.read_text())
    rp = cfg.get("rope_parameters")
    if not isinstance(rp, dict):
        return
    if "rope_type" in rp:
        cfg["rope_theta"] = rp.get("rope_theta", 10000.0)
        if rp["rope_type"] != "default":
            cfg["rope_scaling"] = dict(rp)
    elif "full_attention" in rp:
        cfg["rope_theta"] = rp["full_attention"].get("rope_theta", 10000.0)
        if "sliding_attention" in rp:
            cfg["rope_local_base_freq"] = rp["sliding_attention"].get("rope_theta", 10000.0)
    path.write_text(json.dumps(cfg, indent=1))


def build_transcoders(out: Path, kind: str = "plt", *, n_layers: int = 3, d_model: int = 16,
                      n_features: int = 24, jump: bool = False, skip: bool = False,
                      seed: int = 1, input_hook: str = "mlp.hook_in",
                      output_hook: str = "mlp.hook_out") -> Path:
    """Random transcoders in circuit-tracer's on-disk layout (FORMATS.md §4)."""
    import torch
    import yaml
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * scale).contiguous()

    out.mkdir(parents=True, exist_ok=True)
    f, d, L = n_features, d_model, n_layers
    for i in range(L):
        enc = rnd(f, d, scale=d ** -0.5)
        b_enc = rnd(f, scale=0.2) - 0.3
        thr = torch.rand(f, generator=g) * 0.4
        if kind == "plt":
            t = {"W_enc": enc, "W_dec": rnd(f, d, scale=0.3), "b_enc": b_enc,
                 "b_dec": rnd(d, scale=0.1)}
            if jump:
                t["activation_function.threshold"] = thr
            if skip:
                t["W_skip"] = rnd(d, d, scale=0.1)
            save_file(t, str(out / f"layer_{i}.safetensors"))
        else:
            t = {f"W_enc_{i}": enc, f"b_enc_{i}": b_enc, f"b_dec_{i}": rnd(d, scale=0.1)}
            if jump:
                t[f"threshold_{i}"] = thr
            save_file(t, str(out / f"W_enc_{i}.safetensors"))
            save_file({f"W_dec_{i}": rnd(f, L - i, d, scale=0.2)},
                      str(out / f"W_dec_{i}.safetensors"))
    cfg = {"model_kind": "transcoder_set" if kind == "plt" else "cross_layer_transcoder",
           "feature_input_hook": input_hook, "feature_output_hook": output_hook,
           "scan": f"tiny-{kind}"}
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    return out


PROMPT = "the cat sat on the mat and the dog"

_OPENED: dict[tuple[object, ...], object] = {}


def open_tiny(root: Path, arch: str = "llama", kind: str = "plt", **tc_kw: object) -> object:
    """Build (once per process) and open a tiny replacement model with the torch backend."""
    from circuitdesk.models.registry import open_backend

    key = (str(root), arch, kind, tuple(sorted(tc_kw.items())))
    if key not in _OPENED:
        name = f"{arch}-{kind}-" + "-".join(f"{k}{v}" for k, v in sorted(tc_kw.items()))
        model_dir = root / f"model-{arch}"
        if not (model_dir / "config.json").is_file():
            build_model(model_dir, arch=arch)
        tc_dir = build_transcoders(root / name, kind, **tc_kw)  # type: ignore[arg-type]
        _OPENED[key] = open_backend("torch", model_dir=model_dir, transcoders_dir=tc_dir)
    return _OPENED[key]


def assert_frozen_ablations_give_minus_a(b: Any, ids: list[int], g: Any) -> None:
    """With every layer frozen, ablating each selected feature of the traced graph ``g`` moves
    every demeaned logit and every selected feature's pre-activation by exactly −A (FORMATS §5)."""
    import numpy as np
    from circuitdesk.models.protocol import Intervention

    A, n_sel, n_logit = g.adjacency, len(g.selected_features), len(g.logit_tokens)
    feats = g.active_features[g.selected_features]
    base = b.intervene(ids, [], apply_activation_function=False)
    ablations = [[Intervention(int(l), int(p), int(f), 0.0)] for l, p, f in feats]
    runs = b.intervene_batch(ids, ablations, freeze="all", return_activations=True,
                             apply_activation_function=False)
    last_base = base.logits[-1] - base.logits[-1].mean()
    for j, r in enumerate(runs):
        last = r.logits[-1] - r.logits[-1].mean()
        moved_logits = (last - last_base)[np.asarray(g.logit_tokens)]
        np.testing.assert_allclose(moved_logits, -A[-n_logit:, j], atol=1e-5, rtol=0)
        moved_pre = (r.activations - base.activations)[feats[:, 0], feats[:, 1], feats[:, 2]]
        np.testing.assert_allclose(moved_pre, -A[:n_sel, j], atol=1e-5, rtol=0)
