"""``circuitdesk export-onnx --model DIR --transcoders DIR -o OUT.onnx [--name NAME]``.

Writes a replacement model (model + transcoders) as one ONNX file plus
``OUT.tokenizer.json`` beside it, for the onnxruntime backend (no torch needed to run it).
Also holds the ``--onnx FILE`` option that ``intervene`` and ``verify`` accept in place of
``--model/--transcoders``. No Qt here; torch loads only inside :func:`run`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

from ...graph.errors import CircuitDeskError


class OnnxArgumentError(CircuitDeskError):
    """A bad ``export-onnx`` / ``--onnx`` argument (one line)."""


def register(sub: Any) -> None:
    p = sub.add_parser("export-onnx", help="export a local replacement model to one ONNX file")
    p.add_argument("--model", required=True, help="Hugging Face model folder (or cached hub id)")
    p.add_argument("--transcoders", required=True,
                   help="circuit-tracer transcoder folder (config.yaml + safetensors)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--name", default=None,
                   help="model name recorded in the file (default: the --model argument)")
    p.add_argument("--device", default="cpu", metavar="cpu|cuda[:N]|mps",
                   help="where the model runs while it is traced for export")
    p.add_argument("--dtype", default="float32", choices=["float32"],
                   help="the exported graph computes in float32")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix != ".onnx":
        raise OnnxArgumentError(f"{out}: the output must end in .onnx")
    if not out.resolve().parent.is_dir():
        raise OnnxArgumentError(f"{out}: folder does not exist")
    missing = [m for m in ("torch", "transformers", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise OnnxArgumentError(f"export-onnx needs {', '.join(missing)}: "
                                "pip install 'circuitdesk[models,onnx]'")
    from ...models.onnx.export import export_backend, tokenizer_path
    from ...models.torch.backend import open_torch_backend

    t0 = time.perf_counter()
    backend = open_torch_backend(args.model, args.transcoders, device=args.device,
                                 dtype=args.dtype)
    try:
        export_backend(backend, out, model_name=args.name)
    finally:
        backend.close()
    print(json.dumps({"output": str(out), "tokenizer": str(tokenizer_path(out)),
                      "bytes": out.stat().st_size, "export_s": round(time.perf_counter() - t0, 3)}))
    return 0


def add_onnx_option(p: argparse.ArgumentParser) -> None:
    """Add ``--onnx FILE`` and make ``--model/--transcoders`` optional (one of them is checked
    by :func:`open_model_backend`)."""
    for action in p._actions:  # argparse offers no public way to relax `required`
        if action.dest in ("model", "transcoders"):
            action.required = False
    p.add_argument("--onnx", metavar="FILE",
                   help="a file from 'circuitdesk export-onnx' instead of --model/--transcoders")


def open_model_backend(args: argparse.Namespace) -> Any:
    """The backend named by ``--onnx`` or by ``--model/--transcoders`` (+ backend options)."""
    from ...models.registry import open_backend

    if args.onnx:
        if args.model or args.transcoders:
            raise OnnxArgumentError("give either --onnx or --model/--transcoders, not both")
        if args.backend not in (None, "onnx"):
            raise OnnxArgumentError(f"--onnx runs on the onnx backend, not {args.backend!r}")
        return open_backend("onnx", model_dir=args.onnx)
    if not (args.model and args.transcoders):
        raise OnnxArgumentError("--model and --transcoders are required (or --onnx FILE)")
    return open_backend(args.backend, model_dir=args.model, transcoders_dir=args.transcoders,
                        device=args.device, dtype=args.dtype)
