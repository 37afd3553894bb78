"""Tensors of safetensors and ``.npz`` files, memory-mapped instead of read.

A public cross-layer transcoder's decoders are tens of GB; an intervention needs a few rows of
them. Mapping the file and indexing the rows touches only those pages, so the decoders never
count against memory (FORMATS.md §4, issue 17). ``safetensors.safe_open`` maps files too, but
its slices take only ranges, not the scattered feature rows a sweep or a trace asks for, so the
header is read here (it is 8 bytes of length and a JSON table) and each tensor becomes a numpy
memmap viewed as a torch tensor.

Maps are copy-on-write (``mode="c"``): numpy calls them writable, so torch takes them without a
warning, and no write ever reaches the file.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..protocol import ModelLoadError

_DTYPES: dict[str, tuple[Any, torch.dtype]] = {
    "F64": (np.float64, torch.float64), "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16), "BF16": (np.int16, torch.bfloat16),
    "I64": (np.int64, torch.int64), "I32": (np.int32, torch.int32),
}
"""safetensors dtype → (numpy storage type of the same width, torch dtype)."""


def torch_dtype(name: str) -> torch.dtype | None:
    """The torch dtype of a safetensors dtype name, None when unsupported."""
    entry = _DTYPES.get(name)
    return None if entry is None else entry[1]


def _header(path: Path) -> tuple[dict[str, Any], int]:
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ModelLoadError(path, "not a safetensors file (shorter than its header)")
            (n,) = struct.unpack("<Q", raw)
            size = path.stat().st_size
            if n > min(size - 8, 100_000_000):
                raise ModelLoadError(path, "not a safetensors file (header length out of range)")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(path, f"not a readable safetensors file: {exc}") from None
    if not isinstance(header, dict):
        raise ModelLoadError(path, "not a safetensors file (header is not a table)")
    header.pop("__metadata__", None)
    return header, 8 + n


def read_safetensors_header(path: str | Path) -> dict[str, Any]:
    """The header table of a safetensors file (name → dtype, shape, data_offsets).

    Raises:
        ModelLoadError: missing file or bad header.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(p, "missing safetensors file")
    return _header(p)[0]


def map_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, backed by the file (nothing is read yet).

    Raises:
        ModelLoadError: missing file, bad header, unsupported dtype, offsets outside the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(p, "missing transcoder file")
    header, start = _header(p)
    size = p.stat().st_size
    out: dict[str, torch.Tensor] = {}
    for name, info in header.items():
        try:
            dtype, shape, (a, b) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ModelLoadError(p, f"tensor {name!r} has a malformed header entry") from None
        if dtype not in _DTYPES:
            raise ModelLoadError(p, f"tensor {name!r} has unsupported dtype {dtype}")
        np_type, torch_type = _DTYPES[dtype]
        count = int(np.prod(shape)) if shape else 1
        if not 0 <= a <= b or start + b > size or b - a != count * np.dtype(np_type).itemsize:
            raise ModelLoadError(p, f"tensor {name!r} does not fit its byte range")
        out[name] = _tensor(p, np_type, torch_type, start + a, shape, count)
    return out


def _tensor(path: Path, np_type: Any, torch_type: torch.dtype, offset: int,
            shape: list[int], count: int) -> torch.Tensor:
    if count == 0:
        return torch.zeros(shape, dtype=torch_type)
    arr = np.memmap(path, dtype=np_type, mode="c", offset=offset, shape=(count,))
    t = torch.from_numpy(arr).reshape(shape)
    return t.view(torch_type) if t.dtype != torch_type else t


def map_npz(path: str | Path) -> dict[str, torch.Tensor]:
    """Every array of an ``.npz`` (GemmaScope's ``params.npz``) as tensors.

    Members stored without compression (``np.savez``) are mapped; compressed ones are read.

    Raises:
        ModelLoadError: missing or unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(p, "missing transcoder file")
    out: dict[str, torch.Tensor] = {}
    try:
        with zipfile.ZipFile(p) as z, p.open("rb") as raw:
            for info in z.infolist():
                name = info.filename.removesuffix(".npy")
                if info.compress_type == zipfile.ZIP_STORED:
                    out[name] = _npy_member(p, raw, info)
                else:
                    with z.open(info) as f:
                        out[name] = torch.from_numpy(np.lib.format.read_array(
                            f, allow_pickle=False).copy())
    except ModelLoadError:
        raise
    except (OSError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(p, f"not a readable .npz file: {exc}") from None
    return out


def _npy_member(path: Path, raw: Any, info: zipfile.ZipInfo) -> torch.Tensor:
    """Map one stored ``.npy`` member: skip the zip's local header, then the npy header."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if local[:4] != b"PK\x03\x04":
        raise ModelLoadError(path, f"member {info.filename} has a bad zip header")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    raw.seek(info.header_offset + 30 + name_len + extra_len)
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(raw)
    if dtype.hasobject:
        raise ModelLoadError(path, f"member {info.filename} holds Python objects")
    count = int(np.prod(shape)) if shape else 1
    if count == 0:
        return torch.from_numpy(np.zeros(shape, dtype=dtype))
    flat = np.memmap(path, dtype=dtype, mode="c", offset=raw.tell(), shape=(count,))
    arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    return torch.from_numpy(arr)
