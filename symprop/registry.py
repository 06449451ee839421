"""A table of named entries, one per concept (activations, losses, optimizers, output formats).

Every part of symprop that needs an activation, a loss, an optimizer or a
format looks it up in that concept's table, so adding one is one entry in one
place. Looking up a name that is not there raises
:class:`~symprop.errors.SpecError` naming it and the names there are: nothing
falls through to a default.

>>> colours = Registry("colour")
>>> colours.register("red", 1)
1
>>> colours.lookup("blue")
Traceback (most recent call last):
...
symprop.errors.SpecError: unknown colour 'blue'; expected one of: red
"""

from __future__ import annotations

from typing import Generic, TypeVar

from . import display
from .errors import SpecError

__all__ = ["Registry"]

T = TypeVar("T")


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
            SpecError: naming ``name`` and the names there are.
        """
        try:
            return self[name]
        except (KeyError, TypeError):
            raise SpecError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self)}") from None
