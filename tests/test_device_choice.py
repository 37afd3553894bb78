"""Device and dtype choosers in the verify panel (issue 17), on the bundled demo model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from circuitdesk.app.panels.device_choice import DeviceChooser
from circuitdesk.app.window import MainWindow
from circuitdesk.models import devices
from PySide6.QtCore import QSettings

pytestmark = [pytest.mark.gui, pytest.mark.models]


def _settings(path: Path) -> QSettings:
    s = QSettings(str(path / "settings.ini"), QSettings.Format.IniFormat)
    s.setValue("autosave_dir", str(path / "autosave"))
    s.setValue("ask_before_quit", False)
    return s


def _window(qtbot: Any, settings: QSettings) -> MainWindow:
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.graph_loaded, timeout=20000):
        w.open_demo()
    return w


def _probed(qtbot: Any, w: MainWindow) -> None:
    with qtbot.waitSignal(w.runner.job_finished, timeout=60000,
                          check_params_cb=lambda kind: kind == "model-devices"):
        w.probe_devices()


def _bind(qtbot: Any, w: MainWindow) -> Any:
    got: list[Any] = []
    w.with_backend(lambda backend, ids: got.append(backend))
    qtbot.waitUntil(lambda: bool(got), timeout=60000)
    return got[0]


def _items(box: Any) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def test_unavailable_devices_not_offered(qtbot: Any, tmp_path: Path) -> None:
    w = _window(qtbot, _settings(tmp_path))
    _probed(qtbot, w)
    chooser = w.verify_panel.device_chooser
    assert _items(chooser.device) == devices.available_devices()
    if not torch.cuda.is_available():
        assert "cuda" not in _items(chooser.device)
    assert "mps" not in _items(chooser.device) or torch.backends.mps.is_available()
    assert chooser.choice() == (devices.best_device(), devices.default_dtype(devices.best_device()))
    w.close()


def test_gpu_dtypes_follow_the_device(qtbot: Any) -> None:
    chooser = DeviceChooser()
    qtbot.addWidget(chooser)
    chooser.set_available(["cuda", "cpu"], {"cuda": ["float16", "float32"],
                                            "cpu": devices.supported_dtypes("cpu")})
    assert chooser.choice() == ("cuda", "float16")  # no bfloat16 on this (pretend) GPU
    picks: list[tuple[str, str]] = []
    chooser.changed.connect(lambda d, t: picks.append((d, t)))
    chooser.device.setCurrentText("cpu")
    assert picks == [("cpu", "float32")]
    assert _items(chooser.dtype) == ["float32", "bfloat16", "float16", "float64"]
    chooser.set_choice("mps", "float16")  # remembered on a Mac: not offered here
    assert chooser.choice() == ("cuda", "float16") and len(picks) == 1


def test_choice_persists_and_opens_the_backend(qtbot: Any, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    w = _window(qtbot, settings)
    _probed(qtbot, w)
    chooser = w.verify_panel.device_chooser
    chooser.dtype.setCurrentText("bfloat16")
    assert settings.value("model_device") == "cpu" and settings.value("model_dtype") == "bfloat16"
    backend = _bind(qtbot, w)
    assert backend.rm.dtype == torch.bfloat16 and backend.rm.tc.w_enc.dtype == torch.bfloat16
    assert str(backend.rm.device) == "cpu"
    assert "cpu, bfloat16" in w.verify_panel.model_label.text()
    # a new pick reopens the model on the model queue; the old one is closed there
    chooser.dtype.setCurrentText("float32")
    qtbot.waitUntil(lambda: w._bound is not None, timeout=60000)
    assert w._bound[1] is not backend and w._bound[1].rm.dtype == torch.float32
    assert [k[2:] for k in w.backends] == [("cpu", "float32")]
    w.close()
    settings.sync()
    again = _window(qtbot, _settings(tmp_path))  # the next launch shows the remembered pick
    assert again.verify_panel.device_chooser.choice() == ("cpu", "float32")
    again.close()


def test_opening_a_model_takes_it_out_of_the_collectors_sight(qtbot: Any, tmp_path: Path) -> None:
    """With torch and transformers imported a full collector pass took 250-300 ms of GIL (a
    GUI stall); once the model is open, what is alive is frozen (app/long_lived.py)."""
    import gc
    import time

    w = _window(qtbot, _settings(tmp_path))
    gc.unfreeze()
    _bind(qtbot, w)
    assert gc.get_freeze_count() > 100_000  # the model stack's modules, classes, functions
    t0 = time.perf_counter()
    gc.collect()
    seen = len(gc.get_objects())
    assert seen < gc.get_freeze_count() / 10, (seen, time.perf_counter() - t0)


def test_a_replaced_model_is_freed_though_it_was_frozen(qtbot: Any, tmp_path: Path) -> None:
    """Frozen objects are still freed by reference counting: choosing another dtype closes the
    open model, and its memory goes (a model in a reference cycle would stay for good)."""
    import gc
    import weakref

    w = _window(qtbot, _settings(tmp_path))
    old = weakref.ref(_bind(qtbot, w))
    assert gc.get_freeze_count() > 0
    with qtbot.waitSignal(w.runner.job_finished, timeout=60000,
                          check_params_cb=lambda kind: kind == "model-close"):
        w.set_model_device("cpu", "float64")
    qtbot.waitUntil(lambda: bool(w.backends), timeout=60000)  # the new one is open
    gc.collect()
    assert old() is None
