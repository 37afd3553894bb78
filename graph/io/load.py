"""One entry point that reads any graph file CircuitDesk knows."""

from __future__ import annotations

import gc
from pathlib import Path

from ..cancel import NEVER, CancelToken, Progress, no_progress
from ..errors import FileTooLargeError, GraphLoadError, NotAGraphFileError
from .json_io import graph_from_json, parse_json_bytes
from ..model import Graph

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
        from .pt_io import load_pt

        graph = load_pt(p, progress=progress, cancel=cancel)
    else:
        if p.suffix.lower() == ".pt" and head.strip():
            raise NotAGraphFileError(p, "not a torch archive (bad magic bytes)")
        try:
            data = p.read_bytes()
        except MemoryError:
            raise FileTooLargeError(p, "not enough memory to read the file") from None
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
    progress(1.0, "done")
    return graph
