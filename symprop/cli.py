"""The ``symprop`` command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 fine, 1 a check failed, 2 bad input or usage (one line
``symprop: error: ...`` on stderr, never a traceback), 130 interrupted
(Ctrl-C). They hold whatever happens to the streams: see
:mod:`symprop.commands.streams`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import signal
import sys
import threading
from typing import Any, Callable, Sequence

from . import __version__
from .commands import COMMANDS, streams
from .errors import SympropError
from .registry import did_you_mean

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

    def _print_message(self, message: str, file=None) -> None:
        """Help and version on stdout as any output (a full disk is exit 2), the rest on stderr."""
        if not message:
            return
        if file is None or file is sys.stdout:  # None: argparse found no stdout (closed)
            try:
                streams.write_output(message, None)
            except SympropError as error:
                streams.say(f"symprop: error: {error}")
                raise SystemExit(2) from None
        else:
            streams.say(message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """argparse's check of a choice, naming the closest choice to a typo (``--format txt``: 'text')."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:
            hint = did_you_mean(value, [str(c) for c in action.choices or ()])
            if not hint:
                raise
            raise argparse.ArgumentError(action, f"{error.message}{hint}") from None

    def error(self, message: str) -> None:  # type: ignore[override]
        streams.say(f"symprop: error: {message} (see '{self.prog} --help')")
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
    parser.commands = {}  # type: ignore[attr-defined]  # name -> its parser, for the unrecognized-option hint
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        sub = module.add_parser(subparsers)
        sub.set_defaults(run=module.run)
        parser.commands[name] = sub  # type: ignore[attr-defined]
    return parser


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> str:
    """argparse's "unrecognized arguments", naming the command's closest option (``--stpes``: '--steps')
    and pointing at that command's help."""
    command = getattr(parser, "commands", {}).get(getattr(args, "command", None), parser)
    options = [option for action in command._actions for option in action.option_strings]
    typed = next((extra for extra in extras if extra.startswith("-")), "")
    hint = did_you_mean(typed.split("=", 1)[0], options) if typed else ""
    return f"unrecognized arguments: {' '.join(extras)}{hint} (see '{command.prog} --help')"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``symprop`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Whatever happens to the streams, the code says what happened: 0 fine, 1 a
    check failed, 2 bad input (or the output could not be written), 130
    interrupted (Ctrl-C, at any moment: one line, no traceback).
    """
    the_command = argv is None  # the process itself, not a caller in Python
    if the_command:
        sys.unraisablehook = _interrupt_again(sys.unraisablehook)
    try:
        try:
            streams.prepare()
            code = _run(argv)
        finally:
            if the_command:  # from here on a Ctrl-C ends the process at once, with its line
                signal.signal(signal.SIGINT, _interrupted_at_exit)
    except KeyboardInterrupt:
        return _interrupted(the_command)
    except Exception as error:  # a Ctrl-C while a class was being made comes wrapped ("Error calling __set_name__")
        if not _from_interrupt(error):
            raise
        return _interrupted(the_command)
    except SystemExit as exit_:  # argparse: --help, --version (0) and usage errors (2)
        code = exit_.code if isinstance(exit_.code, int) else 2
        raise SystemExit(streams.finish(code)) from None
    return streams.finish(code)


def _interrupted(the_command: bool) -> int:
    streams.say("symprop: interrupted")
    streams.finish(130)  # what was written so far goes out (or is dropped), and the code stays 130
    if the_command:  # an interrupt that came through exec()'d code (lambdify) would end the process by SIGINT
        os._exit(130)
    return 130


def _from_interrupt(error: BaseException) -> bool:
    """True when a Ctrl-C is among the causes of ``error``."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _interrupt_again(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``sys.unraisablehook`` that sends a Ctrl-C which Python had to ignore again, a moment later.

    A Ctrl-C that lands while Python runs a callback (an import's module lock has
    one) cannot be raised there: Python prints "Exception ignored" and goes on, and
    the command would run to its end and exit 0. Sent again from another thread, it
    arrives where it can stop the command: one line, exit 130.
    """
    def handle(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)
            return
        threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()

    return handle


def _interrupted_at_exit(signum, frame) -> None:  # pragma: no cover - runs in the command's process only
    with contextlib.suppress(OSError):
        os.write(2, b"symprop: interrupted\n")
    os._exit(130)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        streams.say(f"symprop: error: {_unrecognized(parser, args, extras)}")
        return 2
    if not getattr(args, "run", None):
        parser.print_help()
        streams.say(f"symprop: error: give a command: {', '.join(COMMANDS)}")
        return 2
    try:
        return args.run(args)
    except SympropError as error:
        streams.say(f"symprop: error: {error}")
        return 2
    except RecursionError:
        streams.say(
            "symprop: error: the expression is too deeply nested for SymPy; "
            "split it into named nodes ('a = ...; b = ...')"
        )
        return 2
    except SystemExit as exit_:  # argparse exits before run(): only a user's code (--against) gets here
        streams.say(f"symprop: error: the user's code called sys.exit({exit_.code!r}); nothing was checked")
        return 2
    except BrokenPipeError:  # stdout's reader went away during a write of its own (a progress bar)
        return 0
    except MemoryError:
        streams.say("symprop: error: out of memory (the problem is too large for this machine)")
        return 2
    except Exception as error:  # a bug in symprop: still no traceback unless asked
        if os.environ.get("SYMPROP_DEBUG") or _from_interrupt(error):  # main() says "interrupted"
            raise
        streams.say(
            f"symprop: internal error: {type(error).__name__}: {error} "
            "(set SYMPROP_DEBUG=1 for the traceback, and please report it)"
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
