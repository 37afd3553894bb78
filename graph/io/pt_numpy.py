"""Read circuit-tracer ``.pt`` graphs without torch: our own restricted unpickler (issue 17).

A ``.pt`` is a zip: ``<name>/data.pkl`` (a pickle) and ``<name>/data/<key>`` (raw storage
bytes, little-endian unless ``<name>/byteorder`` says otherwise). The pickle here may only name
the globals in :data:`ALLOWED`: torch's tensor rebuild function and storage types (rebuilt as
numpy arrays from the storage records), ``OrderedDict``, torch dtypes (as their names),
``_codecs.encode`` for latin-1 bytes, and the inert stand-ins of :mod:`.pt_io` for the engine's
classes. Any other global, any other persistent id, or a tensor reaching outside its storage is
refused with :class:`UnsafeFileError` before anything runs. The app without the ``models`` extra
can open ``.pt`` files this way, and opening one no longer imports torch.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..cancel import NEVER, CancelToken, Progress, no_progress
from ..errors import NotAGraphFileError, UnsafeFileError
from ..model import Graph
from .pt_io import _STAND_INS, check_pt_file, graph_from_raw

_STORAGES: dict[str, str] = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "bf16", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}
_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                "uint8", "bool")


class StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends: only its element type is kept."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


class TorchDtype(str):
    """Stand-in for ``torch.float32`` and friends: the name only."""


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 strings only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode on something other than latin-1 text")
    return text.encode("latin1")


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` as a numpy copy, checked to stay inside its storage."""
    if not isinstance(storage, np.ndarray) or not isinstance(offset, int):
        raise pickle.UnpicklingError("tensor without a storage record")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(isinstance(x, int) and x >= 0 for x in (*size, *stride))):
        raise pickle.UnpicklingError("tensor with a malformed size or stride")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= storage.size:
        raise pickle.UnpicklingError("tensor reaches outside its storage")
    if math.prod(size) > storage.size:  # an expanded view (stride 0): its copy could be any size
        raise pickle.UnpicklingError("tensor has more elements than its storage")
    item = storage.dtype.itemsize
    if offset == 0 and math.prod(size) == storage.size and stride == _c_strides(size):
        return storage.reshape(size)  # the whole storage in C order: no copy needed
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * item for s in stride], writeable=False)
    return np.array(view)


def _c_strides(size: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-ordered array of ``size``."""
    out, step = [], 1
    for n in reversed(size):
        out.append(step)
        step *= n
    return tuple(reversed(out))


ALLOWED: dict[str, Any] = {
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "collections.OrderedDict": OrderedDict,
    "_codecs.encode": _latin1,
    **{f"torch.{name}": StorageType(dt) for name, dt in _STORAGES.items()},
    **{f"torch.{name}": TorchDtype(name) for name in _DTYPE_NAMES},
    **{qualname: obj for obj, qualname in _STAND_INS},
}
"""Every global a graph ``.pt`` may name, and what it becomes."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, storage: Callable[[Any, Any, Any], np.ndarray]) -> None:
        super().__init__(io.BytesIO(data))
        self._storage = storage

    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full not in ALLOWED:
            raise pickle.UnpicklingError(f"GLOBAL {full}")
        return ALLOWED[full]

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType)):
            raise pickle.UnpicklingError("a persistent id that is not a tensor storage")
        return self._storage(pid[1], pid[2], pid[4])


class _Archive:
    """The zip's storage records, decoded once each."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, big_endian: bool) -> None:
        self.zf, self.prefix, self.big = zf, prefix, big_endian
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, kind: StorageType, key: Any, numel: Any) -> np.ndarray:
        if not isinstance(key, str) or not re.fullmatch(r"\d+", key) or not isinstance(numel, int):
            raise pickle.UnpicklingError("a malformed storage record")
        if key not in self.cache:
            name = f"{self.prefix}data/{key}"
            try:
                info = self.zf.getinfo(name)
            except KeyError:
                raise pickle.UnpicklingError(f"storage {key} is not in the archive") from None
            # torch stores records uncompressed, so a record is no larger than the file on disk
            # (which load_graph has size-checked); a compressed one could inflate to any size
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise pickle.UnpicklingError(f"storage {key} is compressed (torch never writes that)")
            dt = np.dtype("<u2" if kind.dtype == "bf16" else kind.dtype)
            dt = dt.newbyteorder(">") if self.big and dt.itemsize > 1 else dt
            if numel < 0 or info.file_size < numel * dt.itemsize:
                raise pickle.UnpicklingError(f"storage {key} is shorter than its {numel} elements")
            # read straight into the array (one copy of a 400 MB adjacency, not two); zipfile
            # checks the record's CRC-32 as it reads
            arr = np.empty(numel, dtype=dt)
            _read_into(self.zf, name, arr.data.cast("B"), key)
            if kind.dtype == "bf16":  # bfloat16 is the top half of a float32
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
            self.cache[key] = arr.astype(arr.dtype.newbyteorder("="), copy=False)
        return self.cache[key]


READ_CHUNK = 8 << 20
"""Bytes per read of a storage record: each copy (and the page faults of its fresh memory)
holds the GIL, and one 400 MB copy froze the window for a quarter of a second."""


def _read_into(zf: zipfile.ZipFile, name: str, out: memoryview, key: str) -> None:
    with zf.open(name) as f:
        assert isinstance(f, zipfile.ZipExtFile)  # what ZipFile.open returns for reading
        for start in range(0, len(out), READ_CHUNK):
            part = out[start:start + READ_CHUNK]
            if f.readinto(part) != len(part):
                raise pickle.UnpicklingError(f"storage {key} is cut short")
            time.sleep(0)  # hand the GIL to the GUI thread between chunks
        f.read(1)  # reach the record's end, where zipfile checks its CRC-32


def read_pt_numpy(path: str | Path) -> Any:
    """The unpickled ``.pt`` object, tensors as numpy arrays.

    Raises:
        UnsafeFileError: the pickle names anything outside :data:`ALLOWED`.
        NotAGraphFileError: not a readable torch zip archive.
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1:
                raise NotAGraphFileError(p, "not a torch archive (no single <name>/data.pkl)")
            prefix = pkl[0][: -len("data.pkl")]
            names = set(zf.namelist())
            big = (f"{prefix}byteorder" in names
                   and zf.read(f"{prefix}byteorder").strip() == b"big")
            return _Unpickler(zf.read(pkl[0]), _Archive(zf, prefix, big)).load()
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(p, f"refused to unpickle it: {_why(str(exc))}") from None
    except zipfile.BadZipFile as exc:  # e.g. a record whose CRC-32 no longer matches
        raise NotAGraphFileError(p, f"a corrupt torch archive ({exc})") from None
    except (EOFError, OSError, KeyError) as exc:
        raise NotAGraphFileError(p, f"not a complete torch archive ({exc or 'truncated'})") \
            from None
    except (ValueError, TypeError, AttributeError, IndexError, OverflowError, MemoryError,
            struct.error, RecursionError, NotImplementedError,
            RuntimeError) as exc:  # RuntimeError: zipfile's "encrypted, password required"
        raise NotAGraphFileError(p, f"not a readable torch archive ({exc})") from None


def _why(message: str) -> str:
    found = re.fullmatch(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"it references {found.group(1)}, which is not an allowed class or function"
    return message


class _Tensor:
    """What :func:`.pt_io._dense_data` asks of a tensor, over a numpy array."""

    # a storage rebuilt from the archive is always a plain dense CPU array
    layout = "strided"
    is_quantized = is_nested = is_meta = False
    device = SimpleNamespace(type="cpu")

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape = a, a.shape

    @property
    def dtype(self) -> Any:
        return self.a.dtype.type

    def dim(self) -> int:
        return int(self.a.ndim)

    def is_complex(self) -> bool:
        return bool(np.iscomplexobj(self.a))

    def is_floating_point(self) -> bool:
        return self.a.dtype.kind == "f"

    def detach(self) -> _Tensor:
        return self

    def to(self, dtype: Any) -> _Tensor:
        return _Tensor(self.a.astype(dtype, copy=False))  # as torch: no copy to the same dtype

    def numpy(self) -> np.ndarray:
        return self.a


class _NumpyTorch:
    """The torch names :func:`.pt_io._dense_data` uses, answered with numpy."""

    Tensor = _Tensor
    nn = SimpleNamespace(Parameter=type("Parameter", (), {}))  # never seen: no torch here
    strided = "strided"
    float16, float32, float64 = np.float16, np.float32, np.float64
    bfloat16 = type("bfloat16", (), {})  # rebuilt storages are never bfloat16 (see above)
    int8, uint8, int16, int32, int64 = np.int8, np.uint8, np.int16, np.int32, np.int64
    bool = np.bool_


def load_pt_numpy(path: str | Path, *, progress: Progress = no_progress,
                  cancel: CancelToken = NEVER) -> Graph:
    """A circuit-tracer ``.pt`` graph read without torch; same checks as :func:`.pt_io.load_pt`.

    Raises:
        UnsafeFileError, NotAGraphFileError, GraphSchemaError, Cancelled.
    """
    progress(0.05, "reading")
    check_pt_file(Path(path))
    raw = read_pt_numpy(path)
    cancel.check()
    if isinstance(raw, dict):
        raw = {k: _Tensor(v) if isinstance(v, np.ndarray) else v for k, v in raw.items()}
    return graph_from_raw(path, raw, _NumpyTorch, progress, cancel)
