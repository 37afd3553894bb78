"""Every error reaches the user: uncaught exceptions in slots and GUI actions go to the log and
to a non-blocking dialog in the window (message plus the traceback under "Show Details…").

PySide6 hands an exception raised in a slot to ``sys.excepthook`` and carries on; the default
hook only prints to stderr, which a desktop user never sees.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

Show = Callable[[str, str, str], None]
"""``show(title, message, details)``: the window's error display."""


def details_of(exc: BaseException) -> str:
    """The full traceback of ``exc``, as the "details" of an error dialog."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``exc`` as one line for the dialog's message, cut to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, Exception) or type(exc).__module__ == "builtins":
        text = f"{type(exc).__name__}: {text}" if str(exc) else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def install_excepthook(show: Show) -> Callable[[], None]:
    """Route uncaught exceptions to ``show`` and the log; returns a function that undoes it."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)
            return
        exc.__traceback__ = tb
        log.error("unexpected error", exc_info=(kind, exc, tb))
        try:
            show("Something went wrong", one_line(exc), details_of(exc))
        except Exception:  # noqa: BLE001 - the window itself is broken: fall back to stderr
            previous(kind, exc, tb)

    sys.excepthook = hook

    def restore() -> None:
        if sys.excepthook is hook:
            sys.excepthook = previous

    return restore
