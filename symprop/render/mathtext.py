"""A formula written as text (``(da2/dz2)^T·dL/da2``, ``tanh'(bn1) ⊙ dL/da1``) set as LaTeX or MathML.

The matrix view records its formulas as text, for the terminal. To set
them as math, this module reads such text into a small tree: names
(``W2`` is W₂, ``delta2`` δ₂, ``xhat1`` x̂₁), derivatives ``dL/dz2`` (a
fraction ∂L/∂z₂), function calls (``sigmoid(z1)``, ``tanh'(bn1)``),
transposes ``^T`` / ``ᵀ`` and powers ``**2``, the operators ``· ⊙ + − * /
=``, parentheses, numbers, and words of prose (``sum of delta2``, ``column
by column``), which stay text. Whatever it does not know is set as text,
so no formula can break a page or a document: the reading only decides how
the text looks, never what it says.

>>> formula_latex("(da2/dz2)^T·dL/da2")
'\\\\left(\\\\frac{\\\\partial a_{2}}{\\\\partial z_{2}}\\\\right)^{\\\\top} \\\\cdot \\\\frac{\\\\partial L}{\\\\partial a_{2}}'
>>> formula_latex("sum of delta2")
'\\\\text{sum of } \\\\delta_{2}'
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .latex import escape_text, latex_symbol
from .tex_layout import BREAK_ADD, BREAK_EQ, BREAK_MUL
from .mathml import mathml_name, mo, mrow, mtext, partial

__all__ = ["formula_latex", "formula_mathml", "parse"]

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<derivative>d(?P<top>[A-Za-zδ][A-Za-z0-9_δ]*)/d(?P<bottom>[A-Za-zδ][A-Za-z0-9_δ]*))"
    r"|(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
    r"|(?P<name>[A-Za-zδσμγβηλε][A-Za-z0-9_δσμγβηλε]*)"
    r"|(?P<transpose>\^T|ᵀ)"
    r"|(?P<power>\*\*)"
    r"|(?P<prime>')"
    r"|(?P<open>[(\[])|(?P<close>[)\]])"
    r"|(?P<op>[·⊙+\-−*/=,:<>≈×]|<-)"
    r"|(?P<other>.)"
)
_FUNCTIONS = {"sigmoid", "tanh", "relu", "softplus", "leaky_relu", "softmax", "exp", "log", "sqrt", "diag", "mean",
              "sum", "abs", "identity", "max", "min", "trace", "tr", "var"}
#: Names of several letters that are math where they stand alone (the rest are words of prose).
_MATH_NAMES = {"eps", "xhat", "dxhat", "lnhat", "var", "mu", "alpha", "beta", "gamma", "delta", "sigma", "eta",
               "lambda", "epsilon", "theta"}
_LATEX_FUNCTIONS = {"sigmoid": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log"}
_OPS_LATEX = {"·": r"\cdot", "⊙": r"\odot", "*": r"\,", "−": "-", "≈": r"\approx", "×": r"\times", "<-": r"\leftarrow",
              ",": ",\\ ", ":": ":\\ "}
_OPS_MATHML = {"*": "\u2062", "<-": "←", "-": "−"}
#: Greek letters in names, spelled out for SymPy's printers (``δ_ij`` is ``delta_ij``); ``eps`` is ε.
_SPELLED = {"δ": "delta", "σ": "sigma", "μ": "mu", "γ": "gamma", "β": "beta", "η": "eta", "λ": "lambda",
            "ε": "epsilon"}


@dataclass
class Item:
    """One piece of a formula: ``kind`` is name, function, derivative, number, op, text or group."""

    kind: str
    text: str = ""
    parts: list["Item"] = field(default_factory=list)  # a group's inside; a derivative's (top, bottom)
    close: str = ""
    sup: list[str] = field(default_factory=list)  # "T", "'", or a power's exponent, in order


def _is_math_name(name: str, after: str) -> bool:
    if after.startswith("(") or after.startswith("'"):
        return True  # a call: sigmoid(z1), tanh'(bn1)
    if re.search(r"\d", name) or "_" in name or len(name) == 1:
        return True
    return name in _MATH_NAMES


def _spelled(name: str) -> str:
    name = "".join(_SPELLED.get(ch, ch) for ch in name)
    return "epsilon" if name == "eps" else name


def parse(text: str) -> list[Item]:
    """The formula as a list of items (parentheses as nested groups)."""
    stack: list[list[Item]] = [[]]
    opens: list[str] = []
    tokens = list(_TOKEN.finditer(text))
    spaced = False
    for k, token in enumerate(tokens):
        kind, value = token.lastgroup, token.group(0)
        items = stack[-1]
        after = text[token.end():]
        if kind == "space":
            if items and items[-1].kind == "text":
                items[-1].text += " "
            spaced = True
            continue
        lead, spaced = (" " if spaced and items and items[-1].kind != "op" else ""), False
        if kind == "derivative":
            items.append(Item("derivative", parts=[Item("name", _spelled(token.group("top"))),
                                                   Item("name", _spelled(token.group("bottom")))]))
        elif kind == "name":
            if _is_math_name(value, after):
                items.append(Item("function" if after[:1] in "('" and value in _FUNCTIONS else "name", _spelled(value)))
            elif items and items[-1].kind == "text":
                items[-1].text += value
            else:
                items.append(Item("text", lead + value))
        elif kind == "number":
            if k > 0 and tokens[k - 1].lastgroup == "power" and items:
                items[-1].sup.append(value)
            else:
                items.append(Item("number", value))
        elif kind == "transpose" and items:
            items[-1].sup.append("T")
        elif kind == "prime" and items:
            items[-1].sup.append("'")
        elif kind == "power":
            continue
        elif kind == "open":
            opens.append(value)
            stack.append([])
        elif kind == "close" and len(stack) > 1:
            inside = stack.pop()
            outer = stack[-1]
            if outer and outer[-1].kind == "function" and outer[-1].text == "sqrt" and not outer[-1].sup:
                outer[-1] = Item("sqrt", parts=inside)  # sqrt(u) as a radical
            elif outer and outer[-1].kind == "name" and outer[-1].text.endswith("_") and not outer[-1].sup:
                outer[-1] = Item("subscript", outer[-1].text[:-1], inside)  # a_(l-1): a with subscript l-1
            else:
                outer.append(Item("group", opens.pop(), inside, close=value))
                continue
            opens.pop()
        elif kind == "op":
            if items and items[-1].kind == "text" and value in ",:" and not after.strip()[:1].isdigit():
                items[-1].text += value
            else:
                items.append(Item("op", value))
        else:
            items.append(Item("text", value))
    while len(stack) > 1:  # an unclosed parenthesis: set what is open as written
        inside = stack.pop()
        stack[-1].append(Item("group", opens.pop(), inside, close=""))
    return stack[0]


# -- LaTeX ---------------------------------------------------------------------------------


_MARK_BEFORE = {"=": BREAK_EQ, "≈": BREAK_EQ, "+": BREAK_ADD, "-": BREAK_ADD, "−": BREAK_ADD, "·": BREAK_MUL,
                "⊙": BREAK_MUL, "*": BREAK_MUL}


@dataclass(frozen=True)
class _Style:
    marks: bool = False  # break marks for a display (see .tex_layout)
    inline: bool = False  # plain delimiters and breaks after commas, so TeX can break a line of text


def _latex_items(items: list[Item], style: _Style) -> str:
    out = []
    for item in items:
        text = _latex_item(item, style)
        if style.marks and item.kind == "op" and item.text in _MARK_BEFORE:
            text = _MARK_BEFORE[item.text] + text
        out.append(text)
    return " ".join(part for part in out if part)


def _latex_sup(base: str, sup: list[str]) -> str:
    for s in sup:
        if s == "T":
            base = f"{{{base}}}^{{\\top}}" if not base.endswith(")") else f"{base}^{{\\top}}"
        elif s == "'":
            base = f"{base}'"
        else:
            base = f"{{{base}}}^{{{s}}}"
    return base


def _symbol(name: str) -> str:
    """A name in LaTeX; ``dxhat`` (a gradient's name) is d x̂, not a hat over dx."""
    if len(name) > 1 and name.startswith("d") and name.endswith("hat"):
        return "d" + latex_symbol(name[1:])
    return latex_symbol(name)


def _latex_item(item: Item, style: _Style) -> str:
    if item.kind == "name":
        return _latex_sup(_symbol(item.text), item.sup)
    if item.kind == "function":
        name = _LATEX_FUNCTIONS.get(item.text, rf"\operatorname{{{escape_text(item.text)}}}")
        return _latex_sup(name, item.sup)
    if item.kind == "derivative":
        top, bottom = (_symbol(p.text) for p in item.parts)
        return _latex_sup(rf"\frac{{\partial {top}}}{{\partial {bottom}}}", item.sup)
    if item.kind == "number":
        text = item.text
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return _latex_sup(text, item.sup)
    if item.kind == "op":
        if style.inline and item.text == ",":
            return r",\allowbreak\ "
        return _OPS_LATEX.get(item.text, item.text if item.text not in "<>" else rf"\text{{{escape_text(item.text)}}}")
    if item.kind == "sqrt":
        return _latex_sup(rf"\sqrt{{{_latex_items(item.parts, _Style())}}}", item.sup)
    if item.kind == "subscript":
        return _latex_sup(f"{_symbol(item.text)}_{{{_latex_items(item.parts, _Style())}}}", item.sup)
    if item.kind == "group":
        inside = _latex_items(item.parts, style)
        if style.inline and not item.sup:
            return f"{item.text}{inside}{item.close}"
        left = r"\left(" if item.text == "(" else r"\left["
        right = {")": r"\right)", "]": r"\right]", "": r"\right."}[item.close]
        return _latex_sup(f"{left}{inside}{right}", item.sup)
    return rf"\text{{{escape_text(item.text)}}}" if item.text.strip() else ""


def formula_latex(text: str, *, marks: bool = False, inline: bool = False) -> str:
    """Math-mode LaTeX for a formula written as text: with ``marks``, marked where a display may
    break (:func:`.tex_layout.align_rows` reads them); ``inline``, breakable as a line of text."""
    return _latex_items(parse(text), _Style(marks, inline))


# -- MathML --------------------------------------------------------------------------------


def _mathml_sup(base: str, sup: list[str]) -> str:
    for s in sup:
        if s == "T":
            base = f"<msup>{base}<mi>T</mi></msup>"
        elif s == "'":
            base = f"<msup>{base}<mo>′</mo></msup>"
        else:
            base = f"<msup>{base}<mn>{s}</mn></msup>"
    return base


def _mathml_item(item: Item) -> str:
    if item.kind == "name":
        return _mathml_sup(mathml_name(item.text), item.sup)
    if item.kind == "function":
        name = "σ" if item.text == "sigmoid" else item.text
        return _mathml_sup(f"<mi>{html.escape(name)}</mi>", item.sup)
    if item.kind == "derivative":
        top, bottom = (mathml_name(p.text) for p in item.parts)
        return _mathml_sup(partial(top, bottom), item.sup)
    if item.kind == "number":
        if "e" in item.text:
            mantissa, exponent = item.text.split("e")
            power = f"<mn>{int(exponent)}</mn>"
            return _mathml_sup(mrow(f"<mn>{mantissa}</mn>", mo("×"), f"<msup><mn>10</mn>{power}</msup>"), item.sup)
        return _mathml_sup(f"<mn>{item.text}</mn>", item.sup)
    if item.kind == "op":
        return mo(_OPS_MATHML.get(item.text, item.text))
    if item.kind == "sqrt":
        return _mathml_sup(f"<msqrt>{mrow(*(_mathml_item(p) for p in item.parts))}</msqrt>", item.sup)
    if item.kind == "subscript":
        inside = mrow(*(_mathml_item(p) for p in item.parts))
        return _mathml_sup(f"<msub>{mathml_name(item.text)}{inside}</msub>", item.sup)
    if item.kind == "group":
        closing = mo(item.close) if item.close else ""
        return _mathml_sup(mrow(mo(item.text), *(_mathml_item(p) for p in item.parts), closing), item.sup)
    return mtext(item.text.replace(" ", "\u00a0")) if item.text.strip() else ""


def formula_mathml(text: str) -> str:
    """MathML (the inside of a ``<math>``) for a formula written as text."""
    return mrow(*(_mathml_item(item) for item in parse(text)))
