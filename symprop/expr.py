"""Safe formula parsing: text to SymPy without ``eval``.

SymPy's own parsers (``sympify``, ``parse_expr``) ``eval`` their text, and no
dictionary of allowed names makes that safe (see STYLE.md). So we parse the
text with Python's :mod:`ast` and build SymPy objects ourselves from a
whitelist of node types: numbers, names, ``+ - * / **``, unary ``+``/``-``,
parentheses and calls to the functions in :data:`symprop.functions.FUNCTIONS`.
Anything else is refused with a :class:`~symprop.errors.FormulaError` before a
single SymPy object is built from it.

The work is bounded before it starts: text length, nesting depth, digits in a
literal, and the size of constant powers (``9**9**9`` would hang SymPy). SymPy
rewrites as it builds (``exp(k*log(2))`` becomes ``2**k``, ``(x**a)**b``
becomes ``x**(a*b)``), so the finished expression is checked again: every
node must be a number, a symbol, ``+ * **`` or a whitelisted function, real,
defined, and within the same bounds. Any other failure while building
becomes a :class:`~symprop.errors.FormulaError` too.
"""

from __future__ import annotations

import ast
import math
import re
import warnings

import sympy
from sympy import Float, Integer, Rational, Symbol

from .errors import FormulaError
from .functions import FUNCTIONS

__all__ = [
    "parse_formula",
    "parse_node",
    "parse_number",
    "check_name",
    "make_symbol",
    "MAX_FORMULA_LENGTH",
    "MAX_DEPTH",
]

MAX_FORMULA_LENGTH = 10_000
MAX_DEPTH = 100
MAX_LITERAL_DIGITS = 100
MAX_EXPONENT = 1_000
MAX_CONSTANT_BITS = 10_000  # about 3,000 digits: Python refuses to print ints past 4,300
MAX_DECIMAL_EXPONENT = 400  # 1e-400 with --exact is 1/10**400; 1e-999999999 would not finish

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_FRACTION = re.compile(r"[+-]?\d+/\d+\Z")

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div)

_OPERATOR_NAMES = {
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.MatMult: "'@'",
    ast.BitXor: "'^' (use ** for powers)",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.Invert: "'~'",
    ast.Not: "'not'",
}

_NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if' expression",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.JoinedStr: "a string",
    ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
    ast.Slice: "a slice",
}


def check_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` if it is a plain ASCII identifier symprop accepts.

    Names start with a letter and go on with letters, digits and ``_``. A name
    that starts with ``_`` (so every dunder) and the names of the whitelisted
    functions are refused.

    Raises:
        FormulaError: naming the bad name.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise FormulaError(
            f"{what} {_short(name)} is not allowed: names are ASCII letters, digits and '_', "
            "starting with a letter"
        )
    if name in FUNCTIONS:
        raise FormulaError(f"{what} {name!r} is a function name; call it as {name}(...)")
    return name


def make_symbol(name: str) -> Symbol:
    """The one way symprop makes a symbol for a user's name: real, and never ``symbols()``."""
    return Symbol(check_name(name), real=True)


def parse_number(text: str, *, exact: bool = False) -> sympy.Number:
    """Parse one number: ``3``, ``-2.5``, ``1e-3`` or ``1/2``.

    Integers and fractions are exact; decimals are floats unless ``exact``,
    which makes ``0.05`` the rational ``1/20``.

    Raises:
        FormulaError: if ``text`` is not a finite number.
    """
    text = text.strip()
    if len(text) > MAX_LITERAL_DIGITS:
        raise FormulaError(f"number {text[:20]!r}... is too long")
    if _FRACTION.match(text):
        num, den = text.split("/")
        if int(den) == 0:
            raise FormulaError(f"{text!r} divides by zero")
        return Rational(int(num), int(den))
    if not _NUMBER.match(text):
        raise FormulaError(f"{text!r} is not a number")
    if re.fullmatch(r"[+-]?\d+", text):
        return Integer(int(text))
    exponent = re.search(r"[eE]([+-]?\d+)\Z", text)
    if exponent and abs(int(exponent.group(1))) > MAX_DECIMAL_EXPONENT:
        raise FormulaError(f"{text!r}: the exponent is beyond ±{MAX_DECIMAL_EXPONENT}")
    if exact:
        return Rational(text)
    value = float(text)
    if not math.isfinite(value):
        raise FormulaError(f"{text!r} is not a finite number")
    return Float(value)


class _Builder:
    """Turns a whitelisted ``ast`` tree into SymPy, remembering names in order."""

    def __init__(self, symbols: dict[str, Symbol], exact: bool):
        self.symbols = symbols
        self.exact = exact
        self.names: list[str] = []

    def build(self, node: ast.AST, depth: int = 0) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what = _NODE_NAMES.get(type(node)) or _OPERATOR_NAMES.get(type(node))
            raise FormulaError(f"{what or type(node).__name__} is not allowed in a formula")
        expression = method(node, depth + 1)
        _check_constants(expression)
        return expression

    def _Constant(self, node: ast.Constant, depth: int) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else repr(value)
            raise FormulaError(f"{kind} is not allowed in a formula (only numbers)")
        if isinstance(value, int):
            if value.bit_length() > MAX_LITERAL_DIGITS * 4:
                raise FormulaError("integer literal is too long")
            return Integer(value)
        if not math.isfinite(value):
            raise FormulaError("number is not finite")
        text = ast.get_source_segment(self.source, node) if self.source else None
        if self.exact and text is not None:
            return parse_number(text.replace("_", ""), exact=True)
        return Float(value)

    def _Name(self, node: ast.Name, depth: int) -> sympy.Expr:
        name = check_name(node.id)
        if name not in self.names:
            self.names.append(name)
        if name not in self.symbols:
            self.symbols[name] = make_symbol(name)
        return self.symbols[name]

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> sympy.Expr:
        if isinstance(node.op, ast.USub):
            return _guard(lambda a: -a, self.build(node.operand, depth), what="'-'")
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand, depth)
        raise FormulaError(f"{_OPERATOR_NAMES.get(type(node.op), 'operator')} is not allowed in a formula")

    def _BinOp(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        if type(node.op) not in _BINARY and not isinstance(node.op, ast.Pow):
            raise FormulaError(f"operator {_OPERATOR_NAMES.get(type(node.op), '?')} is not allowed in a formula")
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            return self._chain(node, depth)
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        return _guard(_bounded_power, left, right, what="'**'")

    def _chain(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        """``a + b - c + ...`` or ``a * b / c * ...``: one level of depth, one SymPy ``Add``/``Mul``.

        Python nests such a chain to the left, one level per term; walking it
        in a loop keeps a sum of 500 terms from counting as 500 levels deep,
        and building the ``Add`` once keeps it linear.
        """
        family = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
        operations = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, family):
            operations.append((node.op, node.right))
            node = node.left
        terms = [self.build(node, depth)]
        for op, right in reversed(operations):
            term = self.build(right, depth)
            if isinstance(op, ast.Div):
                if term.is_zero:
                    raise FormulaError("division by zero in the formula")
                term = _guard(lambda t: t**-1, term, what="'/'")
            elif isinstance(op, ast.Sub):
                term = _guard(lambda t: -t, term, what="'-'")
            terms.append(term)
        combine = sympy.Add if family[0] is ast.Add else sympy.Mul
        return _guard(combine, *terms, what=_SYMBOLS[family[0]])

    def _Call(self, node: ast.Call, depth: int) -> sympy.Expr:
        if isinstance(node.func, ast.Attribute):
            raise FormulaError("attribute access is not allowed in a formula")
        if not isinstance(node.func, ast.Name):
            raise FormulaError("only calls of plain function names are allowed in a formula")
        name = node.func.id
        if name not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise FormulaError(f"unknown function {_short(name)}; allowed: {allowed}")
        if node.keywords:
            raise FormulaError(f"{name}() takes no keyword arguments")
        function, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise FormulaError(f"{name}() takes {arity} argument(s), got {len(node.args)}")
        args = [self.build(a, depth) for a in node.args]
        if name == "exp":
            _check_exp_argument(args[0])
        return _guard(function, *args, what=f"{name}()")


_SYMBOLS = {ast.Add: "'+'", ast.Sub: "'-'", ast.Mult: "'*'", ast.Div: "'/'"}


def _guard(build, *args: sympy.Expr, what: str) -> sympy.Expr:
    """Apply one SymPy operation; whatever goes wrong inside SymPy is a FormulaError."""
    try:
        return build(*args)
    except (FormulaError, RecursionError):
        raise
    except Exception as error:  # SymPy's own failures, e.g. a sign it cannot decide
        operands = ", ".join(_short(sympy.sstr(a), 30) for a in args)
        raise FormulaError(
            f"cannot build {what} of {operands} ({type(error).__name__}); simplify the formula"
        ) from None


def _check_exp_argument(argument: sympy.Expr) -> None:
    """``exp(k*log(b))`` is rewritten by SymPy as ``b**k``: bound ``k`` before that happens."""
    if not argument.has(sympy.log):
        return
    for atom in argument.atoms(sympy.Number):
        if abs(atom) > MAX_EXPONENT:
            raise FormulaError(
                f"exp({_short(sympy.sstr(argument), 30)}) is a power with an exponent "
                f"too large (limit {MAX_EXPONENT})"
            )


def _check_constants(expression: sympy.Expr) -> None:
    """Refuse constants too large to reason about before SymPy tries to.

    ``exp(1000)**1000`` is ``exp(1000000)``, and deciding the sign of
    ``sin(exp(1000000))`` (``relu``, ``abs``, a division) needs that number to
    a million bits: minutes. So a constant argument of ``exp`` is bounded by
    the exponent limit, and a float by the constant-size limit, as each
    piece of the formula is built.
    """
    if expression.is_Atom:
        if expression.is_Float and _float_bits(expression) > MAX_CONSTANT_BITS:
            raise FormulaError(f"the number {_brief(expression, 20)} is too large")
        return
    for atom in expression.atoms(sympy.Float, sympy.exp):
        if atom.is_Float:
            if _float_bits(atom) > MAX_CONSTANT_BITS:
                raise FormulaError(f"the number {_brief(atom, 20)} is too large")
        elif not atom.args[0].free_symbols:
            argument = atom.args[0]
            size = abs(argument) if argument.is_Number else abs(argument.evalf(15))
            if not size.is_Number or size > MAX_EXPONENT:
                raise FormulaError(
                    f"the constant exp({_brief(argument, 20)}) is out of range (exponent limit ±{MAX_EXPONENT})"
                )


def _float_bits(number: sympy.Float) -> int:
    """How far a float is from 1 in bits: the size of its exponent."""
    _, mantissa, exponent, bits = number._mpf_
    return abs(exponent + bits) if mantissa else 0


#: What a parsed formula may be made of (besides the whitelisted functions).
_ALLOWED_NODES = (Symbol, Rational, Float, sympy.Add, sympy.Mul, sympy.Pow, sympy.core.numbers.Exp1)


def _check_result(expression: sympy.Expr, text: str) -> None:
    """The whitelist and the bounds again, on what SymPy made of the formula."""
    functions = tuple(f for f, _ in FUNCTIONS.values() if isinstance(f, type))
    if expression.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise FormulaError(f"formula {_short(text)} is undefined as written")
    if expression.has(sympy.I):
        raise FormulaError(f"formula {_short(text)} is not real as written")
    for node in sympy.preorder_traversal(expression):
        if node.is_Pow and node.base.is_number and node.is_extended_real is False:
            raise FormulaError(f"formula {_short(text)} is not real as written: {_short(sympy.sstr(node), 30)}")
        if not isinstance(node, _ALLOWED_NODES + functions):
            raise FormulaError(
                f"formula {_short(text)} turns into {type(node).__name__}, which symprop does not handle"
            )
        if node.is_Rational and max(node.p.bit_length(), node.q.bit_length()) > MAX_CONSTANT_BITS:
            raise FormulaError(f"formula {_short(text)} makes a number with more than {MAX_CONSTANT_BITS} bits")
        if node.is_Pow and node.exp.is_Number and abs(node.exp) > MAX_EXPONENT:
            raise FormulaError(
                f"formula {_short(text)} makes the power {_short(sympy.sstr(node), 30)}: "
                f"exponent too large (limit {MAX_EXPONENT})"
            )


def _bounded_power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT:
            raise FormulaError(f"exponent {_brief(exponent)} is too large (limit {MAX_EXPONENT})")
        if base.is_Rational and base != 0:
            bits = max(base.p.bit_length(), base.q.bit_length())
            if bits * abs(float(exponent)) > MAX_CONSTANT_BITS:
                raise FormulaError(
                    f"constant power {_short(sympy.sstr(base), 20)}**{exponent} is too large"
                )
        if base.is_zero and exponent.is_negative:
            raise FormulaError("0 to a negative power in the formula")
    elif exponent.is_number:
        raise FormulaError(f"exponent {_brief(exponent)} is not a plain number")
    return base**exponent


def parse_formula(
    text: str,
    symbols: dict[str, Symbol] | None = None,
    *,
    exact: bool = False,
) -> sympy.Expr:
    """Parse a formula such as ``"(w*x + b - y)**2/2"`` into a SymPy expression.

    Args:
        text: the formula. Numbers, names, ``+ - * / **``, parentheses and the
            functions ``exp log sqrt sin cos tanh sigmoid relu abs``.
        symbols: names already known (shared between the nodes of a graph);
            new names are added to it as real symbols.
        exact: read decimals such as ``0.05`` as exact rationals.

    Returns:
        The expression. Nothing of ``text`` is ever evaluated as Python.

    Raises:
        FormulaError: the text is outside the grammar; the message names what.
    """
    expression, _ = _parse(text, {} if symbols is None else symbols, exact)
    return expression


def _parse(text: str, symbols: dict[str, Symbol], exact: bool) -> tuple[sympy.Expr, list[str]]:
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_FORMULA_LENGTH} characters")
    if not text.strip():
        raise FormulaError("formula is empty")
    bad = next((c for c in text if not (32 <= ord(c) < 127 or c in "\t\n")), None)
    if bad is not None:
        raise FormulaError(f"character {bad!r} is not allowed in a formula (ASCII only)")
    try:
        with warnings.catch_warnings():  # e.g. invalid escapes in a string: refused below anyway
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"malformed formula {_short(text)}: {str(error.msg)[:80]}") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("formula is too long or too deeply nested for Python's parser") from None
    builder = _Builder(symbols, exact)
    builder.source = text.strip()
    try:
        expression = builder.build(tree.body)
        if not isinstance(expression, sympy.Expr):
            raise FormulaError(f"formula {_short(text)} is not an expression")
        _check_result(expression, text)
    except RecursionError:
        raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep") from None
    return expression, builder.names


def parse_node(
    text: str, symbols: dict[str, Symbol] | None = None, *, exact: bool = False
) -> tuple[str, sympy.Expr, list[str]]:
    """Parse one node definition ``"name = formula"``.

    Returns:
        ``(name, expression, input names in order of first appearance)``.
    """
    if not isinstance(text, str) or text.count("=") != 1:
        raise FormulaError(f"a node is written 'name = formula', got {_short(text)}")
    name, formula = (part.strip() for part in text.split("="))
    check_name(name, what="node name")
    expression, names = _parse(formula, {} if symbols is None else symbols, exact)
    return name, expression, names


def _brief(expression: sympy.Expr, limit: int = 40) -> str:
    """An expression's text, cut to ``limit`` characters, for a message."""
    text = sympy.sstr(expression)
    return text if len(text) <= limit else text[:limit] + "..."


def _short(text: object, limit: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")
