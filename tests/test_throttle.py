"""Throttled methods: the first call at once, the last of a burst after the interval."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from circuitdesk.app.throttle import throttled
from PySide6.QtCore import QObject

pytestmark = pytest.mark.gui


class Recorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    @throttled(40)
    def record(self, value: int) -> None:
        self.calls.append(value)


def test_first_call_runs_now_and_the_last_of_a_burst_later(qtbot) -> None:  # type: ignore[no-untyped-def]
    r = Recorder()
    for v in range(5):
        r.record(v)
    assert r.calls == [0]
    qtbot.waitUntil(lambda: r.calls == [0, 4], timeout=2000)


def test_flush_and_cancel(qtbot) -> None:  # type: ignore[no-untyped-def]
    r = Recorder()
    r.record(1)
    r.record(2)
    r.record.flush()
    assert r.calls == [1, 2]
    r.record(3)
    r.record.cancel()
    qtbot.wait(120)
    assert r.calls == [1, 2]


def test_each_object_has_its_own_timer() -> None:
    a, b = Recorder(), Recorder()
    a.record(1)
    b.record(2)
    assert (a.calls, b.calls) == ([1], [2])
