"""One entry point that reads any graph file CircuitDesk knows."""

from __future__ import annotations

import gc
from pathlib import Path

from ..cancel import NEVER, CancelToken, Progress, no_progress
from ..errors import (
    CircuitDeskError,
    FileTooLargeError,
    GraphLoadError,
    GraphSchemaError,
    NotAGraphFileError,
    OutOfMemoryError,
    exception_text,
)
from ..model import Graph
from .json_io import graph_from_json, parse_json_bytes
from .validate import ensure_valid

MAX_FILE_BYTES = 2 * 1024**3
"""Files larger than this are refused before reading (2 GiB)."""

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def load_graph(
    path: str | Path,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER,
) -> Graph:
    """Read a graph from a JSON or circuit-tracer ``.pt`` file.

    Raises:
        GraphLoadError: (or a subclass) with a one-line message naming the file.
        Cancelled: when ``cancel`` was set.
    """
    p = Path(path)
    try:
        graph = _load(p, max_bytes, progress, cancel)
        ensure_valid(p, graph)
    except CircuitDeskError:
        raise  # our own errors (GraphLoadError, Cancelled) already say what is wrong
    except MemoryError:
        raise OutOfMemoryError(p, _out_of_memory(p)) from None
    except RecursionError:
        raise GraphSchemaError(p, "values are nested too deeply to read") from None
    except Exception as exc:  # the one boundary: nothing else may escape a load
        raise GraphLoadError(p, f"could not be read ({exception_text(exc)}); "
                                "this is a bug in CircuitDesk, please report it") from exc
    progress(1.0, "done")
    return graph


def _out_of_memory(p: Path) -> str:
    try:
        size = f"{p.stat().st_size / 1024**2:.0f} MB"
    except OSError:
        size = "the file"
    return f"out of memory while reading it ({size}); close other programs or use a larger machine"


def _load(p: Path, max_bytes: int, progress: Progress, cancel: CancelToken) -> Graph:
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise GraphLoadError(p, "not a regular file")
    except FileNotFoundError:
        raise GraphLoadError(p, "no such file") from None
    except PermissionError:
        raise GraphLoadError(p, "permission denied") from None
    except OSError as exc:
        raise GraphLoadError(p, exc.strerror or str(exc)) from None
    if size > max_bytes:
        raise FileTooLargeError(
            p, f"{size / 1024**2:.0f} MB is over the {max_bytes / 1024**2:.0f} MB limit")
    progress(0.0, "reading")
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise GraphLoadError(p, exc.strerror or str(exc)) from None
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        graph = _load_pt(p, progress, cancel)
    else:
        if p.suffix.lower() == ".pt" and head.strip():
            raise NotAGraphFileError(p, "not a torch archive (bad magic bytes)")
        try:
            data = p.read_bytes()
        except MemoryError:
            raise OutOfMemoryError(p, _out_of_memory(p)) from None
        cancel.check()
        progress(0.3, "parsing")
        # Parsing makes ~1 container per node and link; with the cyclic GC on, each
        # generation-2 pass walks all of them (a third of the load time at 100k links).
        # They hold no cycles, so collect nothing until the graph is built.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            doc = parse_json_bytes(p, data)
            del data
            cancel.check()
            progress(0.7, "building graph")
            graph = graph_from_json(p, doc)
            del doc
        finally:
            if gc_was_enabled:
                gc.enable()
    return graph


def _load_pt(path: Path, progress: Progress, cancel: CancelToken) -> Graph:
    """Our own restricted unpickler, which rebuilds tensors as numpy (pt_numpy.py), whether or
    not torch is installed: importing torch in the load worker held the GIL for ~0.3 s and froze
    the window at the first ``.pt``, and the app without the ``models`` extra reads them the same
    way. (pt_io.load_pt, torch's reader with an allow-list, stays as the cross-check in tests.)"""
    from .pt_numpy import load_pt_numpy

    return load_pt_numpy(path, progress=progress, cancel=cancel)
