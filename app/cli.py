"""The ``circuitdesk`` command: no argument or a file opens the window; subcommands work headless.

Each subcommand lives in ``app/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (taking the parsed args, returning an exit
status). Subcommand modules import only what they need, so ``circuitdesk info`` never
loads Qt and ``circuitdesk prune`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..graph.errors import CircuitDeskError

COMMANDS = ("info", "prune", "export", "trace", "intervene", "verify", "faithfulness",
            "export_onnx", "dashboards", "labels", "screenshot")
"""Subcommand modules under app/commands."""

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, status 2, as for unreadable input.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="circuitdesk", description="View, prune and verify attribution graphs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    subcommands = {n.replace("_", "-") for n in COMMANDS}
    if not args_list or (args_list[0] not in subcommands and not args_list[0].startswith("-")):
        return gui_main(args_list)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except CircuitDeskError as exc:
        print(f"circuitdesk: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as Unix tools do; Python would
        # otherwise print a second error when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def gui_main(argv: Sequence[str] | None = None) -> int:
    """Open the window, with the files named in ``argv`` or the bundled demo."""
    from .main import run_app

    files = list(sys.argv[1:] if argv is None else argv)
    return run_app(files)


if __name__ == "__main__":
    raise SystemExit(main())
