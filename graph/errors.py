"""Exceptions raised by CircuitDesk's pure layers.

Every problem with a user's file surfaces as a :class:`GraphLoadError` whose
message is one line naming the file and the problem, so the CLI and the GUI can
show it as is.
"""

from __future__ import annotations

from pathlib import Path


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
        self.problem = " ".join(problem.split())
        super().__init__(f"{self.path}: {self.problem}")


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
