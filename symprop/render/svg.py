"""The rich walkthrough exported as an SVG picture (``Console.export_svg``), for slides and pages.

rich writes each run of text at its own ``x`` with its spaces as no-break
spaces, and browsers show that as on the terminal; librsvg (``rsvg-convert``,
Inkscape's import, many slide tools) collapses them unless the document says
``xml:space="preserve"``, so the export says it. The font is Fira Code where
it is installed, else the viewer's monospace: nothing is loaded from the
network (rich's export names a web font; those addresses are left out). The
window's title names the command that made the picture.
"""

from __future__ import annotations

import re

import sympy

from ..backprop import BackwardPass
from .html import record
from .numbers import DEFAULT_DIGITS

__all__ = ["render_svg", "portable_svg"]

_REMOTE_FONT = re.compile(r',\s*url\("https?://[^"]*"\)\s*format\("[^"]*"\)')


def portable_svg(svg: str) -> str:
    """rich's SVG with its spaces kept by every renderer, and no font fetched from the network."""
    svg = re.sub(r"<svg\b", '<svg xml:space="preserve"', svg, count=1)
    return _REMOTE_FONT.sub("", svg)


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
    """The walkthrough as a standalone SVG document, titled ``title`` (the command that made it)."""
    console = record(bp, digits=digits, expanded=expanded, lr=lr, width=width, exact_forms=exact_forms)
    return portable_svg(console.export_svg(title=title, clear=False))
