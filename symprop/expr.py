"""Safe formula parsing: text to SymPy without ``eval``.

SymPy's own parsers (``sympify``, ``parse_expr``) ``eval`` their text, and no
dictionary of allowed names makes that safe. So we parse the
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
from dataclasses import dataclass

import sympy
from sympy import Float, Integer, Rational, Symbol

from .errors import FormulaError
from .functions import FUNCTIONS
from .registry import did_you_mean

__all__ = [
    "Op",
    "formula_syntax",
    "parse_formula",
    "parse_node",
    "parse_written",
    "parse_written_node",
    "parse_number",
    "valid_name",
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

@dataclass(frozen=True, eq=False)
class Op:
    """One operation of a formula as typed: the tree the as-written tracer follows.

    Attributes:
        kind: ``"name"``, ``"number"``, ``"+"`` (a chain ``a + b - c``),
            ``"*"`` (a chain ``a * b / c``), ``"neg"`` (unary minus), ``"**"``,
            or a function's name as typed (``"exp"``, ``"abs"``, ...).
        args: the operands, in the order typed.
        value: SymPy's value of this piece, as SymPy builds it (the symbol of
            a name, the number of a literal, ``w`` for ``x/x*w``).
        signs: for a chain, the operator before each operand after the first
            (``"+"``/``"-"`` or ``"*"``/``"/"``).
        names: the names inside, in the order typed (empty: a constant piece,
            such as ``sqrt(2)`` or ``-1``).
    """

    kind: str
    args: tuple["Op", ...]
    value: sympy.Expr
    signs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def leaf(cls, value: sympy.Expr) -> "Op":
        """A name (a SymPy symbol) or a constant, as an operand."""
        if isinstance(value, Symbol):
            return cls("name", (), value, names=(value.name,))
        return cls("number", (), value)

    @property
    def is_leaf(self) -> bool:
        return self.kind in ("name", "number")

    @property
    def constant(self) -> bool:
        """No name inside: the piece is a number, however it is written."""
        return not self.names

    @property
    def single(self) -> bool:
        """One operation on names and numbers (a gate), such as ``w0*x0`` or ``exp(u)``."""
        if self.is_leaf:
            return False
        if not all(a.is_leaf or a.constant for a in self.args):
            return False
        # a chain is one operation when it joins two operands, or a run of constants and one name (2*3*x)
        return self.kind not in ("+", "*") or len(self.args) == 2 or sum(not a.constant for a in self.args) <= 1


def _names(*ops: Op) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for op in ops:
        for name in op.names:
            seen.setdefault(name)
    return tuple(seen)


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


def valid_name(name: str, *, what: str = "name") -> str:
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
    return Symbol(valid_name(name), real=True)


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
    """Turns a whitelisted ``ast`` tree into an :class:`Op` tree and SymPy, remembering names in order."""

    def __init__(self, symbols: dict[str, Symbol], exact: bool):
        self.symbols = symbols
        self.exact = exact
        self.names: list[str] = []

    def build(self, node: ast.AST, depth: int = 0) -> Op:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what = _NODE_NAMES.get(type(node)) or _OPERATOR_NAMES.get(type(node))
            raise FormulaError(f"{what or type(node).__name__} is not allowed in a formula")
        op = method(node, depth + 1)
        _bound_constants(op.value)
        _bound_power(op.value)
        return op

    def _Constant(self, node: ast.Constant, depth: int) -> Op:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else repr(value)
            raise FormulaError(f"{kind} is not allowed in a formula (only numbers)")
        if isinstance(value, int):
            if value.bit_length() > MAX_LITERAL_DIGITS * 4:
                raise FormulaError("integer literal is too long")
            return Op.leaf(Integer(value))
        if not math.isfinite(value):
            raise FormulaError("number is not finite")
        text = ast.get_source_segment(self.source, node) if self.source else None
        if self.exact and text is not None:
            return Op.leaf(parse_number(text.replace("_", ""), exact=True))
        return Op.leaf(Float(value))

    def _Name(self, node: ast.Name, depth: int) -> Op:
        name = valid_name(node.id)
        if name not in self.names:
            self.names.append(name)
        if name not in self.symbols:
            self.symbols[name] = make_symbol(name)
        return Op.leaf(self.symbols[name])

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Op:
        if isinstance(node.op, ast.USub):
            operand = self.build(node.operand, depth)
            value = _guard(lambda a: -a, operand.value, what="'-'")
            return Op("neg", (operand,), value, names=operand.names)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand, depth)
        raise FormulaError(f"{_OPERATOR_NAMES.get(type(node.op), 'operator')} is not allowed in a formula")

    def _BinOp(self, node: ast.BinOp, depth: int) -> Op:
        if type(node.op) not in _BINARY and not isinstance(node.op, ast.Pow):
            raise FormulaError(f"operator {_OPERATOR_NAMES.get(type(node.op), '?')} is not allowed in a formula")
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            return self._chain(node, depth)
        left = self.build(node.left, depth)
        right = self.build(node.right, depth)
        value = _guard(_bounded_power, left.value, right.value, what="'**'")
        return Op("**", (left, right), value, names=_names(left, right))

    def _chain(self, node: ast.BinOp, depth: int) -> Op:
        """``a + b - c + ...`` or ``a * b / c * ...``: one level of depth, one SymPy ``Add``/``Mul``.

        Python nests such a chain to the left, one level per term; walking it
        in a loop keeps a sum of 500 terms from counting as 500 levels deep,
        and building the ``Add`` once keeps it linear. The :class:`Op` keeps
        the chain flat too, with the operator before each term.
        """
        family = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
        operations = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, family):
            operations.append((node.op, node.right))
            node = node.left
        ops = [self.build(node, depth)]
        terms = [ops[0].value]
        signs = []
        for op, right in reversed(operations):
            ops.append(self.build(right, depth))
            term = ops[-1].value
            if isinstance(op, ast.Div):
                if term.is_zero:
                    raise FormulaError("division by zero in the formula")
                term = _guard(lambda t: t**-1, term, what="'/'")
            elif isinstance(op, ast.Sub):
                term = _guard(lambda t: -t, term, what="'-'")
            terms.append(term)
            signs.append(_SIGNS[type(op)])
        combine = sympy.Add if family[0] is ast.Add else sympy.Mul
        value = _guard(combine, *terms, what=_SYMBOLS[family[0]])
        kind = "+" if family[0] is ast.Add else "*"
        return Op(kind, tuple(ops), value, tuple(signs), _names(*ops))

    def _Call(self, node: ast.Call, depth: int) -> Op:
        if isinstance(node.func, ast.Attribute):
            raise FormulaError("attribute access is not allowed in a formula")
        if not isinstance(node.func, ast.Name):
            raise FormulaError("only calls of plain function names are allowed in a formula")
        name = node.func.id
        if name not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise FormulaError(f"unknown function {_short(name)}; allowed: {allowed}{did_you_mean(name, FUNCTIONS)}")
        if node.keywords:
            raise FormulaError(f"{name}() takes no keyword arguments")
        function, arity = FUNCTIONS[name]
        if len(node.args) not in arity:
            count = " or ".join(str(n) for n in arity)
            raise FormulaError(f"{name}() takes {count} argument(s), got {len(node.args)}")
        args = [self.build(a, depth) for a in node.args]
        if name == "exp":
            _bound_exp_argument(args[0].value)
        if name in _EXPONENTIAL and args[0].value.is_Number and args[0].value.is_finite and abs(args[0].value) > MAX_EXPONENT:
            # softplus(144**812) would make SymPy decide the sign of log(1 + exp(that)): seconds
            raise FormulaError(
                f"the constant {name}({_brief(args[0].value, 20)}) is out of range (exponent limit ±{MAX_EXPONENT})"
            )
        if any(not a.constant for a in args[1:]):  # leaky_relu's slope
            raise FormulaError(f"{name}(): the argument after the first must be a number, such as 0.1")
        value = _guard(function, *(a.value for a in args), what=f"{name}()")
        return Op(name, tuple(args), value, names=_names(*args))


_SYMBOLS = {ast.Add: "'+'", ast.Sub: "'-'", ast.Mult: "'*'", ast.Div: "'/'"}
_SIGNS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


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


#: Functions that take ``exp`` of a number argument when built.
_EXPONENTIAL = ("exp", "sigmoid", "softplus")


def _bound_exp_argument(argument: sympy.Expr) -> None:
    """``exp(k*log(b))`` is rewritten by SymPy as ``b**k``: bound ``k`` before that happens."""
    if not argument.has(sympy.log):
        return
    for atom in argument.atoms(sympy.Number):
        if abs(atom) > MAX_EXPONENT:
            raise FormulaError(
                f"exp({_short(sympy.sstr(argument), 30)}) is a power with an exponent "
                f"too large (limit {MAX_EXPONENT})"
            )


def _bound_constants(expression: sympy.Expr) -> None:
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


def _validate_result(expression: sympy.Expr, text: str) -> None:
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
    elif exponent.is_number:  # a closed form such as sqrt(2) or sigmoid(5): bounded by its value
        size = _magnitude(exponent)
        if size is None:
            raise FormulaError(f"exponent {_brief(exponent)} is not a real number")
        if size > MAX_EXPONENT:
            raise FormulaError(f"exponent {_brief(exponent)} is too large (limit {MAX_EXPONENT})")
        if base.is_Rational and base != 0 and max(base.p.bit_length(), base.q.bit_length()) * size > MAX_CONSTANT_BITS:
            raise FormulaError(f"constant power {_short(sympy.sstr(base), 20)}**{_brief(exponent, 20)} is too large")
    return base**exponent


def _magnitude(number: sympy.Expr) -> float | None:
    """``abs(number)`` as a float, or None when it is not a finite real number."""
    try:
        value = complex(number.evalf(15))
    except (TypeError, ValueError, ArithmeticError):
        return None
    if value.imag != 0 or not math.isfinite(value.real):
        return None
    return abs(value.real)


def _bound_power(expression: sympy.Expr) -> None:
    """A power SymPy made of a piece (``(w**1000)**1000`` is ``w**1000000``) stays within the bound."""
    if expression.is_Pow and expression.exp.is_Number and abs(expression.exp) > MAX_EXPONENT:
        raise FormulaError(
            f"the power {_brief(expression, 30)} has its exponent too large (limit {MAX_EXPONENT})"
        )


def parse_formula(
    text: str,
    symbols: dict[str, Symbol] | None = None,
    *,
    exact: bool = False,
) -> sympy.Expr:
    """Parse a formula such as ``"(w*x + b - y)**2/2"`` into a SymPy expression.

    Args:
        text: the formula. Numbers, names, ``+ - * / **``, parentheses and the
            functions ``exp log sqrt sin cos tanh sigmoid relu abs softplus``
            and ``leaky_relu`` (with an optional slope).
        symbols: names already known (shared between the nodes of a graph);
            new names are added to it as real symbols.
        exact: read decimals such as ``0.05`` as exact rationals.

    Returns:
        The expression. Nothing of ``text`` is ever evaluated as Python.

    Raises:
        FormulaError: the text is outside the grammar; the message names what.
    """
    op, _ = _parse(text, {} if symbols is None else symbols, exact)
    return op.value


def parse_written(text: str, symbols: dict[str, Symbol] | None = None, *, exact: bool = False) -> Op:
    """Parse a formula into the :class:`Op` tree of the operations as typed.

    The same grammar, bounds and checks as :func:`parse_formula` (whose
    expression is the tree's ``value``); nothing of ``text`` is evaluated.
    """
    op, _ = _parse(text, {} if symbols is None else symbols, exact)
    return op


def formula_syntax(text: object) -> ast.expr:
    """The front matter of every formula parser: the text checked, then Python's syntax tree of it.

    The text must be a string of printable ASCII (tabs and newlines allowed),
    not blank, of at most :data:`MAX_FORMULA_LENGTH` characters; then
    :func:`ast.parse` reads it as one expression. Nothing is evaluated: the
    callers (this module's parser and :mod:`symprop.derive.formula`'s for
    matrices) build from the tree's whitelisted nodes only.

    >>> type(formula_syntax("w*x + b")).__name__
    'BinOp'

    Raises:
        FormulaError: naming what is wrong (too long, empty, a character, the syntax).
    """
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
        with warnings.catch_warnings():  # e.g. invalid escapes in a string: refused by the builders anyway
            warnings.simplefilter("ignore")
            return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise FormulaError(f"malformed formula {_short(text)}: {str(error.msg)[:80]}") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("formula is too long or too deeply nested for Python's parser") from None


def _parse(text: str, symbols: dict[str, Symbol], exact: bool) -> tuple[Op, list[str]]:
    tree = formula_syntax(text)
    builder = _Builder(symbols, exact)
    builder.source = text.strip()
    try:
        op = builder.build(tree)
        if not isinstance(op.value, sympy.Expr):
            raise FormulaError(f"formula {_short(text)} is not an expression")
        _validate_result(op.value, text)
    except RecursionError:
        raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep") from None
    return op, builder.names


def _split_node(text: str) -> tuple[str, str]:
    if not isinstance(text, str) or text.count("=") != 1:
        raise FormulaError(f"a node is written 'name = formula', got {_short(text)}")
    name, formula = (part.strip() for part in text.split("="))
    valid_name(name, what="node name")
    return name, formula


def parse_node(
    text: str, symbols: dict[str, Symbol] | None = None, *, exact: bool = False
) -> tuple[str, sympy.Expr, list[str]]:
    """Parse one node definition ``"name = formula"``.

    Returns:
        ``(name, expression, input names in order of first appearance)``.
    """
    name, op = parse_written_node(text, symbols, exact=exact)
    return name, op.value, list(op.names)


def parse_written_node(text: str, symbols: dict[str, Symbol] | None = None, *, exact: bool = False) -> tuple[str, Op]:
    """Parse one node definition ``"name = formula"`` into its name and :class:`Op` tree."""
    name, formula = _split_node(text)
    op, _ = _parse(formula, {} if symbols is None else symbols, exact)
    return name, op


def _brief(expression: sympy.Expr, limit: int = 40) -> str:
    """An expression's text, cut to ``limit`` characters, for a message."""
    text = sympy.sstr(expression)
    return text if len(text) <= limit else text[:limit] + "..."


def _short(text: object, limit: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")
