"""The rich walkthrough exported as an SVG picture (``Console.export_svg``), for slides and pages."""

from __future__ import annotations

import sympy

from ..backprop import BackwardPass
from .numbers import DEFAULT_DIGITS
from .rich import console_for, walkthrough

__all__ = ["render_svg", "record"]


def record(bp: BackwardPass, *, digits: int, expanded: bool | None, lr: sympy.Expr | None, width: int,
           exact_forms: bool = False):
    """A recording console that has printed the walkthrough (nothing goes to stdout)."""
    console = console_for(width=width, color=True, record=True)
    console.print(walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms))
    return console


def render_svg(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    width: int = 80,
    exact_forms: bool = False,
    title: str = "symprop explain",
) -> str:
    """The walkthrough as a standalone SVG document."""
    console = record(bp, digits=digits, expanded=expanded, lr=lr, width=width, exact_forms=exact_forms)
    return console.export_svg(title=title, clear=False)
