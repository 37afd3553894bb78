"""The torch-free .pt reader (graph/io/pt_numpy.py): same graphs as pt_io, hostile files refused."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from circuitdesk.graph import load_graph
from circuitdesk.graph.errors import GraphLoadError, NotAGraphFileError, UnsafeFileError
from circuitdesk.graph.io.pt_numpy import load_pt_numpy, read_pt_numpy

DATA = Path(__file__).parent / "data"
FILES = [DATA / "ct050_small.pt", DATA / "ct010_small.pt"]


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.format == b.format and a.n_nodes == b.n_nodes
    assert a.nodes.ids == b.nodes.ids and a.metadata.input_tokens == b.metadata.input_tokens
    np.testing.assert_array_equal(a.source, b.source)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.nodes.activation, b.nodes.activation)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_same_graph_as_the_torch_reader(path: Path) -> None:
    pytest.importorskip("torch")
    from circuitdesk.graph.io.pt_io import load_pt

    _same(load_pt_numpy(path), load_pt(path))


def test_reads_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; "
            "from circuitdesk.graph.io.pt_numpy import load_pt_numpy; "
            f"g = load_pt_numpy({str(FILES[0])!r}); print(g.n_nodes)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "error"})
    assert int(out.stdout) > 0


def test_load_graph_never_imports_torch() -> None:
    """Importing torch in the load worker froze the window ~0.3 s at the first .pt."""
    code = ("import sys; from circuitdesk.graph import load_graph; "
            f"g = load_graph({str(FILES[0])!r}); print(g.n_nodes, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, torch_loaded = out.stdout.split()
    assert int(n) > 0 and torch_loaded == "False"


def _with_pickle(tmp_path: Path, payload: bytes, name: str = "bad.pt") -> Path:
    """The fixture's zip with data.pkl replaced by ``payload``."""
    out = tmp_path / name
    with zipfile.ZipFile(FILES[0]) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = payload if info.filename.endswith("data.pkl") else src.read(info)
            dst.writestr(info, data)
    return out


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_System, _Eval])
def test_hostile_pickles_never_run(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "pwned"
    bad = _with_pickle(tmp_path, pickle.dumps({"cfg": payload(marker)}, protocol=2))
    with pytest.raises(UnsafeFileError) as info:
        load_pt_numpy(bad)
    assert not marker.exists()
    msg = str(info.value)
    assert "\n" not in msg and "not an allowed class" in msg and str(bad) in msg


def test_unknown_class_and_foreign_persistent_ids(tmp_path: Path) -> None:
    with pytest.raises(UnsafeFileError, match="_io.StringIO"):
        load_pt_numpy(_with_pickle(tmp_path, pickle.dumps({"x": io.StringIO("hi")}), "a.pt"))

    class _Pid(pickle.Pickler):
        def persistent_id(self, obj):  # type: ignore[no-untyped-def]
            return ("module", "os") if obj == "x" else None

    buf = io.BytesIO()
    _Pid(buf, protocol=2).dump({"k": "x"})
    foreign = _with_pickle(tmp_path, buf.getvalue(), "b.pt")
    with pytest.raises(GraphLoadError):  # the archive check refuses it first
        load_pt_numpy(foreign)
    with pytest.raises(UnsafeFileError, match="persistent id"):  # and the unpickler on its own
        read_pt_numpy(foreign)


def test_tensor_outside_its_storage_is_refused(tmp_path: Path) -> None:
    raw = zipfile.ZipFile(FILES[0]).read("ct050_small/data.pkl")
    n = read_pt_numpy(FILES[0])["adjacency_matrix"].shape[0]
    # The adjacency's sizes are BININT1 (K) opcodes; make them 100 times larger (BININT2, M).
    old, new = b"K" + bytes([n]), b"M" + (n * 100).to_bytes(2, "little")
    assert n < 256 and old in raw
    bad = _with_pickle(tmp_path, raw.replace(old, new))
    with pytest.raises(GraphLoadError, match="does not fit in its storage"):
        load_pt_numpy(bad)
    with pytest.raises(UnsafeFileError, match="outside its storage"):  # the unpickler on its own
        read_pt_numpy(bad)


def test_truncated_and_not_a_zip(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pt"
    cut.write_bytes(FILES[0].read_bytes()[:5000])
    with pytest.raises(NotAGraphFileError):
        load_pt_numpy(cut)
    txt = tmp_path / "text.pt"
    txt.write_text("hello")
    with pytest.raises(NotAGraphFileError):
        load_pt_numpy(txt)


def test_load_graph_reads_pt_without_torch() -> None:
    """The onnx-only install and the desktop bundle open engine .pt files (issue 17)."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from circuitdesk.graph import load_graph\n"
            f"g = load_graph({str(DATA / 'ct050_small.pt')!r}); print(g.n_nodes, g.format)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == str(load_graph(DATA / "ct050_small.pt").n_nodes)


def test_compressed_storage_records_are_refused(tmp_path: Path) -> None:
    """A deflated record could inflate to any size: torch never writes one, so we refuse it."""
    import zipfile

    src = DATA / "ct050_small.pt"
    bad = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            kind = zipfile.ZIP_DEFLATED if "/data/" in item.filename else zipfile.ZIP_STORED
            zout.writestr(item.filename, zin.read(item.filename), compress_type=kind)
    with pytest.raises(GraphLoadError, match="compressed"):
        load_pt_numpy(bad)


def test_expanded_view_is_refused_before_its_copy() -> None:
    from circuitdesk.graph.io.pt_numpy import _rebuild_tensor

    with pytest.raises(pickle.UnpicklingError, match="more elements than its storage"):
        _rebuild_tensor(np.zeros(1, np.float32), 0, (100_000, 100_000), (0, 0))


def test_flipped_storage_byte_is_refused_as_corrupt(tmp_path: Path) -> None:
    """torch ignores the zip's CRC and would load the altered weights; we refuse the file."""
    data = bytearray(FILES[0].read_bytes())
    with zipfile.ZipFile(FILES[0]) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28],
                                         "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start] ^= 0x40
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(NotAGraphFileError, match="corrupt torch archive"):
        load_graph(bad)
