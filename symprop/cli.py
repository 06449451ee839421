"""The ``symprop`` command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 fine, 1 a check failed, 2 bad input or usage (one line
``symprop: error: ...`` on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import Sequence

from . import __version__
from .commands import COMMANDS
from .errors import SympropError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2, and ``-x*w`` is a formula.

    argparse takes any word that starts with ``-`` for an option unless it
    looks like a negative number; here every such word that is not one of the
    parser's options (``-h``, ``--at``, ...) is an argument, so a formula such
    as ``-log(y)`` can be written as it is.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-[^-]")  # argparse: "looks like a number"

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = f" (see '{self.prog} --help')"
        sys.stderr.write(f"symprop: error: {message}{hint}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symprop",
        description="Backpropagation with exact symbolic derivatives: walk through it, check it, train with it.",
        epilog="Run 'symprop COMMAND --help' for a command's options. Exit codes: 0 fine, "
        "1 a check failed, 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"symprop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        sub = module.add_parser(subparsers)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``symprop`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        sys.stderr.write(f"symprop: error: give a command: {', '.join(COMMANDS)}\n")
        return 2
    try:
        return args.run(args)
    except SympropError as error:
        sys.stderr.write(f"symprop: error: {error}\n")
        return 2
    except RecursionError:
        sys.stderr.write(
            "symprop: error: the expression is too deeply nested for SymPy; "
            "split it into named nodes ('a = ...; b = ...')\n"
        )
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("symprop: interrupted\n")
        return 130
    except SystemExit as exit_:  # argparse exits before run(): only a user's code (--against) gets here
        sys.stderr.write(f"symprop: error: the user's code called sys.exit({exit_.code!r}); nothing was checked\n")
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as error:  # a bug in symprop: still no traceback unless asked
        if os.environ.get("SYMPROP_DEBUG"):
            raise
        sys.stderr.write(
            f"symprop: internal error: {type(error).__name__}: {error} "
            "(set SYMPROP_DEBUG=1 for the traceback, and please report it)\n"
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
