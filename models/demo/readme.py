"""Write the demo folder's README.md from a build report (see ``demo_builder.build_demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_INTRO = """\
# CircuitDesk demo model

A tiny Llama-architecture language model, its tokenizer and two sets of transcoders,
all trained from scratch by `circuitdesk.models.demo.builder` on a templated corpus
generated in code (capitals, languages, opposites, counting, days of the week).
Nothing here was downloaded. It exists so that CircuitDesk's first launch can open an
attribution graph whose model is on disk, and run every intervention offline.

Licence: MIT, CircuitDesk's own (everything here was made by the builder). The corpus is
synthetic: no third-party text.

## Rebuild

```
python -m circuitdesk.models.demo.builder --out resources/demo --size {size} --seed {seed}
```

Deterministic for a given seed and library versions: the builder runs torch on one
thread, so the summation order does not depend on the core count (two `--size small`
builds gave byte-identical safetensors and tokenizer.json). This build: torch {torch},
transformers {transformers}, tokenizers {tokenizers}; {total_s} s wall on a 2-core CPU
machine shared with other jobs ({model_s} s of it tokenizer + model training).

## Layout

| folder | what | bytes |
|---|---|---|
| `model/` | `LlamaForCausalLM` (`save_pretrained`, safetensors, float32) + `tokenizer.json` / `tokenizer_config.json` | {b_model} |
| `transcoders-plt/` | per-layer transcoders, ReLU (circuit-tracer `transcoder_set`) | {b_plt} |
| `transcoders-clt/` | cross-layer transcoder, JumpReLU (circuit-tracer `cross_layer_transcoder`) | {b_clt} |
| `build_info.json` | every number below, machine-readable | |

## Model

{n_layers} layers, d_model {d_model}, {n_heads} heads (head dim {d_head}), d_mlp {d_mlp}
(SiLU-gated MLP), RMSNorm, RoPE, untied embeddings, vocabulary {vocab}, context
{max_pos}; {n_params:,} parameters. Trained {steps} steps of AdamW (batch {batch}
documents, lr {lr}, cosine decay) on {n_docs} generated documents.

Losses (next-token cross-entropy, nats): first step {l0:.3f}, last 50 steps
{lf:.3f}, held-out documents {lh:.3f}. Most of what remains is the genuine randomness
of the templates (which country, which pair, where a count starts).

### Tokenizer and BOS

Byte-level BPE (`tokenizers`, ByteLevel pre-tokenizer and decoder, no prefix space)
trained on the same corpus. Special tokens: `<pad>` = 0, `<bos>` = 1, `<eos>` = 2.
**The tokenizer adds `<bos>` itself** (a TemplateProcessing post-processor), so
`tokenizer("The capital of France is")` starts with id 1. With
`add_special_tokens=False` it does not, and circuit-tracer then prepends
`bos_token_id` (1); either way the ids are the same. `<bos>` is deliberately not id 0:
circuit-tracer picks the token to prepend with `next(filter(None, [bos, pad, eos, ...]))`,
which skips an id of 0. `tokenizer_config.json` names `PreTrainedTokenizerFast` so
`AutoTokenizer.from_pretrained(model_dir, local_files_only=True)` loads it in
transformers 4.x and 5.x.

### Top-5 next tokens

Plain transformers forward of the saved files (`AutoModelForCausalLM`, tokenizer adds BOS),
probability of the next token at the last position:

{top5}

## Transcoders

Both read `mlp.hook_in` (the input of `layer.mlp`, i.e. the post-attention RMSNorm
output) and write `mlp.hook_out` (the output of `layer.mlp`). Trained on
{n_tok:,} token positions (BOS excluded) of generated documents: Adam on
variance-normalised MSE plus an L1 penalty on activation × decoder norm, then the encoder
frozen and the decoder and `b_dec` refit on plain MSE (removes the L1 shrinkage).

* **PLT** (`transcoders-plt/`, scan `circuitdesk-demo/plt`): {f_plt} features per layer,
  ReLU (no threshold key; `activation: relu` in config.yaml). `layer_{{i}}.safetensors`
  holds `W_enc [F, d]`, `W_dec [F, d]`, `b_enc [F]`, `b_dec [d]`, float32.
* **CLT** (`transcoders-clt/`, scan `circuitdesk-demo/clt`): {f_clt} features per layer,
  JumpReLU. `W_enc_{{i}}.safetensors` holds `W_enc_{{i}} [F, d]`, `b_enc_{{i}} [F]`,
  `b_dec_{{i}} [d]`, `threshold_{{i}} [F]`; `W_dec_{{i}}.safetensors` holds
  `W_dec_{{i}} [F, L-i, d]` (slot k writes to layer i+k). The ReLU-trained encoder got
  a per-feature threshold of {thr_frac} × the feature's mean positive activation before
  the decoder refit; the threshold is calibrated, not learned by gradient.

config.yaml has `model_name`, `model_kind`, `feature_input_hook`, `feature_output_hook`,
`scan` (and `activation` for the PLT), like circuit-tracer's local transcoder cache; the
weight files are found next to it by name.

Checked by hand for the shipped build: circuit-tracer's own loaders
(`load_transcoders_from_cache` on each folder, with transformers 4.57.3 loading the
model and tokenizer) read both sets, and their reconstructions on "The capital of
France is" explain 0.97-1.0 of each layer's MLP output variance.

Quality on the training positions (FVE = fraction of the MLP output's variance
explained; L0 = mean active features per token; alive = share of features active at
least once):

{quality}
"""


def _top5_table(top5: dict[str, list[list[Any]]]) -> str:
    lines = []
    for prompt, preds in top5.items():
        cells = ", ".join(f"`{tok!r}` {p:.3f}" for tok, p in preds)
        lines.append(f"* `{prompt}` → {cells}")
    return "\n".join(lines)


def _quality_table(quality: dict[str, dict[str, list[float]]]) -> str:
    rows = ["| set | layer | FVE | L0 | alive |", "|---|---|---|---|---|"]
    for kind, q in quality.items():
        for layer, (fve, l0, alive) in enumerate(zip(q["fve"], q["l0"], q["alive"])):
            rows.append(f"| {kind.upper()} | {layer} | {fve:.3f} | {l0:.1f} | {alive:.2f} |")
    return "\n".join(rows)


def write_readme(path: Path, report: dict[str, Any]) -> None:
    """Render README.md for one build report."""
    c = report["config"]
    text = _INTRO.format(
        size=report["size"], seed=report["seed"], **report["versions"],
        total_s=report["seconds"]["total"], model_s=report["seconds"]["model"],
        b_model=f"{report['bytes']['model']:,}", b_plt=f"{report['bytes']['transcoders-plt']:,}",
        b_clt=f"{report['bytes']['transcoders-clt']:,}",
        n_layers=c["n_layers"], d_model=c["d_model"], n_heads=c["n_heads"],
        d_head=c["d_model"] // c["n_heads"], d_mlp=c["d_mlp"], vocab=report["vocab_size"],
        max_pos=c["max_positions"], n_params=report["n_parameters"], steps=c["steps"],
        batch=c["batch"], lr=c["lr"], n_docs=c["n_docs"],
        l0=report["losses"]["initial_loss"], lf=report["losses"]["final_train_loss"],
        lh=report["losses"]["held_out_loss"], top5=_top5_table(report["top5"]),
        n_tok=report["n_tokens_transcoder_data"], f_plt=c["plt"]["n_features"],
        f_clt=c["clt"]["n_features"], thr_frac=c["clt"]["threshold_frac"],
        quality=_quality_table(report["transcoders"]))
    path.write_text(text, encoding="utf-8")
