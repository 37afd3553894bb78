"""Exceptions raised by CircuitDesk's pure layers.

Every problem with a user's file surfaces as a :class:`GraphLoadError` whose
message is one line naming the file and the problem, so the CLI and the GUI can
show it as is.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

MAX_PROBLEM_CHARS = 300
"""A problem line longer than this is cut (a hostile value can be megabytes long)."""

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = _SHORT.maxset = 4
_SHORT.maxlong = 40


def describe(value: Any) -> str:
    """A short, bounded repr of a value read from a file, safe on 1,000-deep nesting.

    ``str()`` of such a value recurses once per level and overflows the stack; reprlib
    stops at a fixed depth and length instead.
    """
    try:
        return _SHORT.repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr itself fails: name its type only
        return f"<{type(value).__name__}>"


def type_name(value: Any) -> str:
    """The user-facing name of a JSON/pickle value's type ("a list", "a string", ...)."""
    names = {list: "a list", dict: "an object", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null", tuple: "a tuple"}
    return names.get(type(value), f"a {type(value).__name__}")


def exception_text(exc: BaseException) -> str:
    """``Type: message`` of an exception, bounded, even when its message cannot be built."""
    try:
        text = str(exc)[:MAX_PROBLEM_CHARS]
    except Exception:  # noqa: BLE001 - e.g. a KeyError whose key is too deep to print
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class CircuitDeskError(Exception):
    """Base class of every error CircuitDesk raises on purpose."""


class Cancelled(CircuitDeskError):
    """A long job noticed its cancel token and stopped."""


class GraphLoadError(CircuitDeskError):
    """A graph file could not be read.

    Args:
        path: The file that was being read.
        problem: One line saying what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = _cut(" ".join(str(problem)[:4 * MAX_PROBLEM_CHARS].split()),
                            MAX_PROBLEM_CHARS)
        shown = self.path if len(self.path) <= 200 else "…" + self.path[-199:]
        super().__init__(f"{shown}: {self.problem}")


class NotAGraphFileError(GraphLoadError):
    """The bytes are not JSON / not a torch archive at all (empty, truncated, binary)."""


class GraphSchemaError(GraphLoadError):
    """The file parses but does not have the shape of an attribution graph."""


class UnsafeFileError(GraphLoadError):
    """A .pt file asks to unpickle something outside the allow-list."""


class MissingDependencyError(GraphLoadError):
    """Reading this file needs an optional extra that is not installed."""


class FileTooLargeError(GraphLoadError):
    """The file is larger than the configured limit."""


class OutOfMemoryError(GraphLoadError):
    """Memory ran out while reading the file (it may be fine on a larger machine)."""
