"""A table of named entries, one per concept (activations, losses, optimizers, output formats).

Every part of symprop that needs an activation, a loss, an optimizer or a
format looks it up in that concept's table, so adding one is one entry in one
place. Looking up a name that is not there raises
:class:`~symprop.errors.SpecError` naming it, the names there are and the
closest of them (a typo such as ``txt`` for ``text``): nothing falls through
to a default.

>>> colours = Registry("colour")
>>> colours.register("red", 1)
1
>>> colours.lookup("blue")
Traceback (most recent call last):
...
symprop.errors.SpecError: unknown colour 'blue'; expected one of: red
>>> colours.lookup("rde")
Traceback (most recent call last):
...
symprop.errors.SpecError: unknown colour 'rde'; expected one of: red; did you mean 'red'?
"""

from __future__ import annotations

import difflib
from typing import Generic, Iterable, TypeVar

from . import display
from .errors import SpecError

__all__ = ["Registry", "did_you_mean"]

T = TypeVar("T")


def did_you_mean(name: object, names: Iterable[str]) -> str:
    """``"; did you mean 'text'?"`` naming the closest of ``names`` to a mistyped ``name`` (as
    :func:`difflib.get_close_matches` judges), or ``""`` where none is close: the end of an
    "unknown name" message, for every table of names (formats, activations, spec keys, options)."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(names), n=1)
    if not close:
        lowered = {n.lower(): n for n in names}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry(dict, Generic[T]):
    """``name -> entry`` in the order registered; a ``dict`` for reading, with checked adding and lookup.

    Args:
        kind: what the entries are, for messages (``"activation"``).
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind} table: {', '.join(self)}>"

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the entries as a table, name and what each is."""
        return display.show(self, "markdown")

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under a new ``name``; a name already there is an error."""
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"{self.kind} name {name!r}: expected an identifier")
        if name in self:
            raise SpecError(f"{self.kind} {name!r} is already defined")
        self[name] = entry
        return entry

    def lookup(self, name: object) -> T:
        """The entry called ``name``.

        Raises:
            SpecError: naming ``name``, the names there are and the closest of them.
        """
        try:
            return self[name]
        except (KeyError, TypeError):
            raise SpecError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self)}{did_you_mean(name, self)}"
            ) from None
