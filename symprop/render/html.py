"""The rich walkthrough exported as a standalone HTML page (colours kept, inline styles).

It is the terminal walkthrough recorded by a rich console and exported with
``Console.export_html``: the same layout and colours, to open in a browser or
embed in a notebook.
"""

from __future__ import annotations

import sympy

from ..backprop import BackwardPass
from .numbers import DEFAULT_DIGITS
from .rich import console_for, walkthrough

__all__ = ["render_html", "record"]


def record(bp: BackwardPass, *, digits: int, expanded: bool | None, lr: sympy.Expr | None, width: int,
           exact_forms: bool = False):
    """A recording console that has printed the walkthrough (nothing goes to stdout)."""
    console = console_for(width=width, color=True, record=True)
    console.print(walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms))
    return console


def render_html(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    width: int = 80,
    exact_forms: bool = False,
    inline_styles: bool = True,
) -> str:
    """The walkthrough as an HTML document (``<pre>`` with coloured spans)."""
    console = record(bp, digits=digits, expanded=expanded, lr=lr, width=width, exact_forms=exact_forms)
    return console.export_html(inline_styles=inline_styles, clear=False)
