"""Run circuit-tracer (the engine) on a local model + transcoders and save its numbers.

Run with a Python that has circuit-tracer installed (a separate venv, e.g. /work/ctvenv):

    python benchmarks/ct_reference.py MODEL_DIR TRANSCODER_DIR REQUEST.json OUT.npz

REQUEST.json: {"ids": [...], "max_feature_nodes": int|null, "batch_size": int,
"interventions": [[layer, pos, feature, value], ...], "freezes": ["attention", "none", "all"]}.
OUT.npz holds the engine graph's fields and, per freeze mode, the logits and activations
of one ``feature_intervention`` call, plus timings. Used by benchmarks/bench_models.py;
never by the tests.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml


def load(model_dir: str, tc_dir: str):  # type: ignore[no-untyped-def]
    from circuit_tracer.replacement_model import ReplacementModel
    from circuit_tracer.transcoder.cross_layer_transcoder import load_clt
    from circuit_tracer.transcoder.single_layer_transcoder import load_transcoder_set

    cfg = yaml.safe_load((Path(tc_dir) / "config.yaml").read_text())
    dev = torch.device("cpu")
    if cfg["model_kind"] == "transcoder_set":
        n = len(list(Path(tc_dir).glob("layer_*.safetensors")))
        paths = {i: str(Path(tc_dir) / f"layer_{i}.safetensors") for i in range(n)}
        tcs = load_transcoder_set(paths, scan=cfg.get("scan"),
                                  feature_input_hook=cfg["feature_input_hook"],
                                  feature_output_hook=cfg["feature_output_hook"],
                                  device=dev, dtype=torch.float32, lazy_encoder=False,
                                  lazy_decoder=False)
    else:
        tcs = load_clt(tc_dir, feature_input_hook=cfg["feature_input_hook"],
                       feature_output_hook=cfg["feature_output_hook"], scan=cfg.get("scan"),
                       device=dev, dtype=torch.float32, lazy_decoder=False)
    return ReplacementModel.from_pretrained_and_transcoders(
        model_dir, tcs, backend="nnsight", device=dev, dtype=torch.float32)


def _patch_tokenizer(model) -> None:  # type: ignore[no-untyped-def]
    """The engine's unfrozen nnsight path calls ``tokenizer(tensor)`` to count positions."""
    orig = model.tokenizer

    class _Tok:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(orig, name)

        def __call__(self, x, *a, **kw):  # type: ignore[no-untyped-def]
            if isinstance(x, torch.Tensor):
                from types import SimpleNamespace
                return SimpleNamespace(input_ids=x.reshape(-1).tolist())
            return orig(x, *a, **kw)

    model.tokenizer = _Tok()


def main() -> int:
    from circuit_tracer import attribute

    model_dir, tc_dir, req_path, out = sys.argv[1:5]
    req = json.loads(Path(req_path).read_text())
    t0 = time.perf_counter()
    model = load(model_dir, tc_dir)
    res: dict[str, np.ndarray] = {"load_s": np.array(time.perf_counter() - t0)}
    ids = torch.tensor(req["ids"])
    res["engine_ids"] = model.ensure_tokenized(ids).numpy()
    t0 = time.perf_counter()
    g = attribute(ids, model, max_feature_nodes=req.get("max_feature_nodes"),
                  batch_size=req.get("batch_size", 512))
    res["trace_s"] = np.array(time.perf_counter() - t0)
    res["adjacency"] = g.adjacency_matrix.float().numpy()
    res["active_features"] = g.active_features.numpy()
    res["activation_values"] = g.activation_values.float().numpy()
    res["selected_features"] = g.selected_features.numpy()
    res["logit_tokens"] = np.array([t.vocab_idx for t in g.logit_targets])
    res["logit_probabilities"] = g.logit_probabilities.float().numpy()
    ivs = [tuple(x) for x in req["interventions"]]
    _patch_tokenizer(model)
    n = model.cfg.n_layers
    for mode in req["freezes"]:
        kw = {"freeze_attention": mode != "none",
              "constrained_layers": range(n) if mode == "all" else None}
        t0 = time.perf_counter()
        logits, acts = model.feature_intervention(ids, ivs, **kw)
        res[f"time_{mode}"] = np.array(time.perf_counter() - t0)
        res[f"logits_{mode}"] = logits[0].float().numpy()
        res[f"acts_{mode}"] = acts.float().numpy()
    np.savez(out, **res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
