"""Which renderer shows which object: ``print``, rich and Jupyter find them here (see :mod:`symprop.display`).

Imported by the ``symprop`` package, so registering needs no action from a
user; each entry names a class and a kind, and reads the finished object.
"""

from __future__ import annotations

from ..display import register
from .check import check_html, check_markdown, check_rich, check_text
from .latex import adjoint_latex, notebook_latex
from .markdown import render_markdown

register("BackwardPass", "markdown")(lambda bp: render_markdown(bp, math=True, heading="####"))
register("BackwardPass", "latex")(notebook_latex)
register("Adjoint", "latex")(lambda adjoint: adjoint_latex(adjoint._pass, adjoint.symbol))
register("GradcheckReport", "text")(check_text)
register("GradcheckReport", "rich")(check_rich)
register("GradcheckReport", "markdown")(check_markdown)
register("GradcheckReport", "html")(check_html)
