"""Loading a user's gradient function from ``FILE.py:FUNC``.

The file is the user's own code, run deliberately: it is loaded as a module
(not as ``__main__``), with its folder first on ``sys.path`` while it loads.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import SympropError

__all__ = ["load_function", "LoadError", "one_line"]


class LoadError(SympropError):
    """The user's gradient function cannot be loaded (bad path, syntax error, no such name)."""


def one_line(error: BaseException) -> str:
    """An exception's message on one line, at most 300 characters."""
    text = " ".join(str(error).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def load_function(target: str) -> Callable[..., Any]:
    """Load ``FUNC`` from ``FILE.py`` given as ``"FILE.py:FUNC"``.

    The file is run as a module (not as ``__main__``), its folder first on
    ``sys.path`` while it loads: it is the user's own code, run deliberately.

    Raises:
        LoadError: a malformed target, a missing file, an error while loading
            it, or no callable of that name.
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
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LoadError(f"--against: {path.name} line {error.lineno}: SyntaxError: {error.msg}") from None
    except BaseException as error:  # noqa: BLE001 - anything the user's module does on import
        if isinstance(error, KeyboardInterrupt):
            raise
        raise LoadError(f"--against: loading {path.name} raised {type(error).__name__}: {one_line(error)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    function = getattr(module, func, None)
    if function is None:
        raise LoadError(f"--against: {path.name} has no function {func!r}")
    if not callable(function):
        raise LoadError(f"--against: {path.name}: {func!r} is a {type(function).__name__}, not a function")
    return function
