"""The output formats: one entry per name, saying what each can show and which file suffixes pick it.

A :class:`Format` has a renderer per kind of thing it can show:

* ``walkthrough``: a recorded backward pass (``symprop explain``, ``symprop demo``);
* ``report``: a gradient-check report (``symprop check``);
* ``matrix``: a network's matrix view (``explain --view matrix``);
* ``graph``: the computation graph (``symprop graph``); PNG and PDF are bytes, not text.
* ``derivation``: a matrix derivation, a formula's or a network's (``symprop derive``).

The command line's ``--format`` choices and the ``--output`` suffixes come from
:data:`FORMATS`; :func:`renderer` raises a :class:`~symprop.errors.SympropError`
that names the format and the kind when a format cannot show something, so
nothing silently falls back to another format.

>>> [f.name for f in formats_for("report")]
['rich', 'text', 'markdown', 'html', 'json']
>>> format_for_suffix("walk.tex", "walkthrough")
'latex'
>>> [f.name for f in formats_for("derivation")]
['rich', 'text', 'markdown', 'latex', 'html', 'json']
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from rich.console import Console

from ..errors import SympropError
from ..registry import Registry, did_you_mean
from . import check as check_render
from . import (check_page, derive_json, derive_tex, derive_text, dot, html, json, latex, markdown, matrix_html,
               matrix_latex, matrix_parts, matrix_rich, rich, svg, text)
from .derive_view import derivation_view
from .matrix import matrix_dict, render_matrix_text

__all__ = ["Format", "FORMATS", "KINDS", "renderer", "formats_for", "format_for_suffix", "RenderOptions"]

#: What a format can show.
KINDS = ("walkthrough", "report", "matrix", "graph", "derivation")


@dataclass(frozen=True)
class RenderOptions:
    """What a renderer may be asked for; each format uses what applies to it.

    Attributes:
        digits: significant digits of decimals.
        expanded: show every expanded gradient (True), only the short ones (None), or none (False).
        lr: a learning rate, to show the update ``w - lr * dL/dw``.
        exact_forms: print every exact value in its exact form (else long ones as decimals).
        color: ANSI colours (rich on a terminal).
        width: the line width, for formats that wrap (None: the terminal's).
        standalone: LaTeX as a whole document, ``"article"`` or ``"beamer"`` (None: a fragment).
        rankdir: a graph's direction: ``auto`` (whichever fits a 16:9 slide), ``TB`` or ``LR``.
        view: a graph's boxes: ``scalar`` (one per node) or ``layers`` (one per layer of a network).
        captions: a caption per layer, for ``view="layers"``.
        title: the title of a picture (the SVG walkthrough's window), e.g. the command that made it.
    """

    digits: int = 6
    expanded: bool | None = None
    lr: Any = None
    exact_forms: bool = False
    color: bool = False
    width: int | None = 80
    standalone: str | None = None
    rankdir: str = "auto"
    view: str = "scalar"
    captions: Mapping[str, str] | None = None
    title: str | None = None


@dataclass(frozen=True)
class Format:
    """One output format: its name, the ``--output`` suffixes that pick it, and a renderer per kind."""

    name: str
    suffixes: tuple[str, ...] = ()
    renderers: dict[str, Callable[..., str | bytes]] = field(default_factory=dict)

    def can(self, kind: str) -> bool:
        return kind in self.renderers


def _walk(module_function: Callable[..., str]) -> Callable[..., str]:
    """A walkthrough renderer that takes digits, expanded, lr and exact_forms."""
    return lambda bp, o: module_function(bp, digits=o.digits, expanded=o.expanded, lr=o.lr, exact_forms=o.exact_forms)


def _dot(bp: Any, o: RenderOptions) -> str:
    return dot.render_dot(bp, digits=o.digits, rankdir=o.rankdir, view=o.view, captions=o.captions)


def _rich_report(report: Any, o: RenderOptions) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=o.color, color_system="truecolor" if o.color else None,
                      highlight=False, emoji=False)
    console.print(report)
    return buffer.getvalue()


def _derivation(module_function: Callable[..., str]) -> Callable[..., str]:
    """A derivation renderer: it writes the view of the derivation (:func:`derivation_view`) with digits."""
    return lambda result, o: module_function(derivation_view(result), digits=o.digits)


FORMATS: Registry[Format] = Registry("format")
for _format in (
    Format("rich", (), {
        "walkthrough": lambda bp, o: rich.render_rich(
            bp, digits=o.digits, expanded=o.expanded, lr=o.lr, color=o.color, width=o.width
        ),
        "report": _rich_report,
        "matrix": lambda view, o: matrix_rich.render_matrix_rich(view, digits=o.digits, color=o.color),
        "derivation": lambda result, o: derive_text.render_derive_rich(
            derivation_view(result), digits=o.digits, color=o.color, width=o.width
        ),
    }),
    Format("text", (".txt",), {
        "walkthrough": lambda bp, o: text.render_text(
            bp, digits=o.digits, expanded=o.expanded, lr=o.lr, exact_forms=o.exact_forms, width=o.width or 80
        ),
        "report": lambda report, o: check_render.check_text(report, width=o.width or 80),
        "matrix": lambda view, o: render_matrix_text(view, digits=o.digits),
        "derivation": _derivation(derive_text.render_derive_text),
    }),
    Format("markdown", (".md", ".markdown"), {
        "walkthrough": _walk(markdown.render_markdown),
        "report": lambda report, o: check_render.check_markdown(report),
        "matrix": lambda view, o: matrix_latex.render_matrix_markdown(view, digits=o.digits),
        "derivation": _derivation(derive_text.render_derive_markdown),
    }),
    Format("latex", (".tex",), {
        "walkthrough": lambda bp, o: latex.render_latex(bp, digits=o.digits, expanded=o.expanded, lr=o.lr,
                                                        exact_forms=o.exact_forms, standalone=o.standalone),
        "matrix": lambda view, o: matrix_latex.render_matrix_latex(view, digits=o.digits, standalone=o.standalone),
        "derivation": _derivation(derive_tex.render_derive_latex),
    }),
    Format("html", (".html", ".htm"), {
        "walkthrough": _walk(html.render_html),
        "report": lambda report, o: check_page.render_report_html(report, digits=o.digits),
        "matrix": lambda view, o: matrix_html.render_matrix_html(view, digits=o.digits),
        "derivation": _derivation(derive_tex.render_derive_html),
    }),
    Format("svg", (".svg",), {
        "walkthrough": lambda bp, o: svg.render_svg(bp, digits=o.digits, expanded=o.expanded, lr=o.lr,
                                                    exact_forms=o.exact_forms, title=o.title or "symprop explain"),
        "graph": lambda bp, o: dot.to_svg(_dot(bp, o)),
    }),
    Format("dot", (".dot", ".gv"), {"graph": _dot}),
    Format("png", (".png",), {"graph": lambda bp, o: dot.to_image(_dot(bp, o), "png")}),
    Format("pdf", (".pdf",), {"graph": lambda bp, o: dot.to_image(_dot(bp, o), "pdf")}),
    Format("json", (".json",), {
        "walkthrough": lambda bp, o: json.dumps(json.explain_dict(bp, lr=o.lr)),
        "report": lambda report, o: json.dumps(report.to_dict()),
        "matrix": lambda view, o: json.dumps({**matrix_dict(view), **matrix_parts.parts_dict(view)}),
        "derivation": lambda result, o: json.dumps(derive_json.derivation_dict(result)),
    }),
):
    FORMATS.register(_format.name, _format)
del _format


def formats_for(kind: str) -> list[Format]:
    """The formats that can show ``kind``, in the table's order."""
    if kind not in KINDS:
        raise SympropError(f"unknown kind of output {kind!r}; expected one of: {', '.join(KINDS)}")
    return [f for f in FORMATS.values() if f.can(kind)]


def renderer(name: str, kind: str) -> Callable[[Any, RenderOptions], str]:
    """The function that renders ``kind`` in format ``name``: ``f(thing, options) -> str``.

    Raises:
        SympropError: an unknown format, or one that cannot show ``kind`` (naming those that can).
    """
    able = ", ".join(f.name for f in formats_for(kind))
    if name not in FORMATS:
        raise SympropError(f"unknown format {name!r}; expected one of: {able}{did_you_mean(name, FORMATS)}")
    if not FORMATS[name].can(kind):
        raise SympropError(f"the {name} format cannot show a {kind}; use one of: {able}")
    return FORMATS[name].renderers[kind]


def format_for_suffix(path: str, kind: str) -> str | None:
    """The format an ``--output`` file's suffix picks for ``kind`` (None for an unknown suffix)."""
    suffix = Path(path).suffix.lower()
    for format_ in formats_for(kind):
        if suffix in format_.suffixes:
            return format_.name
    return None
