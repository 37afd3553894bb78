"""Build CircuitDesk's bundled demo: a tiny Llama, its tokenizer and two transcoder sets.

The output directory gets the layouts the model loaders read::

    model/              LlamaForCausalLM (safetensors, float32) + tokenizer.json/_config.json
    transcoders-plt/    per-layer transcoders, ReLU   (circuit-tracer transcoder_set)
    transcoders-clt/    cross-layer transcoder, JumpReLU (circuit-tracer cross_layer_transcoder)
    build_info.json     sizes, losses, transcoder quality, top-5 predictions
    README.md           the same, for people

Run ``python -m circuitdesk.models.demo.builder --out DIR [--size small|demo]``.
Everything is generated here from a seed: corpus, tokenizer, model, transcoders.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...graph.cancel import NEVER, CancelToken, Progress, no_progress
from .corpus import DEMO_PROMPTS, documents, vocabulary_text
from .transcoders import TranscoderSpec

BOS, EOS, PAD = "<bos>", "<eos>", "<pad>"
# <pad> gets id 0 and <bos> id 1 on purpose: circuit-tracer picks the BOS it prepends with
# next(filter(None, [bos_id, ...])), which would skip a BOS whose id is 0.
SPECIAL_TOKENS = (PAD, BOS, EOS)
PLT_SCAN = "circuitdesk-demo/plt"
CLT_SCAN = "circuitdesk-demo/clt"
MODEL_NAME = "circuitdesk-demo/tiny-llama"


@dataclass(frozen=True)
class DemoSize:
    """Everything that differs between the shipped demo and the test-sized build."""

    vocab_size: int
    n_layers: int
    d_model: int
    n_heads: int
    d_mlp: int
    max_positions: int
    n_docs: int
    steps: int
    batch: int
    lr: float
    act_docs: int
    plt: TranscoderSpec
    clt: TranscoderSpec


SIZES: dict[str, DemoSize] = {
    "demo": DemoSize(
        vocab_size=1024, n_layers=4, d_model=64, n_heads=4, d_mlp=256, max_positions=64,
        n_docs=20000, steps=1000, batch=64, lr=3e-3, act_docs=1500,
        # l1 picked on this corpus: PLT 1.0 -> L0 ~10-15, FVE > 0.97; CLT 3.0 -> L0 ~5-13.
        plt=TranscoderSpec(n_features=256, steps=600, refit_steps=150, batch=256, lr=3e-3,
                           l1=1.0),
        clt=TranscoderSpec(n_features=256, steps=600, refit_steps=150, batch=256, lr=3e-3,
                           l1=3.0),
    ),
    "small": DemoSize(
        vocab_size=400, n_layers=2, d_model=32, n_heads=2, d_mlp=64, max_positions=64,
        n_docs=2000, steps=150, batch=32, lr=5e-3, act_docs=200,
        plt=TranscoderSpec(n_features=32, steps=100, refit_steps=30, batch=128, lr=3e-3,
                           l1=0.3),
        clt=TranscoderSpec(n_features=32, steps=100, refit_steps=30, batch=128, lr=3e-3,
                           l1=0.3),
    ),
}


def train_tokenizer(vocab_size: int, docs: list[str], max_length: int) -> Any:
    """Byte-level BPE with ``<bos>`` added by a post-processor, as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(vocabulary_text() + docs, trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)])
    fast = PreTrainedTokenizerFast  # untyped in transformers 5
    return fast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,  # type: ignore[no-untyped-call]
                pad_token=PAD, model_max_length=max_length)


def _encode_docs(tokenizer: Any, docs: list[str], max_len: int) -> list[list[int]]:
    """BOS + tokens + EOS per document, cut to ``max_len``."""
    ids = tokenizer(docs)["input_ids"]
    return [(row + [tokenizer.eos_token_id])[:max_len] for row in ids]


def _batch(rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Right-pad to the longest row; labels are -100 on padding so it never counts."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, :len(r)] = torch.tensor(r)
        labels[k, :len(r)] = torch.tensor(r)
    return ids, labels


def make_model(size: DemoSize, tokenizer: Any) -> Any:
    """A freshly initialised LlamaForCausalLM (float32, untied embeddings)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=size.d_model, intermediate_size=size.d_mlp,
        num_hidden_layers=size.n_layers, num_attention_heads=size.n_heads,
        num_key_value_heads=size.n_heads, max_position_embeddings=size.max_positions,
        rms_norm_eps=1e-5, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False, dtype="float32")
    return LlamaForCausalLM(config)


def train_model(model: Any, rows: list[list[int]], size: DemoSize, seed: int, pad_id: int,
                progress: Progress, cancel: CancelToken) -> dict[str, float]:
    """AdamW with linear warm-up and cosine decay; returns first/last losses."""
    import math

    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=size.lr, weight_decay=0.01,
                            betas=(0.9, 0.98))
    warm = max(1, size.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / size.steps))))
    model.train()
    losses: list[float] = []
    for step in range(size.steps):
        if step % 10 == 0:
            cancel.check()
            progress(step / size.steps, "training model")
        pick = torch.randint(0, len(rows), (size.batch,), generator=gen).tolist()
        ids, labels = _batch([rows[k] for k in pick], pad_id)
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    tail = losses[-50:]
    return {"initial_loss": losses[0], "final_train_loss": sum(tail) / len(tail)}


def eval_loss(model: Any, rows: list[list[int]], pad_id: int) -> float:
    """Mean next-token cross-entropy over held-out documents (token-weighted)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(rows), 64):
            ids, labels = _batch(rows[k:k + 64], pad_id)
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return total / max(count, 1)


def collect_mlp_activations(model: Any, rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """MLP inputs and outputs ``[L, N, d]`` over real tokens, BOS position excluded.

    The input is what ``layer.mlp`` receives (the post-attention RMSNorm output, the
    engine's ``mlp.hook_in``); the output is what it returns (``mlp.hook_out``).
    """
    import torch

    layers = model.model.layers
    ins: list[list[Any]] = [[] for _ in layers]
    outs: list[list[Any]] = [[] for _ in layers]
    keep: list[Any] = []

    def hook(i: int) -> Any:
        def _h(_mod: Any, args: tuple[Any, ...], out: Any) -> None:
            ins[i].append(args[0][keep[-1]])
            outs[i].append(out[keep[-1]])
        return _h

    handles = [layer.mlp.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            for k in range(0, len(rows), 64):
                ids, _ = _batch(rows[k:k + 64], pad_id)
                mask = ids != pad_id
                mask[:, 0] = False  # BOS: the engine zeroes features there
                keep.append(mask)
                model(input_ids=ids)
    finally:
        for h in handles:
            h.remove()
    return (torch.stack([torch.cat(a) for a in ins]), torch.stack([torch.cat(a) for a in outs]))


def top_predictions(model_dir: Path, k: int = 5) -> dict[str, list[tuple[str, float]]]:
    """Reload the saved model with plain transformers and list top-k next tokens per prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    with _no_hf_progress_bars():
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    model.eval()  # type: ignore[no-untyped-call]
    result = {}
    with torch.no_grad():
        for prompt, _ in DEMO_PROMPTS:
            ids = tok(prompt, return_tensors="pt")["input_ids"]
            probs = model(input_ids=ids).logits[0, -1].softmax(-1)
            p, idx = probs.topk(k)
            result[prompt] = [(str(tok.decode([int(i)])), float(v)) for v, i in zip(p, idx)]
    return result


def _transcoder_config(kind: str) -> dict[str, Any]:
    """config.yaml contents, in the keys circuit-tracer's cache loader reads."""
    config: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "model_kind": "transcoder_set" if kind == "plt" else "cross_layer_transcoder",
        "feature_input_hook": "mlp.hook_in",
        "feature_output_hook": "mlp.hook_out",
        "scan": PLT_SCAN if kind == "plt" else CLT_SCAN,
    }
    if kind == "plt":
        config["activation"] = "relu"
    # No "transcoders" list: like circuit-tracer's local cache, the loaders find the
    # safetensors files next to config.yaml by name.
    return config


@contextlib.contextmanager
def _no_hf_progress_bars() -> Iterator[None]:
    """save/from_pretrained draw tqdm bars on stderr; work functions must not print."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _save_model(model: Any, tokenizer: Any, model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    with _no_hf_progress_bars():
        model.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    # A class name transformers 4.x also knows (5.x writes its internal "TokenizersBackend").
    cfg_path = model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_demo(out_dir: str | Path, size: str = "demo", seed: int = 0, *,
               progress: Progress = no_progress, cancel: CancelToken = NEVER) -> dict[str, Any]:
    """Generate corpus, tokenizer, model and both transcoder sets into ``out_dir``.

    Runs torch on one intra-op thread for the duration (restored afterwards): at these
    sizes thread synchronisation costs more than it saves (5-7x slower steps with 2
    threads on a busy 2-core machine), and the float summation order, hence the result,
    then does not depend on the machine's core count. The global RNG state is restored.

    Args:
        out_dir: Folder to write (created; existing files of the same names are replaced).
        size: ``"demo"`` (the shipped build, a few minutes on 2 cores) or ``"small"``
            (test-sized, seconds).
        seed: Seeds the corpus, the initialisations and the batch order.
        progress: Receives ``(fraction, phase)``.
        cancel: Checked between batches; raises ``Cancelled``.

    Returns:
        The build report also written to ``build_info.json``.
    """
    import torch

    from .readme import write_readme

    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}; expected one of {sorted(SIZES)}")
    cfg = SIZES[size]
    out = Path(out_dir)
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model, tokenizer, losses, act_rows = _build_model(out, cfg, seed, progress, cancel)
            t_model = time.perf_counter() - t0
            n_tok, quality = _build_transcoders(out, cfg, seed, model, act_rows, progress,
                                                cancel)
            progress(0.98, "checking the saved model")
            top5 = top_predictions(out / "model")
    finally:
        torch.set_num_threads(threads)
    report: dict[str, Any] = {
        "size": size, "seed": seed, "config": asdict(cfg), "vocab_size": len(tokenizer),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "n_tokens_transcoder_data": n_tok, "losses": losses, "transcoders": quality,
        "top5": top5,
        "seconds": {"model": round(t_model, 1), "total": round(time.perf_counter() - t0, 1)},
        "versions": {"torch": torch.__version__, "transformers": _version("transformers"),
                     "tokenizers": _version("tokenizers")},
        "bytes": {name: _dir_bytes(out / name)
                  for name in ("model", "transcoders-plt", "transcoders-clt")},
    }
    (out / "build_info.json").write_text(json.dumps(report, indent=2) + "\n")
    write_readme(out / "README.md", report)
    progress(1.0, "done")
    return report


def _build_model(out: Path, cfg: DemoSize, seed: int, progress: Progress,
                 cancel: CancelToken) -> tuple[Any, Any, dict[str, float], list[list[int]]]:
    """Corpus, tokenizer and model; saves ``model/``. Also returns rows for activations."""
    progress(0.0, "tokenizer")
    docs = documents(cfg.n_docs, seed)
    held_out = documents(max(200, cfg.n_docs // 20), seed + 1)
    tokenizer = train_tokenizer(cfg.vocab_size, docs, cfg.max_positions)
    rows = _encode_docs(tokenizer, docs, cfg.max_positions)
    held_rows = _encode_docs(tokenizer, held_out, cfg.max_positions)
    model = make_model(cfg, tokenizer)
    pad = tokenizer.pad_token_id
    losses = train_model(model, rows, cfg, seed, pad,
                         lambda f, p: progress(0.05 + 0.55 * f, p), cancel)
    losses["held_out_loss"] = eval_loss(model, held_rows, pad)
    _save_model(model, tokenizer, out / "model")
    return model, tokenizer, losses, held_rows[:cfg.act_docs] + rows[:cfg.act_docs]


def _build_transcoders(out: Path, cfg: DemoSize, seed: int, model: Any,
                       rows: list[list[int]], progress: Progress,
                       cancel: CancelToken) -> tuple[int, dict[str, Any]]:
    """Train and save both transcoder sets; returns (#positions trained on, quality)."""
    from .transcoders import evaluate, save_clt, save_plt, train_transcoder

    progress(0.6, "collecting MLP activations")
    x, y = collect_mlp_activations(model, rows, model.config.pad_token_id)
    quality: dict[str, Any] = {}
    for k, (kind, spec) in enumerate((("plt", cfg.plt), ("clt", cfg.clt))):
        cross = kind == "clt"
        tw = train_transcoder(x, y, spec, cross=cross, seed=seed + 10 + k, cancel=cancel,
                              progress=lambda f, p, k=k: progress(0.62 + 0.18 * (k + f), p))
        quality[kind] = evaluate(x, y, tw, cross)
        saver = save_clt if cross else save_plt
        saver(tw, out / f"transcoders-{kind}", _transcoder_config(kind))
    return int(x.shape[1]), quality


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m circuitdesk.models.demo.builder --out DIR [--size ...]``."""
    parser = argparse.ArgumentParser(description="Build CircuitDesk's bundled demo model.")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    last = [-1.0]

    def show(fraction: float, phase: str) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            print(f"{fraction:5.0%}  {phase}", flush=True)

    report = build_demo(args.out, args.size, args.seed, progress=show)
    print(json.dumps({k: report[k] for k in ("losses", "top5", "bytes", "seconds")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
