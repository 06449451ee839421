"""A derivation as a LaTeX fragment and as a self-contained HTML page.

LaTeX: ``\\input`` it into a document (or a Beamer frame with
``allowframebreaks``) that loads ``amsmath``; nothing else is needed. Each row
is an ``align*``, ``∂L/∂W = δ x^⊤``, each further form and the value
(``bmatrix``) on a line of its own, its identity below in text; labels of the text go through :func:`escape_text`.

HTML: one page, its style inline and nothing loaded from anywhere; formulas are
the unicode text of the text format, values are tables drawn as matrices.
"""

from __future__ import annotations

import html

import sympy

from ..derive.printing import LATEX, TEXT, latex_symbol, number, shape_label, write
from .derive_text import boxed
from .derive_view import DeriveView, Row
from .latex import escape_text
from .numbers import DEFAULT_DIGITS

__all__ = ["render_derive_latex", "render_derive_html"]

def _latex_label(label: str) -> str:
    """A row's label in math: a symbol name (``dL_dW``, ``delta2``, ``prod1``), or text with ``∂``."""
    base, _, via = label.partition(" (via ")
    if base.startswith("∂") and "/∂" in base:  # ∂L/∂L, or a branch written out
        top, bottom = base[1:].split("/∂", 1)
        text = f"\\frac{{\\partial {latex_symbol(top)}}}{{\\partial {latex_symbol(bottom)}}}"
    else:
        text = latex_symbol(base)
    if via:
        text += f"\\ \\text{{(via }}{_latex_label(via.rstrip(')'))}\\text{{)}}"
    return text


def _number(value: sympy.Expr, digits: int) -> str:
    return number(value, digits, latex=True)


def _bmatrix(value: sympy.Matrix, digits: int) -> str:
    if value.shape == (1, 1):
        return _number(value[0, 0], digits)
    rows = [" & ".join(_number(v, digits) for v in row) for row in value.tolist()]
    return "\\begin{bmatrix} " + " \\\\ ".join(rows) + " \\end{bmatrix}"


def _latex_row(view: DeriveView, row: Row, digits: int) -> list[str]:
    """One row as an ``align*``: the label, then each form and the value on a line of its own."""
    sides = [write(form, LATEX, first=view.first) for form in row.forms]
    if row.value is not None:
        sides.append(_bmatrix(row.value, digits))
    shape = f"\\qquad ({shape_label(row.shape, LATEX)})"
    first, *rest = sides or [""]
    lines = [f"{_latex_label(row.label)} &= {first}{shape}"] + [f"&= {side}" for side in rest]
    out = ["\\begin{align*}", " \\\\\n".join(lines), "\\end{align*}"]
    notes = []
    if row.rule is not None:
        notes.append(f"by ${row.rule.latex}$")
    if row.note:
        notes.append(escape_text(f"({row.note})"))
    if notes:
        out.append("\\noindent " + " ".join(notes) + "\\par")
    return out


def render_derive_latex(view: DeriveView, *, digits: int = DEFAULT_DIGITS) -> str:
    """The derivation as a LaTeX fragment (needs ``amsmath`` only)."""
    lines = [f"% symprop derive: {view.title}".replace("\n", " "), f"\\noindent\\textbf{{{escape_text(view.title)}}}\\par"]
    lines += [f"\\noindent {escape_text(d)}\\par" for d in view.details]
    for section in view.sections:
        lines += ["", f"\\medskip\\noindent\\textbf{{{escape_text(section.title)}}}\\par"]
        for row in section.rows:
            lines += _latex_row(view, row, digits)
    lines += ["", f"\\medskip\\noindent {escape_text(view.check)}\\par", ""]
    return "\n".join(_ascii_tex(line) for line in lines)


def _ascii_tex(line: str) -> str:
    """pdflatex without extra packages reads ASCII only: the unicode of titles and notes as LaTeX."""
    for a, b in (("∂", "$\\partial$"), ("ᵀ", "$^{\\top}$"), ("⊙", "$\\odot$"), ("𝟙", "$\\mathbf{1}$"),
                 ("·", "$\\cdot$"), ("δ", "$\\delta$"), ("ℓ", "$\\ell$"), ("×", "$\\times$"), ("∘", "$\\circ$")):
        line = line.replace(a, b)
    return line


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table.rows { border-collapse: collapse; }
table.rows td { padding: 0.3em 0.8em; vertical-align: middle; border-bottom: 1px solid #ddd; }
.label { color: #007a8a; white-space: nowrap; } .shape { color: #777; white-space: nowrap; }
.rule { color: #8a2a8a; font-size: 0.9em; } code { font-size: 1em; }
table.m { border-collapse: collapse; border-left: 2px solid #333; border-right: 2px solid #333; display: inline-table; }
table.m td { padding: 0.05em 0.5em; text-align: right; border: none; font-family: monospace; }
.passed { color: #1a7f37; font-weight: bold; } .failed { color: #b3261e; font-weight: bold; }
"""


def _html_value(value: sympy.Matrix, digits: int) -> str:
    if value.shape == (1, 1):
        return f"<code>{html.escape(boxed(value, digits))}</code>"
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(number(v, digits))}</td>" for v in row) + "</tr>"
        for row in value.tolist()
    )
    return f'<table class="m">{rows}</table>'


def render_derive_html(view: DeriveView, *, digits: int = DEFAULT_DIGITS) -> str:
    """The derivation as one HTML page (inline style, no scripts, nothing fetched)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(view.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(view.title)}</h1>",
    ]
    out += [f"<p>{html.escape(d)}</p>" for d in view.details]
    for section in view.sections:
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        out.append('<table class="rows">')
        for row in section.rows:
            label = html.escape(view.labels.get(row.label, row.label))
            forms = " = ".join(f"<code>{html.escape(write(f, TEXT, labels=view.labels, first=view.first))}</code>" for f in row.forms)
            value = _html_value(row.value, digits) if row.value is not None else ""
            notes = []
            if row.rule is not None:
                notes.append(html.escape(row.rule.text))
            if row.note:
                notes.append(html.escape(row.note))
            out.append(
                f'<tr><td class="label">{label}</td><td class="shape">{shape_label(row.shape)}</td>'
                f"<td>{'= ' + forms if forms else ''}</td><td>{'= ' + value if value else ''}</td>"
                f'<td class="rule">{"<br>".join(notes)}</td></tr>'
            )
        out.append("</table>")
    verdict = "passed" if view.passed else "failed"
    out.append(f'<p class="{verdict}">{html.escape(view.check)}</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
