"""Cancellation tokens and progress callbacks for long work in graph/ and models/."""

from __future__ import annotations

import threading
from typing import Protocol

from .errors import Cancelled


class Progress(Protocol):
    """Receives ``(fraction in [0, 1], phase name)``; must be cheap and thread-safe."""

    def __call__(self, fraction: float, phase: str, /) -> None: ...


def no_progress(fraction: float, phase: str, /) -> None:
    """Progress sink that ignores everything."""


class CancelToken:
    """A flag a worker polls between batches; ``check()`` raises :class:`Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


NEVER = CancelToken()
"""A token nobody cancels, for callers that do not care."""
