"""How symprop's objects show themselves (``print``, rich, Jupyter) without the library importing a renderer.

A class that can be displayed defines its ``__str__`` / ``_repr_markdown_`` /
... as a call to :func:`show`, which looks up the renderer registered for that
class and kind. The renderers register themselves in
:mod:`symprop.render.displays`, which the ``symprop`` package imports, so the
data flows one way: the library records, the renderers read.

>>> from symprop import display
>>> display.show(object(), "markdown") is None
True
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["register", "show", "KINDS"]

#: The kinds of display: plain text (``print``), a rich renderable, and Jupyter's MIME types.
KINDS = ("text", "rich", "markdown", "latex", "html", "svg")

_RENDERERS: dict[tuple[str, str], Callable[[Any], Any]] = {}


def register(class_name: str, kind: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Decorator: ``fn(obj)`` renders instances of the class called ``class_name`` as ``kind``.

    Classes are named, not imported, so registering a renderer never imports
    the library module that defines the class (nor numpy with it).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown display kind {kind!r}; expected one of: {', '.join(KINDS)}")

    def add(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _RENDERERS[(class_name, kind)] = fn
        return fn

    return add


def show(obj: Any, kind: str) -> Any:
    """``obj`` rendered as ``kind`` by the renderer registered for its class (or a base class), else None."""
    for cls in type(obj).__mro__:
        renderer = _RENDERERS.get((cls.__name__, kind))
        if renderer is not None:
            return renderer(obj)
    return None
