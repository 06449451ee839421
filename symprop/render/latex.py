"""The walkthrough as a LaTeX fragment: ``\\input`` it into an article or a Beamer frame that loads ``amsmath``.

Expressions go through ``sympy.latex``; labels become subscripts
(``W1[0,1]`` is ``W^{(1)}_{0,1}``, ``x[0]`` is ``x_{0}``), names of several
letters are upright (``\\mathrm{sum}_{1}``), anything else is set as escaped
text, so no label can break the document. Each backward step is a row of an
``align*``: ``dL/dinput = dL/dnode · dnode/dinput``, the factors in symbols,
then in numbers, then the product, and the rule of the local derivative; the
rules used follow with their general forms. Rows are broken to fit a Beamer
frame (:mod:`.tex_layout`), headings are bold run-in text (Beamer has no
``\\paragraph``), and the text is ASCII, so plain pdflatex reads it.
Formulas as written (``w_{0} \\cdot x_{0}``) keep their order.
"""

from __future__ import annotations

import re

import sympy
from sympy import Symbol

from ..backprop import BackwardPass
from ..errors import SympropError
from ..notation import once
from ..rules import TABLE
from .numbers import DEFAULT_DIGITS, FLOAT_DIGITS, decimal, is_long_exact
from .tex_layout import (ARTICLE_WIDTH, BREAK_ADD, BREAK_MUL, SLIDE_WIDTH, WordsPrinter, align, align_rows,
                         breakable, tex_width)
from .walkthrough import StepRow, SumRow, Walkthrough, no_advice, reading_order

__all__ = ["render_latex", "latex_label", "latex_symbol", "latex_expr", "latex_breakable", "latex_value",
           "escape_text", "math_rows", "math_lines", "leaf_text", "document", "latex_title"]

_LAYER_INDEX = re.compile(r"^([A-Za-z]+)(\d+)\[(\d+(?:,\s*\d+)*)\]$")
_INDEX = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\[(\d+(?:,\s*\d+)*)\]$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ADJOINT = re.compile(r"^d(.+)/d(.+)$")
_SAMPLE = re.compile(r"^(.+)\(s(\d+)\)$")
_WORD = re.compile(r"^([A-Za-z]{2,})(?=$|_|\^)")
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_UNICODE_TEX = {
    "∂": r"$\partial$", "·": r"$\cdot$", "⊙": r"$\odot$", "ᵀ": r"$^{\top}$", "σ": r"$\sigma$", "δ": r"$\delta$",
    "≈": r"$\approx$", "←": r"$\leftarrow$", "→": r"$\rightarrow$", "×": r"$\times$", "−": "-", "…": r"\ldots{}",
    "𝟙": r"$\mathbf{1}$", "η": r"$\eta$", "Σ": r"$\Sigma$", "ⁿ": r"$^{n}$", "⁻": r"$^{-}$", "¹": r"$^{1}$",
    "²": r"$^{2}$", "ℓ": r"$\ell$", "∘": r"$\circ$", "–": "-{}-", "—": "-{}-{}-", "’": "'", "ε": r"$\epsilon$",
}


def escape_text(text: str) -> str:
    """Text-mode LaTeX for any string: specials escaped, ``--`` kept two hyphens, and the few
    non-ASCII signs symprop writes (``∂ · ⊙ ᵀ σ ≈ ←``) set as math, so plain pdflatex reads it."""
    out = "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text).replace("--", "-{}-")
    return "".join(_UNICODE_TEX.get(ch, ch if ord(ch) < 0x250 else "?") if ord(ch) > 127 else ch for ch in out)


def latex_label(label: str, out: str | None = None) -> str:
    """Math-mode LaTeX for a display label: ``W1[0,1]`` -> ``W^{(1)}_{0,1}``, ``sum1`` -> ``\\mathrm{sum}_{1}``."""
    if out is not None:
        match = _ADJOINT.match(label)
        if match and match.group(1) == out:
            return _partial(out, match.group(2))
    match = _SAMPLE.match(label)
    if match:
        return rf"{latex_label(match.group(1))}\,(s_{{{match.group(2)}}})"
    match = _LAYER_INDEX.match(label)
    if match:
        base, layer, index = match.groups()
        return f"{{{latex_symbol(base)}}}^{{({layer})}}_{{{_index(index)}}}"
    match = _INDEX.match(label)
    if match:
        base, index = match.groups()
        return f"{{{latex_symbol(base)}}}_{{{_index(index)}}}"
    if _NAME.match(label):
        return latex_symbol(label)
    return rf"\text{{{escape_text(label)}}}"


def latex_symbol(name: str) -> str:
    """A name as SymPy sets it (``x_{1}``, ``\\gamma``, ``\\hat{x}``), a name of several letters upright
    (``\\mathrm{sum}_{1}``, not the product s·u·m)."""
    tex = sympy.latex(Symbol(name))
    return _WORD.sub(lambda m: rf"\mathrm{{{m.group(1)}}}", tex, count=1)


def _index(index: str) -> str:
    return ",".join(part.strip() for part in index.split(","))


def _partial(out: str, label: str, symbol: str = r"\partial") -> str:
    return rf"\frac{{{symbol} {latex_label(out)}}}{{{symbol} {latex_label(label)}}}"


def _prepare(expr: sympy.Expr, digits: int, out: str | None, written: bool) -> tuple[sympy.Expr, dict]:
    floats = {f: sympy.Float(f"{float(f):.{min(digits, FLOAT_DIGITS)}g}") for f in expr.atoms(sympy.Float)}
    if floats:
        with sympy.evaluate(not written):
            expr = expr.xreplace(floats)
    names = {s: latex_label(s.name, out) for s in expr.free_symbols if isinstance(s, Symbol)}
    settings: dict = {"symbol_names": names}
    if written:
        settings.update(order="none", mul_symbol="dot")
    return expr, settings


def _words(settings: dict) -> set:
    """The symbols whose LaTeX is a name of several letters (``\\mathrm{add}_{1}``, or text)."""
    return {s for s, tex in settings["symbol_names"].items() if r"\mathrm{" in tex or tex.startswith(r"\text{")}


def latex_expr(expr: sympy.Expr, digits: int = DEFAULT_DIGITS, out: str | None = None, *,
               written: bool = False) -> str:
    """``sympy.latex`` of an expression in display labels, floats rounded to ``digits``.

    ``written`` prints an unevaluated formula as typed: in its own order,
    with ``\\cdot`` between factors.
    """
    expr, settings = _prepare(expr, digits, out, written)
    return WordsPrinter(settings, words=_words(settings)).doprint(expr)


def latex_breakable(expr: sympy.Expr, digits: int = DEFAULT_DIGITS, out: str | None = None, *,
                    written: bool = False) -> str:
    """:func:`latex_expr` with the marks where a long display may break (see :mod:`.tex_layout`)."""
    expr, settings = _prepare(expr, digits, out, written)
    return breakable(expr, words=_words(settings), **settings)


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
    if text.startswith("-") or " + " in text or " - " in text or BREAK_ADD in text:
        return rf"\left({text}\right)"
    return text


#: One row of a display: the left-hand side, the forms joined by ``=`` (break-marked LaTeX), a tail.
Row = tuple[str, list[str], str]


def math_rows(walk: Walkthrough) -> dict[str, list[Row]]:
    """The walkthrough's displays by section (forward, backward, rules, gradients, update), as rows."""
    digits, out = walk.digits, walk.out
    d = lambda label: _partial(out, label)  # noqa: E731
    expr = lambda e: latex_breakable(e, digits, out)  # noqa: E731
    short = lambda v: latex_value(v, digits, exact=walk.exact_forms)  # noqa: E731
    forward: list[Row] = [
        (latex_label(r.label), [latex_breakable(r.formula, digits, out, written=r.written), short(r.value)], "")
        for r in walk.forward if r.formula is not None
    ]
    backward: list[Row] = [(d(out), ["1"], "")]
    for row in walk.backward:
        if isinstance(row, SumRow):
            vias = (BREAK_ADD + " + ").join(rf"\underbrace{{{_factor(short(v))}}}_{{\text{{via }} {latex_label(n)}}}"
                                            for n, v in zip(row.vias, row.values))
            backward.append((d(row.input), [vias, short(row.adjoint.value)], ""))
            continue
        assert isinstance(row, StepRow)
        step, n, v = row.step, latex_label(row.node), latex_label(row.input)
        via = rf"\Big|_{{\text{{via }} {n}}}" if row.via else ""
        upstream = _partial(out, row.node) if row.upstream is None else _factor(expr(row.upstream))
        times = BREAK_MUL + r" \cdot "
        symbols = f"{upstream}{times}{_factor(expr(row.local))}"
        numbers = f"{_factor(short(step.upstream.value))}{times}{_factor(short(step.local.value))}"
        forms = [rf"{_partial(out, row.node)} \cdot \frac{{\partial {n}}}{{\partial {v}}}", symbols, numbers,
                 short(step.product.value)]
        if step.upstream.expr.is_Number and step.local.expr.is_Number:  # the symbols are the numbers
            del forms[1]
        forms = once(forms)  # ``1 \cdot \frac{1}{2}`` twice where the factors already are numbers
        rule = rf"\tag*{{[{escape_text(row.rule.name)}]}}" if row.rule else ""
        backward.append((f"{d(row.input)}{via}", forms, rule))
    used = {rule.name for rule in walk.rules}
    rules: list[Row] = [
        (rf"\text{{{escape_text(entry.name)}}}", [latex for _, latex in entry.forms], "")
        for entry in TABLE if entry.name in used
    ]
    gradients: list[Row] = []
    for row in walk.gradients:
        gradients.append((d(row.label), [expr(row.compact), short(row.value)], ""))
        if row.expanded is not None:  # in the leaves, on a row of its own
            gradients.append(("", [expr(row.expanded)], ""))
    eta = short(walk.lr) if walk.lr is not None else ""
    updates: list[Row] = [
        (latex_label(r.label), [rf"{short(r.old)} - {_factor(eta)}{BREAK_MUL} \cdot {_factor(short(r.grad))}",
                                short(r.new)], "")
        for r in walk.updates
    ]
    return {"forward": forward, "backward": backward, "rules": rules, "gradients": gradients, "update": updates}


def math_lines(walk: Walkthrough, *, width: float | None = SLIDE_WIDTH) -> dict[str, list[str]]:
    """The walkthrough as ``align*`` rows by section, broken to fit ``width`` ems (None: one line each)."""
    lines = {}
    for section, rows in math_rows(walk).items():
        if section == "rules":
            lines[section] = _rule_lines(rows, width)
        elif section == "update":
            lines[section] = align_rows(rows, width=width, relation=r"\leftarrow")
        else:
            lines[section] = align_rows(rows, width=width)
    return lines


def _rule_lines(rows: list[Row], width: float | None) -> list[str]:
    """``\\text{quotient} & form,\\quad form``, or a form per line where they do not fit."""
    lines = []
    room = None if width is None or not rows else width - max(tex_width(lhs) for lhs, _, _ in rows) - 1
    for lhs, forms, _ in rows:
        if room is None or tex_width(r",\quad ".join(forms)) <= room:
            lines.append(rf"{lhs} &\quad " + r",\quad ".join(forms))
        else:
            lines += [rf"{lhs} &\quad {forms[0]}"] + [rf"&\quad {form}" for form in forms[1:]]
    return lines


def leaf_text(walk: Walkthrough) -> str:
    """The leaves' values as one sentence of inline math, which TeX breaks like any text."""
    rows = [r for r in reading_order(walk.forward) if r.formula is None]
    if not rows:
        return ""
    short = lambda v: latex_value(v, walk.digits, exact=walk.exact_forms)  # noqa: E731
    return "At " + ", ".join(f"${latex_label(r.label)} = {short(r.value)}$" for r in rows) + ".\n"


def _heading(text: str) -> str:
    """A run-in heading that article and Beamer both know (Beamer has no ``\\paragraph``)."""
    return f"\\par\\medskip\\noindent\\textbf{{{escape_text(text)}}}\\par\n"


def render_latex(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    exact_forms: bool = False,
    width: float | None = None,
    standalone: str | None = None,
) -> str:
    """The walkthrough as a LaTeX fragment (needs ``\\usepackage{amsmath}``), in an article or a Beamer
    frame ``[allowframebreaks]``; or, with ``standalone`` (``"article"`` or ``"beamer"``), a whole document.

    Displays are broken to ``width`` ems: by default a Beamer frame's width, or an article's for a
    standalone article.
    """
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    if width is None:
        width = ARTICLE_WIDTH if standalone == "article" else SLIDE_WIDTH
    lines = math_lines(walk, width=width)
    out = latex_label(walk.out)
    parts = [
        "% symprop walkthrough: \\input{} this into a document or a Beamer frame [allowframebreaks] that\n"
        "% loads amsmath.\n",
        "\\begingroup\\allowdisplaybreaks\n",
        _heading("Forward pass."),
        f"({escape_text(no_advice(walk.note).capitalize())}.)\n" if walk.note else "",
        leaf_text(walk),
        align(lines["forward"]),
        _heading("Backward pass, right to left."),
        f"Each step multiplies the gradient known from the right by the local derivative,\n"
        f"$\\frac{{\\partial {out}}}{{\\partial v}} = \\frac{{\\partial {out}}}{{\\partial n}}"
        f" \\cdot \\frac{{\\partial n}}{{\\partial v}}$; a variable used twice adds its branches.\n",
        align(lines["backward"]),
        _heading("Rules used.") if lines["rules"] else "",
        align(lines["rules"]),
        _heading("Gradients."),
        align(lines["gradients"]),
    ]
    if walk.omitted:
        parts.append(f"({escape_text(no_advice(walk.omitted))}.)\n")
    if lines["update"]:
        eta = latex_value(walk.lr, digits, exact=exact_forms)
        parts += [
            _heading("Update."),
            f"$w \\leftarrow w - \\eta \\cdot \\frac{{\\partial {out}}}{{\\partial w}}$, $\\eta = {eta}$.\n",
            align(lines["update"]),
        ]
    parts.append("\\endgroup\n")
    fragment = "".join(parts)
    return fragment if standalone is None else document(fragment, title=latex_title(walk), documentclass=standalone)


def latex_title(walk: Walkthrough) -> str:
    """The walkthrough's title in LaTeX, the loss as math."""
    formula = walk.loss_formula()
    if formula is None:
        return escape_text(walk.title())
    return f"Backpropagation through ${latex_label(walk.out)} = {latex_expr(formula, walk.digits, walk.out, written=walk.loss_written)}$"


def document(fragment: str, *, title: str, documentclass: str = "article") -> str:
    """A whole document around a fragment, ready for pdflatex: an ``article``, or ``beamer`` with the
    fragment in one frame that breaks across slides (``allowframebreaks``); ``title`` is LaTeX."""
    if documentclass not in ("article", "beamer"):
        raise SympropError(f"a standalone document is an article or beamer, not {documentclass!r}")
    head = title
    if documentclass == "beamer":
        return (
            "\\documentclass{beamer}\n\\usepackage{amsmath}\n\\begin{document}\n"
            f"\\begin{{frame}}[allowframebreaks]{{{head}}}\n{fragment}\\end{{frame}}\n\\end{{document}}\n"
        )
    return (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        f"\\section*{{{head}}}\n{fragment}\\end{{document}}\n"
    )


def notebook_latex(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS) -> str:
    """The backward pass and the gradients as one display-math block (``$$...$$``) for Jupyter."""
    lines = math_lines(Walkthrough(bp, digits=digits), width=None)
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
