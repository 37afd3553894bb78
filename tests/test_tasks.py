"""The task runner: synchronous mode for logic, one real-thread test per path."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
from circuitdesk.app.tasks import TaskRunner  # noqa: E402
from circuitdesk.graph.cancel import CancelToken  # noqa: E402

pytestmark = pytest.mark.gui


def test_synchronous_result_and_progress(qapp) -> None:
    runner = TaskRunner(synchronous=True)
    got: list[object] = []
    seen: list[tuple[float, str]] = []

    def work(*, progress, cancel: CancelToken) -> int:
        progress(0.5, "half")
        return 42

    runner.submit("x", work, on_done=got.append, on_progress=lambda f, p: seen.append((f, p)))
    assert got == [42] and seen == [(0.5, "half")]


def test_error_reaches_callback_and_signal(qapp, qtbot) -> None:
    runner = TaskRunner()
    errors: list[BaseException] = []

    def work(*, progress, cancel):
        raise ValueError("boom")

    with qtbot.waitSignal(runner.job_failed, timeout=5000) as blocker:
        runner.submit("x", work, on_error=errors.append)
    kind, message, details = blocker.args
    assert (kind, message) == ("x", "ValueError: boom") and isinstance(errors[0], ValueError)
    assert details.startswith("Traceback") and "in work" in details and "boom" in details
    runner.shutdown()


def test_new_job_cancels_and_supersedes_old(qapp, qtbot) -> None:
    runner = TaskRunner()
    started = threading.Event()
    release = threading.Event()
    results: list[str] = []
    worker_threads: set[str] = set()

    def slow(*, progress, cancel: CancelToken) -> str:
        worker_threads.add(threading.current_thread().name)
        started.set()
        release.wait(5)
        cancel.check()
        return "old"

    def fast(*, progress, cancel: CancelToken) -> str:
        return "new"

    first = runner.submit("prune", slow, on_done=results.append)
    assert started.wait(5)
    with qtbot.waitSignal(runner.job_finished, timeout=5000):
        runner.submit("prune", fast, on_done=results.append)
        release.set()
    assert first.token.cancelled
    qtbot.waitUntil(lambda: first.finished, timeout=5000)
    assert results == ["new"]
    assert all(name.startswith("cd-default") for name in worker_threads)
    runner.shutdown()


def test_finished_job_lets_go_of_what_its_callbacks_held(qapp, qtbot) -> None:
    """The runner keeps the latest job of each kind; its closures must not keep their inputs
    (a replaced graph stayed in memory until the next job of that kind)."""
    import gc
    import weakref

    class Big:
        pass

    runner = TaskRunner()
    for fails in (False, True):
        held = Big()
        ref = weakref.ref(held)

        def work(*, progress, cancel, fails=fails):
            if fails:
                raise ValueError("boom")
            return 1

        signal = runner.job_failed if fails else runner.job_finished
        with qtbot.waitSignal(signal, timeout=5000):
            job = runner.submit("x", work, on_done=lambda r, held=held: None,
                                on_error=lambda e, held=held: None)
        del held
        gc.collect()
        assert job.finished and ref() is None
    runner.shutdown()
