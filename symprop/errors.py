"""The exceptions symprop raises for bad input.

Every one of them is a ``SympropError``; the command line turns any of them
into one line ``symprop: error: ...`` and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "SympropError",
    "FormulaError",
    "GraphError",
    "PointError",
    "EvaluationError",
    "SpecError",
    "LimitError",
    "CheckError",
    "ShapeError",
]


class SympropError(ValueError):
    """Base class: the input cannot be used, and the message says why."""


class FormulaError(SympropError):
    """A formula's text is outside the grammar (or names something refused)."""


class ShapeError(FormulaError):
    """A matrix formula's shapes do not conform, or a matrix has no shape."""


class GraphError(SympropError):
    """Nodes that do not make a graph: a duplicate name, a cycle, an unknown parameter."""


class PointError(SympropError):
    """The point to evaluate at is wrong: a missing, repeated or non-numeric value."""


class EvaluationError(SympropError):
    """A node or a derivative is undefined (or not real) at the point."""


class SpecError(SympropError):
    """A spec file is missing, unreadable, malformed or inconsistent."""


class LimitError(SympropError):
    """The work asked for would pass a size limit; the message says what to do instead."""


class CheckError(SympropError):
    """A gradient check that cannot be done as asked: a finite-difference step float64
    cannot take, or a user's function that calls ``sys.exit()`` or does not return in time."""
