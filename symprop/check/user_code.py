"""Running a user's own code: loading ``FILE.py:FUNC``, and calling it within a time limit.

The file is the user's own code, run deliberately: it is loaded as a module
(not as ``__main__``), registered in ``sys.modules`` while it runs (so that
``dataclasses`` and ``typing`` can find it, as ``import`` would) and with its
folder first on ``sys.path``; both are undone afterwards.

Whatever the user's code does is reported, never a traceback: an exception of
any kind (``GeneratorExit`` too, and one whose ``str()`` raises) becomes one
line; ``sys.exit()`` and running past the time limit stop the check with a
:class:`~symprop.errors.CheckError`; only Ctrl-C (``KeyboardInterrupt``) goes through.

The time limit is enforced with ``SIGALRM`` where there is one (POSIX, in the
main thread): the user's code is interrupted where it stands, and the
interruption repeats every half second if the code catches it (on the
command line, code that keeps catching it ends the process 5 s later). Elsewhere
(Windows, or a check started from another thread) the code runs in a daemon
thread that is abandoned at the limit; the error says it may still be running.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckError, SympropError
from ..registry import did_you_mean

__all__ = ["load_function", "run_user_code", "LoadError", "CheckError", "one_line", "describe", "DEFAULT_TIMEOUT"]

#: How long (seconds) the user's module may take to load, and its function to return.
DEFAULT_TIMEOUT = 60.0
#: After the limit, how often (seconds) the interruption is repeated if the user's code catches it.
_REPEAT = 0.5
#: The command line sets this: code that still ignores the interruption this many seconds after the
#: limit (it catches BaseException and goes on) ends the process, exit 2, with the error line.
EXIT_AFTER_IGNORED: float | None = None


class LoadError(SympropError):
    """The user's gradient function cannot be loaded (bad path, syntax error, no such name)."""


class _Timeout(BaseException):
    """Raised inside the user's code at the time limit (not an Exception: ``except Exception`` lets it by).

    ``abandoned``: the code could not be interrupted (it runs on in a thread).
    """

    abandoned = False


def one_line(error: BaseException) -> str:
    """An exception's message on one line, at most 300 characters (even when its ``str()`` raises)."""
    try:
        text = " ".join(str(error).split())
    except KeyboardInterrupt:
        raise
    except BaseException as inner:  # noqa: BLE001 - the user's __str__
        text = f"(its message cannot be shown: str() raised {type(inner).__name__})"
    return text[:300] + ("..." if len(text) > 300 else "")


def describe(error: BaseException) -> str:
    """``"ValueError: oops"``, or the type alone when there is no message (``"GeneratorExit"``)."""
    message = one_line(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _seconds(timeout: float) -> str:
    return f"{timeout:g} s"


def run_user_code(call: Callable[[], Any], *, timeout: float | None, what: str) -> tuple[Any, BaseException | None]:
    """Run ``call()`` (the user's code) for at most ``timeout`` seconds.

    Args:
        call: runs the user's code and returns its result.
        timeout: seconds, or None for no limit.
        what: names the code in messages (``"grads"``, ``"loading user.py"``).

    Returns:
        ``(result, None)``, or ``(None, error)`` for any exception it raised
        (``GeneratorExit`` and other ``BaseException`` included).

    Raises:
        CheckError: it called ``sys.exit()``, or did not finish within ``timeout``.
        KeyboardInterrupt: Ctrl-C, as it is.
    """
    try:
        if timeout is None:
            return call(), None
        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            return _with_alarm(call, timeout), None
        return _in_thread(call, timeout, what), None
    except KeyboardInterrupt:
        raise
    except _Timeout as timeout_:
        still = " (it may still be running: it cannot be interrupted here)" if timeout_.abandoned else ""
        raise CheckError(
            f"{what} did not finish within {_seconds(timeout)} (the time limit, --timeout); nothing was checked{still}"
        ) from None
    except SystemExit as exit_:
        raise CheckError(f"the user's code called sys.exit({exit_.code!r}); nothing was checked") from None
    except BaseException as error:  # noqa: BLE001 - anything the user's code raises is reported
        return None, error


def _with_alarm(call: Callable[[], Any], timeout: float) -> Any:
    """``call()`` with SIGALRM raising :class:`_Timeout` at the limit; the previous handler and timer are restored."""
    active = [True]
    fired = [0]

    def interrupt(signum, frame):
        if not active[0]:
            return
        fired[0] += 1
        if EXIT_AFTER_IGNORED is not None and (fired[0] - 1) * _REPEAT >= EXIT_AFTER_IGNORED:
            sys.stderr.write(
                f"symprop: error: the user's code did not finish within {_seconds(timeout)} (the time limit, "
                "--timeout) and ignored being interrupted; stopped\n"
            )
            sys.stderr.flush()
            os._exit(2)
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, interrupt)
    outer = signal.setitimer(signal.ITIMER_REAL, max(timeout, 1e-3), _REPEAT)
    try:
        return call()
    finally:
        while active[0]:  # the alarm may fire once more before the flag is down: then it is caught here
            try:
                active[0] = False
            except _Timeout:
                pass
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer[0] > 0:  # someone else's timer was running: let it go on
            signal.setitimer(signal.ITIMER_REAL, *outer)


def _in_thread(call: Callable[[], Any], timeout: float, what: str) -> Any:
    """``call()`` in a daemon thread, abandoned (still running) at the limit."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            outcome["error"] = error

    worker = threading.Thread(target=target, name=f"symprop user code: {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        stop = _Timeout()
        stop.abandoned = True
        raise stop
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def load_function(target: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> Callable[..., Any]:
    """Load ``FUNC`` from ``FILE.py`` given as ``"FILE.py:FUNC"``.

    The file is run as a module (not as ``__main__``), registered in
    ``sys.modules`` and with its folder first on ``sys.path`` while it loads:
    it is the user's own code, run deliberately.

    Args:
        target: ``"FILE.py:FUNC"``.
        timeout: seconds the module may take to load (None: no limit).

    Raises:
        LoadError: a malformed target, a missing file, an error while loading
            it, or no callable of that name.
        CheckError: the module called ``sys.exit()`` or took longer than ``timeout``.
    """
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or not func:
        raise LoadError(f"--against: expected FILE.py:FUNC, got {target!r}")
    if not func.isidentifier():
        raise LoadError(f"--against: {func!r} is not a function name")
    path = Path(path_text)
    if not path.is_file():
        raise LoadError(f"--against: {path_text!r} does not exist" if not path.exists() else f"--against: {path_text!r} is not a file")
    module_name = f"symprop_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"--against: cannot load {path_text!r} as Python (it should end in .py)")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    before = sys.modules.get(module_name)
    sys.modules[module_name] = module  # as import does: dataclasses and typing look the module up here
    sys.path.insert(0, folder)
    try:
        _, error = run_user_code(lambda: spec.loader.exec_module(module), timeout=timeout, what=f"loading {path.name}")
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
        if before is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = before
    if isinstance(error, SyntaxError):
        raise LoadError(f"--against: {path.name} line {error.lineno}: SyntaxError: {error.msg}")
    if error is not None:
        raise LoadError(f"--against: loading {path.name} raised {describe(error)}")
    function = getattr(module, func, None)
    if function is None:
        functions = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise LoadError(f"--against: {path.name} has no function {func!r}{did_you_mean(func, functions)}")
    if not callable(function):
        raise LoadError(f"--against: {path.name}: {func!r} is a {type(function).__name__}, not a function")
    return function
