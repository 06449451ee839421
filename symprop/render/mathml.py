"""Labels, expressions, values and matrices as MathML, which current browsers render without any script.

Expressions go through SymPy's presentation MathML printer; each symbol is
printed under a placeholder name and then replaced by its label's own markup
(``W1[0,1]`` is W with subscript ``0,1`` and superscript ``(1)``, as in the
LaTeX), so no label can break the page: anything that is not a name is an
escaped ``<mtext>``. Named entities become numeric ones (an HTML page and an
XML reader both read them), ``e`` is a plain e and the sigmoid is σ.

>>> import sympy
>>> mathml_label("W1[0,1]")
'<msubsup><mi>W</mi><mrow><mn>0</mn><mo>,</mo><mn>1</mn></mrow><mn>(1)</mn></msubsup>'
>>> mathml_value(sympy.Rational(-9, 2))
'<mrow><mo>−</mo><mfrac><mn>9</mn><mn>2</mn></mfrac></mrow>'
"""

from __future__ import annotations

import html
import re
from html.entities import html5

import sympy
from sympy import Symbol
from sympy.printing.conventions import split_super_sub
from sympy.printing.mathml import MathMLPresentationPrinter

from .numbers import DEFAULT_DIGITS, FLOAT_DIGITS, decimal, dotted_product, is_long_exact

__all__ = ["math", "inline_math", "mathml_label", "mathml_name", "mathml_expr", "mathml_value", "mathml_matrix", "decimal_markup", "paren", "partial", "mo",
           "mtext", "mrow"]

_LAYER_INDEX = re.compile(r"^([A-Za-z]+)(\d+)\[(\d+(?:,\s*\d+)*)\]$")
_INDEX = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\[(\d+(?:,\s*\d+)*)\]$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ADJOINT = re.compile(r"^d(.+)/d(.+)$")
_SAMPLE = re.compile(r"^(.+)\(s(\d+)\)$")
_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ",
    "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Sigma": "Σ",
}
_BREAK = 'linebreak="goodbreak"'
_PLACEHOLDER_LETTERS = "BCDFGHJKLMNPRSTVWXZ"  # no vowels: never a Greek name or one of SymPy's modifiers


def math(inner: str, *, display: bool = False) -> str:
    """A ``<math>`` element (``display="block"`` for a display of its own)."""
    inner = _flat_fences(inner)
    return f'<math display="block">{inner}</math>' if display else f"<math>{inner}</math>"


_FENCE = re.compile(r"<mo>([()\[\]])</mo>")
_TALL = re.compile(r"<(mfrac|mtable|munder|mover|munderover|msqrt|mroot)\b")


def _flat_fences(markup: str) -> str:
    """Parentheses and brackets around nothing taller than a line, not stretchy: Chromium sets a stretched
    fence around ``z₂`` as a wider glyph, ``σ ( z₂ )``; around a fraction or a matrix they still stretch."""
    opened: list[re.Match] = []
    flat: list[re.Match] = []
    for fence in _FENCE.finditer(markup):
        if fence.group(1) in "([":
            opened.append(fence)
        elif opened and "([".index(opened[-1].group(1)) == ")]".index(fence.group(1)):
            start = opened.pop()
            if not _TALL.search(markup, start.end(), fence.start()):
                flat += [start, fence]
    for fence in sorted(flat, key=lambda m: m.start(), reverse=True):
        markup = markup[:fence.start()] + f'<mo stretchy="false">{fence.group(1)}</mo>' + markup[fence.end():]
    return markup


def mrow(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def mo(text: str, *, breakable: bool = False) -> str:
    """An operator; ``-`` is the minus sign (``breakable``: :func:`inline_math` may wrap the line before it)."""
    return f"<mo{' ' + _BREAK if breakable else ''}>{html.escape('−' if text == '-' else text)}</mo>"


def mtext(text: str) -> str:
    return f"<mtext>{html.escape(text)}</mtext>"


def _token(text: str) -> str:
    """A number as ``<mn>``, anything else as ``<mi>``."""
    return f"<mn>{text}</mn>" if text.isdigit() else f"<mi>{html.escape(text)}</mi>"


def _base(name: str) -> str:
    if name in _GREEK:
        return f"<mi>{_GREEK[name]}</mi>"
    if len(name) > 3 and name.endswith("hat"):
        return f'<mover accent="true">{_base(name[:-3])}<mo>^</mo></mover>'
    return f"<mi>{html.escape(name)}</mi>"


def mathml_name(name: str) -> str:
    """A name as math: ``delta2`` is δ with subscript 2, ``xhat1`` x̂₁, ``net_h1`` net with subscript h1
    (a name of several letters is upright, as MathML sets a multi-letter ``<mi>``)."""
    base, sups, subs = split_super_sub(name)
    out = _base(base)
    if subs:
        sub = mrow(*(_token(s) if k == 0 else mo(",") + _token(s) for k, s in enumerate(subs)))
        out = f"<msub>{out}{sub}</msub>"
    if sups:
        out = f"<msup>{out}{mrow(*(_token(s) for s in sups))}</msup>"
    return out


def _index(index: str) -> str:
    parts = [part.strip() for part in index.split(",")]
    return mrow(*(f"<mn>{p}</mn>" if k == 0 else f"<mo>,</mo><mn>{p}</mn>" for k, p in enumerate(parts)))


def paren(markup: str, value: sympy.Expr) -> str:
    """``markup`` in parentheses where ``value`` is a sum or negative (as a factor of a product)."""
    return mrow(mo("("), markup, mo(")")) if value.is_Add or value.could_extract_minus_sign() else markup


def partial(top: str, bottom: str, *, symbol: str = "∂") -> str:
    """``∂top/∂bottom`` as a fraction, each side already MathML."""
    return f"<mfrac><mrow><mi>{symbol}</mi>{top}</mrow><mrow><mi>{symbol}</mi>{bottom}</mrow></mfrac>"


def mathml_label(label: str, out: str | None = None) -> str:
    """A display label as MathML: ``W1[0,1]`` as W₀,₁ with ``(1)`` above, ``x[0]`` as x₀, a name as
    :func:`mathml_name`, an adjoint ``dL/dw`` (when ``out`` is ``L``) as ∂L/∂w, anything else as text."""
    if out is not None:
        match = _ADJOINT.match(label)
        if match and match.group(1) == out:
            return partial(mathml_label(out), mathml_label(match.group(2)))
    match = _SAMPLE.match(label)
    if match:
        return mrow(mathml_label(match.group(1)), mo("("), f"<msub><mi>s</mi><mn>{match.group(2)}</mn></msub>", mo(")"))
    match = _LAYER_INDEX.match(label)
    if match:
        base, layer, index = match.groups()
        return f"<msubsup>{mathml_name(base)}{_index(index)}<mn>({layer})</mn></msubsup>"
    match = _INDEX.match(label)
    if match:
        base, index = match.groups()
        return f"<msub>{mathml_name(base)}{_index(index)}</msub>"
    if _NAME.match(label):
        return mathml_name(label)
    return mtext(label)




class _Printer(MathMLPresentationPrinter):
    """SymPy's presentation MathML, each operator of a sum or product marked as a good place to break,
    and ``·`` between the factors of a product of names of several letters (``words``: 2·add₁·add₂,
    not 2add₁add₂; 2xy as it is)."""

    def __init__(self, settings: dict | None = None, *, words: set | frozenset = frozenset()):
        super().__init__(settings)
        self.words = words
        self._plain = self._settings["mul_symbol"]

    def _mark(self, mrow, operators: tuple[str, ...]):
        for k, child in enumerate(mrow.childNodes):
            if k and child.nodeName == "mo" and child.firstChild is not None and child.firstChild.nodeValue in operators:
                child.setAttribute("linebreak", "goodbreak")
        return mrow

    def _print_Add(self, expr, order=None):
        return self._mark(super()._print_Add(expr, order), ("+", "-"))

    def _print_Mul(self, expr):
        self._settings["mul_symbol"] = "dot" if self.words and dotted_product(expr, self.words) else self._plain
        try:
            return self._mark(super()._print_Mul(expr), ("&InvisibleTimes;", "\u2062", "&#xB7;", "·"))
        finally:
            self._settings["mul_symbol"] = self._plain


#: An ``<mi>`` of several letters: a name set upright, as a word (``add``, not σ or x).
_WORD_MARKUP = re.compile(r"<mi[^>]*>[^<&]{2,}</mi>|<mtext")

_TAG = re.compile(r"<(/?)([a-z]+)([^>]*?)(/?)>")


def _text_length(markup: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]+>", "", markup)))


def inline_math(markup: str, *, wrap: int = 60) -> str:
    """``<math>`` of the markup; a long one (over ``wrap`` characters of text) as several ``<math>``
    in a row, cut before the operators of its sums and products that sit in ``<mrow>``s only (each
    piece closes the rows it is in, the next opens them again), outside parentheses where it has such
    cuts, so that a browser wraps the formula like words: browsers do not break MathML into lines."""
    markup = _flat_fences(markup)  # before the cuts, which may part a pair
    if _text_length(markup) <= wrap or _BREAK not in markup:
        return math(markup)
    cuts, stack, depth = [], [], 0
    for tag in _TAG.finditer(markup):
        closing, name, attributes, empty = tag.groups()
        if not closing and name == "mo":
            if _BREAK in attributes and stack and all(n == "mrow" for n, _ in stack):
                cuts.append((depth, tag.start(), list(stack)))
            fence = markup[tag.end():markup.find("<", tag.end())]
            depth += (fence in "([") - (fence in ")]") if fence else 0
        if closing:
            stack.pop()
        elif not empty:
            stack.append((name, attributes))
    chosen, bounds = [], [0, *(cut[1] for cut in cuts if cut[0] == 0), len(markup)]
    for start, end in zip(bounds, bounds[1:]):  # a piece still too long is cut inside its parentheses too
        inner = [cut for cut in cuts if start <= cut[1] < end and (cut[0] == 0 or _text_length(markup[start:end]) > wrap)]
        chosen += inner
    pieces, current, at = [], "", 0
    for _, where, rows in chosen:
        pieces.append(current + markup[at:where] + "</mrow>" * len(rows))
        current, at = "".join(f"<mrow{a}>" for _, a in rows), where
    pieces.append(current + markup[at:])
    # an operator opening a piece is still between two operands: its spacing on both sides, not a prefix's
    return "<wbr>".join(math(piece if k == 0 else piece.replace(f"<mo {_BREAK}", f'<mo form="infix" {_BREAK}', 1))
                        for k, piece in enumerate(pieces))


def _placeholder(k: int) -> str:
    letters = ""
    while True:
        k, digit = divmod(k, len(_PLACEHOLDER_LETTERS))
        letters += _PLACEHOLDER_LETTERS[digit]
        if k == 0:
            return "QQ" + letters


def _entity(match: re.Match) -> str:
    name = match.group(1)
    if name in ("lt", "gt", "amp", "quot"):
        return match.group(0)
    char = html5.get(name + ";")
    return "".join(f"&#x{ord(c):X};" for c in char) if char else match.group(0)


def _finish(markup: str) -> str:
    markup = markup.replace("<mi>&ExponentialE;</mi>", "<mi>e</mi>").replace("<mi>sigmoid</mi>", "<mi>σ</mi>")
    markup = re.sub(r"<mo([^>]*)>-</mo>", r"<mo\1>−</mo>", markup)
    markup = re.sub(r"<mn>-([^<]*)</mn>", r"<mrow><mo>−</mo><mn>\1</mn></mrow>", markup)
    return re.sub(r"&([A-Za-z]+);", _entity, markup)


def mathml_expr(expr: sympy.Expr, digits: int = DEFAULT_DIGITS, out: str | None = None, *,
                written: bool = False) -> str:
    """An expression as MathML, each symbol as its label, floats to ``digits`` digits.

    ``written`` prints an unevaluated formula as typed: its own order, ``·`` between factors.
    """
    floats = {f: sympy.Float(f"{float(f):.{min(digits, FLOAT_DIGITS)}g}") for f in expr.atoms(sympy.Float)}
    symbols = sorted((s for s in expr.free_symbols if isinstance(s, Symbol)), key=lambda s: s.name)
    names = {s: Symbol(_placeholder(k)) for k, s in enumerate(symbols)}
    with sympy.evaluate(not written):
        expr = expr.xreplace({**floats, **names})
    settings = {"order": "none", "mul_symbol": "dot"} if written else {}
    words = {names[s] for s in symbols if _WORD_MARKUP.search(_finish(mathml_label(s.name, out)))}
    markup = _Printer(settings, words=words).doprint(expr)
    for symbol, placeholder in names.items():
        markup = markup.replace(f"<mi>{placeholder.name}</mi>", mathml_label(symbol.name, out))
    return _finish(markup)


def decimal_markup(text: str) -> str:
    """A decimal as ``%g`` writes it (``-1.5e-05``) as MathML: −1.5 × 10⁻⁵."""
    sign = ""
    if text.startswith("-"):
        sign, text = mo("-"), text[1:]
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = int(exponent)
        exponent_markup = mrow(mo("-"), f"<mn>{-power}</mn>") if power < 0 else f"<mn>{power}</mn>"
        return mrow(sign, f"<mn>{mantissa}</mn>", mo("×"), f"<msup><mn>10</mn>{exponent_markup}</msup>")
    return mrow(sign, f"<mn>{text}</mn>") if sign else f"<mn>{text}</mn>"


def mathml_value(value: sympy.Expr, digits: int = DEFAULT_DIGITS, *, exact: bool = False) -> str:
    """A value as the text renderers write it: a short exact form as it is, else a decimal
    (``1.5 × 10⁻⁵``); with ``exact``, every exact form, with ``≈`` its decimal."""
    if not value.is_Float and not is_long_exact(value):
        return _finish(MathMLPresentationPrinter({}).doprint(value))
    if value.is_Rational and exact:
        return _finish(MathMLPresentationPrinter({}).doprint(value))
    number = decimal_markup(decimal(value, digits))
    if value.is_Float or not exact:
        return number
    return mrow(_finish(MathMLPresentationPrinter({}).doprint(value)), mo("≈"), number)


def mathml_matrix(matrix: sympy.MatrixBase, cell) -> str:
    """A matrix in brackets (drawn by the page's style), each entry written by ``cell(value)``, right-aligned
    (Chromium honours ``columnalign``, not the style's ``text-align``)."""
    rows = "".join("<mtr>" + "".join(f"<mtd>{cell(v)}</mtd>" for v in row) + "</mtr>" for row in matrix.tolist())
    return f'<mtable class="matrix" columnalign="right">{rows}</mtable>'
