"""The walkthrough as a LaTeX fragment: ``\\input`` it into any document that loads ``amsmath``.

Expressions go through ``sympy.latex``; labels become subscripts
(``W1[0,1]`` is ``W^{(1)}_{0,1}``, ``x[0]`` is ``x_{0}``), anything else is
set as escaped text, so no label can break the document. Each backward step
is one line of an ``align*``: ``dL/dinput = dL/dnode · dnode/dinput``, the
factors in symbols, then in numbers, then the product, and the rule of the
local derivative; the rules used follow with their general forms.
Formulas as written (``w_{0} \\cdot x_{0}``) keep their order.
"""

from __future__ import annotations

import re

import sympy
from sympy import Symbol

from ..backprop import BackwardPass
from ..rules import TABLE
from .numbers import DEFAULT_DIGITS, FLOAT_DIGITS, decimal, is_long_exact
from .text import step_line
from .walkthrough import StepRow, SumRow, Walkthrough

__all__ = ["render_latex", "latex_label", "latex_expr", "latex_value", "escape_text", "math_lines"]

_LAYER_INDEX = re.compile(r"^([A-Za-z]+)(\d+)\[(\d+(?:,\s*\d+)*)\]$")
_INDEX = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\[(\d+(?:,\s*\d+)*)\]$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ADJOINT = re.compile(r"^d(.+)/d(.+)$")
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
}


def escape_text(text: str) -> str:
    """Text-mode LaTeX for any string (``\\``, braces, ``$ & # % _ ^ ~`` escaped)."""
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text)


def latex_label(label: str, out: str | None = None) -> str:
    """Math-mode LaTeX for a display label: ``W1[0,1]`` -> ``W^{(1)}_{0,1}``."""
    if out is not None:
        match = _ADJOINT.match(label)
        if match and match.group(1) == out:
            return _partial(out, match.group(2))
    match = _LAYER_INDEX.match(label)
    if match:
        base, layer, index = match.groups()
        return f"{{{sympy.latex(Symbol(base))}}}^{{({layer})}}_{{{_index(index)}}}"
    match = _INDEX.match(label)
    if match:
        base, index = match.groups()
        return f"{{{sympy.latex(Symbol(base))}}}_{{{_index(index)}}}"
    if _NAME.match(label):
        return sympy.latex(Symbol(label))
    return rf"\text{{{escape_text(label)}}}"


def _index(index: str) -> str:
    return ",".join(part.strip() for part in index.split(","))


def _partial(out: str, label: str, symbol: str = r"\partial") -> str:
    return rf"\frac{{{symbol} {latex_label(out)}}}{{{symbol} {latex_label(label)}}}"


def latex_expr(expr: sympy.Expr, digits: int = DEFAULT_DIGITS, out: str | None = None, *,
               written: bool = False) -> str:
    """``sympy.latex`` of an expression in display labels, floats rounded to ``digits``.

    ``written`` prints an unevaluated formula as typed: in its own order,
    with ``\\cdot`` between factors.
    """
    floats = {f: sympy.Float(f"{float(f):.{min(digits, FLOAT_DIGITS)}g}") for f in expr.atoms(sympy.Float)}
    if floats:
        with sympy.evaluate(not written):
            expr = expr.xreplace(floats)
    names = {s: latex_label(s.name, out) for s in expr.free_symbols if isinstance(s, Symbol)}
    if written:
        return sympy.latex(expr, symbol_names=names, order="none", mul_symbol="dot")
    return sympy.latex(expr, symbol_names=names)


def latex_value(value: sympy.Expr, digits: int = DEFAULT_DIGITS, *, exact: bool = False) -> str:
    """A value in LaTeX: ``\frac{9}{2}``, ``e^{-1}``, ``0.0841``, ``1.5 \times 10^{-5}``.

    The same rule as text: a short exact form as it is, else a decimal;
    with ``exact``, every exact form (a closed form with ``\approx`` its decimal).
    """
    if not value.is_Float and not is_long_exact(value):
        return sympy.latex(value)
    if value.is_Rational and exact:
        return sympy.latex(value)
    text = decimal(value, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    if value.is_Float or not exact:
        return text
    return rf"{sympy.latex(value)} \approx {text}"


def _factor(text: str) -> str:
    """Parenthesise a factor that is a sum or negative."""
    if text.startswith("-") or " + " in text or " - " in text:
        return rf"\left({text}\right)"
    return text


def math_lines(walk: Walkthrough) -> dict[str, list[str]]:
    """The walkthrough as ``align*`` rows, by section (forward, backward, gradients, update)."""
    digits, out = walk.digits, walk.out
    d = lambda label: _partial(out, label)  # noqa: E731
    expr = lambda e: latex_expr(e, digits, out)  # noqa: E731
    short = lambda v: latex_value(v, digits, exact=walk.exact_forms)  # noqa: E731
    forward = [
        rf"{latex_label(r.label)} &= {short(r.value)}" if r.formula is None
        else rf"{latex_label(r.label)} &= {latex_expr(r.formula, digits, out, written=r.written)} = {short(r.value)}"
        for r in walk.forward
    ]
    backward = [rf"{d(out)} &= 1"]
    for row in walk.backward:
        if isinstance(row, SumRow):
            vias = " + ".join(rf"\underbrace{{{_factor(short(v))}}}_{{\text{{via }} {latex_label(n)}}}"
                              for n, v in zip(row.vias, row.values))
            backward.append(rf"{d(row.input)} &= {vias} = {short(row.adjoint.value)}")
            continue
        assert isinstance(row, StepRow)
        step, n, v = row.step, latex_label(row.node), latex_label(row.input)
        via = rf"\Big|_{{\text{{via }} {n}}}" if row.via else ""
        upstream = _partial(out, row.node) if row.upstream is None else _factor(expr(row.upstream))
        symbols = rf"{upstream} \cdot {_factor(expr(row.local))}"
        numbers = rf"{_factor(short(step.upstream.value))} \cdot {_factor(short(step.local.value))}"
        brk = " " if len(step_line(walk, row)) == 1 else r" \\ &"
        rule = rf" & &\text{{{escape_text(row.rule.name)}}}" if row.rule else ""
        backward.append(
            rf"{d(row.input)}{via} &= {_partial(out, row.node)} \cdot \frac{{\partial {n}}}{{\partial {v}}}"
            rf" = {symbols}{brk}= {numbers} = {short(step.product.value)}{rule}"
        )
    used = {rule.name for rule in walk.rules}
    rules = [
        rf"\text{{{escape_text(entry.name)}}} &\quad " + r",\quad ".join(latex for _, latex in entry.forms)
        for entry in TABLE if entry.name in used
    ]
    gradients = []
    for row in walk.gradients:
        line = rf"{d(row.label)} &= {expr(row.compact)} = {short(row.value)}"
        if row.expanded is not None:
            line += rf" \\ &= {expr(row.expanded)}"
        gradients.append(line)
    eta = short(walk.lr) if walk.lr is not None else ""
    updates = [
        rf"{latex_label(r.label)} &\leftarrow {short(r.old)} - {_factor(eta)} \cdot"
        rf" {_factor(short(r.grad))} = {short(r.new)}"
        for r in walk.updates
    ]
    return {"forward": forward, "backward": backward, "rules": rules, "gradients": gradients, "update": updates}


def _align(rows: list[str]) -> str:
    return "\\begin{align*}\n" + " \\\\\n".join(f"  {row}" for row in rows) + "\n\\end{align*}\n"


def render_latex(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    exact_forms: bool = False,
) -> str:
    """The walkthrough as a LaTeX fragment (needs ``\\usepackage{amsmath}``)."""
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    lines = math_lines(walk)
    out = latex_label(walk.out)
    parts = [
        "% symprop walkthrough: \\input{} this into a document that loads amsmath.\n",
        "\\begingroup\\allowdisplaybreaks\n",
        "\\paragraph{Forward pass.}\n",
        f"({escape_text(walk.note.split(';')[0].capitalize())}.)\n" if walk.note else "",
        _align(lines["forward"]),
        "\\paragraph{Backward pass, right to left.}\n",
        f"Each step multiplies the gradient known from the right by the local derivative,\n"
        f"$\\frac{{\\partial {out}}}{{\\partial v}} = \\frac{{\\partial {out}}}{{\\partial n}}"
        f" \\cdot \\frac{{\\partial n}}{{\\partial v}}$; a variable used twice adds its branches.\n",
        _align(lines["backward"]),
        "\\paragraph{Rules used.}\n" if lines["rules"] else "",
        _align(lines["rules"]) if lines["rules"] else "",
        "\\paragraph{Gradients.}\n",
        _align(lines["gradients"]),
    ]
    if walk.omitted:
        parts.append(f"({escape_text(walk.omitted)})\n")
    if lines["update"]:
        eta = latex_value(walk.lr, digits, exact=exact_forms)
        parts += [
            f"\\paragraph{{Update.}} $w \\leftarrow w - \\eta \\cdot \\frac{{\\partial {out}}}{{\\partial w}}$,"
            f" $\\eta = {eta}$.\n",
            _align(lines["update"]),
        ]
    parts.append("\\endgroup\n")
    return "".join(parts)


def notebook_latex(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS) -> str:
    """The backward pass and the gradients as one display-math block (``$$...$$``) for Jupyter."""
    lines = math_lines(Walkthrough(bp, digits=digits))
    rows = lines["backward"] + lines["gradients"]
    return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"


def adjoint_latex(bp: BackwardPass, symbol: Symbol, *, digits: int = DEFAULT_DIGITS) -> str:
    """One gradient, ``$\\frac{\\partial L}{\\partial w} = d x = 6$``, for Jupyter."""
    graph = bp.graph
    walk = Walkthrough(bp, digits=digits, expanded=False)
    adjoint = bp.adjoints[symbol]
    out = walk.out
    compact = latex_expr(walk.show(adjoint.compact), digits, out)
    return f"${_partial(out, graph.label(symbol))} = {compact} = {latex_value(adjoint.value, digits)}$"
