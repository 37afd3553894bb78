"""Throttled methods: the first call runs at once, later ones at most once per interval, with
the latest arguments (the last call of a burst always runs).

It does what ``superqt.utils.qthrottled`` did here. Importing that one helper imported all of
superqt and qtpy, and qtpy touched every Qt class: about 0.15 s of start-up for 40 lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer


class Throttled:
    """One object's throttled method: call it, ``flush()`` the pending call, or ``cancel()`` it."""

    def __init__(self, func: Callable[..., Any], ms: int, parent: QObject | None) -> None:
        self._func = func
        self._pending: tuple[Any, ...] | None = None
        self._timer = QTimer(parent)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(ms)
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self, *args: Any) -> None:
        if self._timer.isActive():
            self._pending = args
            return
        self._func(*args)
        self._timer.start()

    def _on_timeout(self) -> None:
        if self._pending is not None:
            args, self._pending = self._pending, None
            self._func(*args)
            self._timer.start()

    def flush(self) -> None:
        """Run the pending call now, if there is one."""
        if self._pending is not None:
            args, self._pending = self._pending, None
            self._func(*args)

    def cancel(self) -> None:
        """Forget the pending call."""
        self._pending = None


class throttled:  # lower case: used as a decorator, like property
    """``@throttled(ms)`` on a method: each instance gets its own :class:`Throttled`."""

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self.func: Callable[..., Any] | None = None
        self.name = ""

    def __call__(self, func: Callable[..., Any]) -> throttled:
        self.func = func
        return self

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        assert self.func is not None
        bound = Throttled(self.func.__get__(obj), self.ms,
                          obj if isinstance(obj, QObject) else None)
        obj.__dict__[self.name] = bound  # later lookups find it without this descriptor
        return bound
