"""A replacement model at real size: random Llama-3.2-1B shape + an 8192-feature/layer CLT.

    python benchmarks/bench_realsize.py [--workdir DIR] [--dtype float32|bfloat16]
        [--k 32] [--ct-python /path/to/python-with-circuit-tracer]

Builds (unless ``--workdir`` already holds them) a random Llama-3.2-1B-shaped model (16 layers,
d_model 2048, d_mlp 8192, vocab 128256, tied embeddings, bf16 safetensors, ~2.5 GB) and a
cross-layer transcoder of 8192 features per layer (bf16, ~4.8 GB) in a temporary folder that is
deleted afterwards (about 7.5 GB of disk: check ``df -h`` first). Then, each in a fresh process
so peak RSS means something, it measures CircuitDesk's torch backend and, when a Python with
circuit-tracer is given (or ``$CIRCUITDESK_CT_PYTHON`` is set), circuit-tracer's nnsight
backend with lazy decoders on the same files:

* end to end: from starting the process to the first intervention's logits, imports
  included (what one ``circuitdesk intervene`` costs);
* load time (imports done before the clock starts, on both sides); one intervention (the
  first on a prompt, clean run included, and a repeat); wall and CPU seconds;
* a sweep of K single-feature ablations (CircuitDesk: one batch; circuit-tracer: K calls);
* peak RSS overall and during the interventions only (``/proc/self/clear_refs`` resets it
  after loading), against the aim "model + encoders + 1 GiB";
* the patched top-10 tokens of both, and the time / memory ratios (aims: ≤ 0.5×, ≤ 0.8×).

With ``--repeat N`` the two sides run alternately N times each and the medians are reported
(the machine may be shared: CPU seconds are steadier than wall seconds there).

Ratios, never timed assertions; the tests do not run this.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GIB = 1 << 30
PROMPT = "the cat sat on the"  # 6 tokens with the BOS


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _hwm() -> int:
    """VmHWM (peak RSS since the last reset) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return _peak_rss()


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build(work: Path, *, layers: int, d: int, d_mlp: int, vocab: int, features: int) -> None:
    """Write the random model and transcoder (bf16) into ``work`` layer by layer."""
    import torch
    import yaml
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.models_util import build_tokenizer, legacy_rope_keys

    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=d, intermediate_size=d_mlp, num_hidden_layers=layers,
        num_attention_heads=32, num_key_value_heads=8, head_dim=d // 32,
        max_position_embeddings=131072, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        pad_token_id=3, rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                         "factor": 32.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 8192})
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(work / "model")
    del model
    gc.collect()
    legacy_rope_keys(work / "model")
    build_tokenizer(work / "model")
    tc = work / "clt"
    tc.mkdir()
    g = torch.Generator().manual_seed(1)
    for i in range(layers):
        save_file({f"W_enc_{i}": (torch.randn(features, d, generator=g) / d ** 0.5).bfloat16(),
                   f"b_enc_{i}": (torch.randn(features, generator=g) * 0.2 - 0.3).bfloat16(),
                   f"b_dec_{i}": (torch.randn(d, generator=g) * 0.01).bfloat16(),
                   f"threshold_{i}": (torch.rand(features, generator=g) * 0.4).bfloat16()},
                  str(tc / f"W_enc_{i}.safetensors"))
        dec = torch.empty(features, layers - i, d, dtype=torch.bfloat16)
        for j in range(0, features, 1024):  # bounded scratch memory
            dec[j:j + 1024] = torch.randn(min(1024, features - j), layers - i, d,
                                          generator=g) * 0.01
        save_file({f"W_dec_{i}": dec}, str(tc / f"W_dec_{i}.safetensors"))
        del dec
    (tc / "config.yaml").write_text(yaml.safe_dump({
        "model_kind": "cross_layer_transcoder", "feature_input_hook": "mlp.hook_in",
        "feature_output_hook": "mlp.hook_out", "scan": "bench/realsize-clt"}))


def _timed(fn: Any, cpu: dict[str, float] | None = None, key: str = "") -> tuple[float, Any]:
    t0, c0 = time.perf_counter(), _cpu()
    out = fn()
    if cpu is not None:
        cpu[key] = round(_cpu() - c0, 2)
    return time.perf_counter() - t0, out


def measure_circuitdesk(work: Path, dtype: str, k: int, spawned: float) -> dict[str, Any]:
    """Our numbers, in this (fresh) process."""
    import numpy as np
    import torch
    import transformers  # noqa: F401 - imports before the load clock, as for circuit-tracer
    from circuitdesk.models.protocol import Intervention
    from circuitdesk.models.registry import open_backend
    from circuitdesk.models.torch import backend as _backend  # noqa: F401

    cpu: dict[str, float] = {}
    load_s, b = _timed(lambda: open_backend("torch", model_dir=work / "model",
                                            transcoders_dir=work / "clt", device="cpu",
                                            dtype=dtype), cpu, "load")
    ids = b.tokenize(PROMPT)
    first = [Intervention(b.n_layers // 4, len(ids) - 1, 0, 0.0)]  # any one costs the same
    _timed(lambda: b.intervene(ids, first, return_activations=False), cpu, "first")
    end_to_end = time.time() - spawned
    b._clean = None
    rss_loaded = _hwm()
    rm, tc = b.rm, b.rm.tc
    # Weights kept in the file's dtype are buffers named "stored" (models/torch/stored_weights).
    weights = [*rm.hf.parameters(), *(t for n, t in rm.hf.named_buffers() if n.endswith("stored"))]
    model_bytes = sum(p.numel() * p.element_size() for p in weights)
    enc_bytes = sum(t.numel() * t.element_size() for t in (tc.w_enc, tc.b_enc, tc.threshold,
                                                           tc.b_dec, tc.w_skip) if t is not None)
    reset = _reset_hwm()
    base = b.intervene(ids, [], return_activations=True)
    active = np.argwhere(base.activations[:, 1:] > 0)  # features off the BOS
    active[:, 1] += 1
    layer, pos, feat = (int(x) for x in active[np.argmax(base.activations[
        active[:, 0], active[:, 1], active[:, 2]])])
    one = [Intervention(layer, pos, feat, 0.0)]
    b._clean = None
    cold_s, r = _timed(lambda: b.intervene(ids, one, return_activations=False), cpu, "cold")
    warm_s, _ = _timed(lambda: b.intervene(ids, one, return_activations=False), cpu, "warm")
    sweep = [[Intervention(int(l), int(p), int(f), 0.0)] for l, p, f in active[:k]]
    sweep_s, _ = _timed(lambda: b.intervene_batch(ids, sweep, batch_size=len(sweep),
                                                  return_activations=False), cpu, "sweep")
    top = [int(i) for i in np.argsort(-r.logits[-1])[:10]]
    return {
        "dtype": dtype, "threads": torch.get_num_threads(), "n_pos": len(ids),
        "end_to_end_s": round(end_to_end, 2), "cpu_s": cpu,
        "load_s": round(load_s, 2), "intervention_cold_s": round(cold_s, 2),
        "intervention_s": round(warm_s, 2), "sweep_k": len(sweep), "sweep_s": round(sweep_s, 2),
        "model_gib": round(model_bytes / GIB, 3), "encoders_gib": round(enc_bytes / GIB, 3),
        "aim_gib": round((model_bytes + enc_bytes + GIB) / GIB, 3),
        "peak_rss_after_load_gib": round(rss_loaded / GIB, 3),
        "peak_rss_interventions_gib": round(_hwm() / GIB, 3) if reset else None,
        "peak_rss_gib": round(_peak_rss() / GIB, 3),
        "intervention": [layer, pos, feat, 0.0], "sweep": active[:k].tolist(),
        "input_ids": ids, "patched_top10": top,
    }


def measure_circuit_tracer(work: Path, dtype: str, iv: list[Any], sweep: list[Any],
                           ids: list[int], spawned: float) -> dict[str, Any]:
    """circuit-tracer 0.5's numbers on the same files (run under a Python that has it)."""
    import torch
    import yaml
    from circuit_tracer.replacement_model import (
        ReplacementModel,
        replacement_model_nnsight,  # noqa: F401
    )
    from circuit_tracer.transcoder.cross_layer_transcoder import load_clt

    dt = getattr(torch, dtype)
    cfg = yaml.safe_load((work / "clt" / "config.yaml").read_text())

    def load() -> Any:
        clt = load_clt(str(work / "clt"), feature_input_hook=cfg["feature_input_hook"],
                       feature_output_hook=cfg["feature_output_hook"], scan=cfg["scan"],
                       device=torch.device("cpu"), dtype=dt, lazy_decoder=True)
        return ReplacementModel.from_pretrained_and_transcoders(
            str(work / "model"), clt, backend="nnsight", device=torch.device("cpu"), dtype=dt)

    cpu: dict[str, float] = {}
    load_s, model = _timed(load, cpu, "load")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ct_reference import _patch_tokenizer

    _patch_tokenizer(model)  # its nnsight path tokenizes a tensor of ids
    reset = _reset_hwm()
    t = torch.tensor(ids)
    one_s, (logits, _) = _timed(lambda: model.feature_intervention(t, [tuple(iv)]), cpu, "cold")
    end_to_end = time.time() - spawned
    warm_s, _ = _timed(lambda: model.feature_intervention(t, [tuple(iv)]), cpu, "warm")
    sweep_s, _ = _timed(lambda: [model.feature_intervention(t, [(*s, 0.0)]) for s in sweep],
                        cpu, "sweep")
    top = [int(i) for i in torch.argsort(-logits[0, -1].float())[:10]]
    return {"end_to_end_s": round(end_to_end, 2), "cpu_s": cpu,
            "load_s": round(load_s, 2), "intervention_s": round(one_s, 2),
            "intervention_warm_s": round(warm_s, 2), "sweep_s": round(sweep_s, 2),
            "peak_rss_interventions_gib": round(_hwm() / GIB, 3) if reset else None,
            "peak_rss_gib": round(_peak_rss() / GIB, 3), "patched_top10": top}


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([*args, "--spawned", repr(time.time())], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} {args[-3] if '--child-args' in args else args[-1]} "
                         f"failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers (also inside nested tables) as the median over runs; the rest from run 0."""
    import statistics

    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = _median([r[key] for r in runs])
        elif isinstance(value, float):
            out[key] = round(statistics.median(r[key] for r in runs), 3)
        else:
            out[key] = value
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="build here (or reuse what is here) and keep it")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1, help="alternate runs per side (medians)")
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--d-model", type=int, default=2048)
    ap.add_argument("--d-mlp", type=int, default=8192)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--features", type=int, default=8192)
    ap.add_argument("--ct-python", default=os.environ.get("CIRCUITDESK_CT_PYTHON"))
    ap.add_argument("--child", choices=["circuitdesk", "circuit-tracer"], help=argparse.SUPPRESS)
    ap.add_argument("--child-args", help=argparse.SUPPRESS)
    ap.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        work = Path(args.workdir)
        if args.child == "circuitdesk":
            res = measure_circuitdesk(work, args.dtype, args.k, args.spawned)
        else:
            c = json.loads(args.child_args)
            res = measure_circuit_tracer(work, args.dtype, c["iv"], c["sweep"], c["ids"],
                                         args.spawned)
        print(json.dumps(res))
        return 0
    tmp = None if args.workdir else tempfile.mkdtemp(prefix="circuitdesk-realsize-")
    work = Path(args.workdir or tmp)  # type: ignore[arg-type]
    try:
        report: dict[str, Any] = {"workdir": str(work)}
        if not (work / "clt" / "config.yaml").is_file():
            work.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            build(work, layers=args.layers, d=args.d_model, d_mlp=args.d_mlp, vocab=args.vocab,
                  features=args.features)
            report["build_s"] = round(time.perf_counter() - t0, 1)
        report["disk_gib"] = round(sum(p.stat().st_size for p in work.rglob("*")
                                       if p.is_file()) / GIB, 2)
        base = [__file__, "--workdir", str(work), "--dtype", args.dtype, "--k", str(args.k)]
        mine: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for _ in range(max(1, args.repeat)):
            mine.append(_child([sys.executable, *base, "--child", "circuitdesk"]))
            if args.ct_python:
                c = {"iv": mine[0]["intervention"], "sweep": mine[0]["sweep"],
                     "ids": mine[0]["input_ids"]}
                theirs.append(_child([args.ct_python, *base, "--child", "circuit-tracer",
                                      "--child-args", json.dumps(c)]))
        ours = report["circuitdesk"] = _median(mine)
        report["runs"] = len(mine)
        report["within_aim"] = (ours["peak_rss_interventions_gib"] or ours["peak_rss_gib"]) \
            <= ours["aim_gib"]
        if theirs:
            ct = report["circuit_tracer"] = _median(theirs)
            report["ratios"] = {
                "end_to_end_time": round(ours["end_to_end_s"] / ct["end_to_end_s"], 3),
                "load_time": round(ours["load_s"] / ct["load_s"], 3),
                "intervention_time": round(ours["intervention_cold_s"] / ct["intervention_s"], 3),
                "intervention_cpu": round(ours["cpu_s"]["cold"] / ct["cpu_s"]["cold"], 3),
                "sweep_time": round(ours["sweep_s"] / ct["sweep_s"], 3),
                "peak_rss": round(ours["peak_rss_gib"] / ct["peak_rss_gib"], 3),
                "same_top10": all(m["patched_top10"] == t["patched_top10"]
                                  for m, t in zip(mine, theirs))}
        for key in ("sweep", "input_ids"):
            ours.pop(key)
        print(json.dumps(report, indent=1))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
