"""Shared test set-up: offscreen Qt, fixture paths, leak checks for GUI tests."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest

# Must be set before any QApplication exists; an ini option does not do it.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"

FIXTURES = {
    "tc": DATA / "claude-3.5-haiku_opposite-of-small_transformer-circuits.json",
    "neuronpedia": DATA / "gemma-2-2b_clt-hp_nobel_neuronpedia.json",
    "legacy": DATA / "gemma-2-2b_dallas-austin_circuit-tracer-legacy.json",
}


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def _no_leaked_threads(request: pytest.FixtureRequest):
    """Fail any test that leaves a Python thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()
              and not t.daemon]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    if leaked:
        pytest.fail(f"test left threads running: {[t.name for t in leaked]}")


@pytest.fixture(autouse=True)
def _collector_unfrozen():
    """Opening a model freezes what is alive (app/long_lived.py); in the app that is for good,
    here it would also keep every earlier test's window from being collected."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _app_look_restored(request: pytest.FixtureRequest):
    """A dark-theme test switches the whole application to Fusion and a dark palette; put the
    style and palette back so later rendering tests see the look their approved images have."""
    if "gui" not in request.keywords:
        yield
        return
    app = request.getfixturevalue("qapp")  # pytest-qt's one application for the session
    style, palette = app.style().name(), app.palette()
    yield
    if app.style().name() != style:
        app.setStyle(style)
    app.setPalette(palette)


@pytest.fixture
def window(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A shown 1400x900 main window (the size it opens at) with its settings in ``tmp_path``;
    modules that need another window define their own ``window``."""
    from .gui_util import make_window

    w = make_window(qtbot, tmp_path, (1400, 900))
    yield w
    w.close()
