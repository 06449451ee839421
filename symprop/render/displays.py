"""Which renderer shows which object: ``print``, rich and Jupyter find them here (see :mod:`symprop.display`).

Imported by the ``symprop`` package, so registering needs no action from a
user; each entry names a class and a kind, and reads the finished object.
The renderers of objects that need numpy (networks, training) are imported
when first shown, so that ``import symprop`` loads neither numpy nor rich.
"""

from __future__ import annotations

from typing import Any, Callable

from ..display import register
from .check import check_html, check_markdown, check_rich, check_text
from .latex import adjoint_latex


def _later(module: str, name: str) -> Callable[[Any], Any]:
    """``symprop.render.<module>.<name>``, imported when it is first called."""

    def show(obj: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"symprop.render.{module}"), name)(obj)

    return show


def _derivation(kind: str) -> Callable[[Any], str]:
    """A matrix-calculus derivation (``formula`` or ``network``) as Markdown."""

    def show(obj: Any) -> str:
        from . import derive_view
        from .derive_text import render_derive_markdown

        return render_derive_markdown(getattr(derive_view, f"{kind}_view")(obj))

    return show


register("BackwardPass", "markdown")(_later("notebook", "backward_markdown"))
register("BackwardPass", "latex")(_later("notebook", "backward_latex"))
register("Adjoint", "latex")(lambda adjoint: adjoint_latex(adjoint._pass, adjoint.symbol))
register("GradcheckReport", "text")(lambda report: check_text(report, width=80))
register("GradcheckReport", "rich")(check_rich)
register("GradcheckReport", "markdown")(check_markdown)
register("GradcheckReport", "html")(check_html)
register("Graph", "svg")(_later("notebook", "graph_svg"))
register("Graph", "html")(_later("notebook", "graph_html"))
register("Architecture", "markdown")(_later("notebook", "architecture_markdown"))  # MLP, Sequential
register("Network", "markdown")(_later("notebook", "network_markdown"))
register("Compiled", "html")(_later("notebook", "compiled_html"))
register("MatrixView", "markdown")(_later("notebook", "matrix_view_markdown"))
register("MatrixView", "text")(_later("matrix", "render_matrix_text"))
register("TrainResult", "html")(_later("training", "result_html"))
register("TrainResult", "text")(_later("training", "result_text"))
register("Registry", "markdown")(_later("notebook", "registry_markdown"))
register("GraphSpec", "markdown")(_later("notebook", "spec_markdown"))
register("NetworkSpec", "markdown")(_later("notebook", "spec_markdown"))
register("Derivation", "markdown")(_derivation("formula"))  # symprop.derive's (the checker's has no display)
register("SpecDerivation", "markdown")(_derivation("network"))
