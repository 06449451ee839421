"""Fuzzing the formula parser: nothing outside the grammar is accepted, and nothing executes.

For every generated string, ``parse_formula`` must either return a SymPy
expression built only of whitelisted nodes (symbols, numbers, ``+ * **`` and
the whitelisted functions; real, defined, bounded) or raise ``FormulaError``:
no other exception, no hang. While it parses, an audit hook (the strongest
evidence Python offers) and patched ``eval``/``exec``/``compile``/``__import__``
and SymPy's string parsers record anything that would run code, touch files
or start processes; the only event allowed is the one ``compile`` that
``ast.parse`` raises for the formula's own text.

The strings: random text from a hostile alphabet, token soup, mutations and
splices of real injection payloads (attribute walks, dunders, ``__import__``,
lambdas, strings, comprehensions, walrus, unicode look-alikes that NFKC
normalises to ASCII), well-formed formulas with huge numbers, deep nesting and
power towers. About 5,000 examples per run; ``SYMPROP_FUZZ_SCALE=10`` runs ten
times as many with a fresh random seed.
"""

from __future__ import annotations

import builtins
import contextlib
import faulthandler
import os
import re
import sys
import time

import pytest
import sympy
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

import sympy.parsing.sympy_parser as sympy_parser
from symprop import FormulaError, parse_formula
from symprop.expr import MAX_CONSTANT_BITS, MAX_EXPONENT, parse_number
from symprop.functions import FUNCTIONS

SCALE = int(os.environ.get("SYMPROP_FUZZ_SCALE", "1"))
SECONDS_PER_EXAMPLE = 5.0  # a refusal or a result, well within this; a hang fails the run
WATCHDOG_SECONDS = 60  # a hang inside C code (a huge int power) cannot be interrupted: exit loudly

FUZZ = settings(
    max_examples=1000 * SCALE,
    deadline=None,  # timed by hand below, with a margin for a loaded machine
    derandomize=SCALE == 1,  # reproducible in CI; a scaled-up run explores
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- what a parsed formula may be made of ------------------------------------

ALLOWED_FUNCTIONS = tuple(f for f, _ in FUNCTIONS.values() if isinstance(f, type))
ALLOWED_NODES = (
    sympy.Symbol,
    sympy.Integer,
    sympy.Rational,
    sympy.Float,
    sympy.Add,
    sympy.Mul,
    sympy.Pow,
    type(sympy.E),  # exp(1)
) + ALLOWED_FUNCTIONS
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def assert_whitelisted(expression, text):
    assert isinstance(expression, sympy.Expr), (text, expression)
    assert not expression.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo), (text, expression)
    for node in sympy.preorder_traversal(expression):
        assert isinstance(node, ALLOWED_NODES), (text, type(node))
        if isinstance(node, sympy.Symbol):
            assert NAME.match(node.name) and node.name in text and node.is_real, (text, node)
        if node.is_Rational:
            assert max(node.p.bit_length(), node.q.bit_length()) <= MAX_CONSTANT_BITS, text
        if node.is_Pow and node.exp.is_Number:
            assert abs(node.exp) <= MAX_EXPONENT, (text, node)
        if node.is_Pow and node.is_number:
            assert node.is_extended_real is not False, (text, node)
        if node.is_Float:  # a float's binary exponent is bounded like an integer's bits
            _, mantissa, exponent, bits = node._mpf_
            assert abs(exponent + bits) <= MAX_CONSTANT_BITS, (text, node)
        if isinstance(node, sympy.exp) and node.is_number:  # exp(1000000) would take minutes to sign
            assert abs(node.args[0].evalf(15)) <= MAX_EXPONENT, (text, node)


# -- nothing executes: an audit hook and patched entry points ----------------

EVENTS: list[tuple] = []
_watching: dict[str, object] = {"text": None}
FORBIDDEN_PREFIXES = (
    "exec", "os.", "subprocess.", "shutil.", "socket.", "ctypes.", "urllib.", "http.",
    "webbrowser.", "pty.", "import", "marshal.", "pickle.", "code.", "sys.settrace", "sys.setprofile",
)


def _audit(event, args):
    text = _watching["text"]
    if text is None:
        return
    if event == "compile":
        source = args[0]
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        if source != text.strip():  # ast.parse of the formula itself is the one allowed compile
            EVENTS.append((event, repr(source)[:80]))
    elif event == "open" or event.startswith(FORBIDDEN_PREFIXES):
        EVENTS.append((event, repr(args)[:120]))


sys.addaudithook(_audit)  # cannot be removed; it records only while _watching["text"] is set


def _refuse(name):
    def refused(*args, **kwargs):
        EVENTS.append((name, repr(args)[:80]))
        raise AssertionError(f"{name} was called while parsing a formula")

    return refused


_real_compile = builtins.compile
_real_import = builtins.__import__
_real_sympify = sympy.sympify


def _ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
    import ast

    if not flags & ast.PyCF_ONLY_AST:
        EVENTS.append(("compile to code", repr(source)[:80]))
        raise AssertionError("compile() to code while parsing a formula")
    return _real_compile(source, filename, mode, flags, *args, **kwargs)


def _known_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.partition(".")[0]
    if level == 0 and name not in sys.modules and top not in ("sympy", "mpmath", "symprop"):
        EVENTS.append(("import", name))
        raise AssertionError(f"import {name} while parsing a formula")
    return _real_import(name, globals, locals, fromlist, level)


def _no_string_sympify(a, *args, **kwargs):
    if isinstance(a, str):
        EVENTS.append(("sympify(str)", a[:80]))
        raise AssertionError("sympify of text while parsing a formula")
    return _real_sympify(a, *args, **kwargs)


@contextlib.contextmanager
def watched(text):
    """Parse under the audit hook, with every way to run text replaced by a tripwire."""
    saved = [(builtins, n, getattr(builtins, n)) for n in ("eval", "exec", "compile", "__import__")]
    saved += [(sympy_parser, n, getattr(sympy_parser, n)) for n in ("parse_expr", "eval_expr")]
    saved += [(sympy, "sympify", sympy.sympify), (sympy, "parse_expr", sympy.parse_expr)]
    builtins.eval = _refuse("eval")
    builtins.exec = _refuse("exec")
    builtins.compile = _ast_only_compile
    builtins.__import__ = _known_import
    sympy_parser.parse_expr = sympy.parse_expr = _refuse("parse_expr")
    sympy_parser.eval_expr = _refuse("eval_expr")
    sympy.sympify = _no_string_sympify
    EVENTS.clear()
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    _watching["text"] = text
    try:
        yield
    finally:
        _watching["text"] = None
        faulthandler.cancel_dump_traceback_later()
        for owner, name, value in saved:
            setattr(owner, name, value)


def check(text, exact=False):
    """The property: a whitelisted expression or a one-line FormulaError; no events; in time."""
    start = time.perf_counter()
    with watched(text):
        try:
            result = parse_formula(text, exact=exact)
        except FormulaError as error:
            result = error
    elapsed = time.perf_counter() - start
    assert not EVENTS, (text, EVENTS)
    assert elapsed < SECONDS_PER_EXAMPLE, (text, elapsed)
    if currently_in_test_context():  # --hypothesis-show-statistics shows the split
        event("refused" if isinstance(result, FormulaError) else "accepted")
    if isinstance(result, FormulaError):
        message = str(result)
        assert message and "\n" not in message and len(message) < 400, (text, message)
    else:
        assert_whitelisted(result, text)
    return result


# Warm SymPy's lazy imports and caches outside the watch (a first import is not user code).
for _warm in ["exp(x)*log(y)/sqrt(z) + sin(w)**2 - cos(v) + tanh(u)", "sigmoid(1) + relu(-2) + abs(-3)",
              "2**(1/3) + (-8)**(1/3) + sqrt(-1) + log(-1) + exp(1000*log(2))", "0.5*x + 1e-3", "x**0.5",
              "relu(sin(1)**2 + cos(1)**2 - 1)", "sigmoid(1)*relu(2)*abs(x)*exp(-1)"]:
    for _exact in (False, True):
        try:
            parse_formula(_warm, exact=_exact)
        except FormulaError:
            pass


# -- the strings -------------------------------------------------------------

PAYLOADS = [
    "__import__('os').system('touch /tmp/symprop_pwned')",
    "().__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()[59].__init__.__globals__['sys'].modules['os'].system('id')",
    "exp.__globals__['__builtins__']['eval']('1')",
    "sigmoid.__init__.__globals__",
    "(lambda: __import__('os'))()",
    "(lambda f: f(f))(lambda f: f(f))",
    "eval('1+1')", "exec('import os')", "open('/etc/passwd').read()", "compile('1','','eval')",
    "getattr(x, '__class__')", "globals()", "vars()", "breakpoint()", "help()", "input()",
    "[c for c in ().__class__.__bases__]", "{k: v for k, v in {}.items()}", "(y for y in x)",
    "(x := __import__('os'))", "x if __import__('os') else y", "not x", "x and y or z",
    "'abc'", "b'abc'", "f'{__import__(\"os\")}'", "r'\\d'", "x[0]", "x.real", "x[::-1]",
    "exp(x=1)", "exp(*[1])", "exp(**{})", "await x", "yield x", "lambda: 0", "...", "None", "True", "1j",
    "__𝘤𝘭𝘢𝘴𝘴__", "ｘ + ｙ", "𝐱**2", "ℯ", "x²", "x\u200b", "e\u0301", "ﬁ", "ｅｘｐ(1)",
    "x; import os", "x\nimport os", "x # comment", "x \\\n + y",
    "9**9**9", "2**100000", "(2**1000)**1000", "x**(10**6)", "((x**1000)**1000)**1000",
    "exp(10**100*log(2))", "exp(x + 10**50*log(3))", "1e-999999999", "1e999", "10**100**100",
    "(" * 200 + "x" + ")" * 200, "-" * 3000 + "x", "exp(" * 120 + "x" + ")" * 120,
    "relu(sin(1)**2 + cos(1)**2 - 1)", "relu(sin(exp(244677)))", "1/sin(exp(1000)**1000)", "sqrt(-1)", "log(0)", "1/0", "0**-1", "(-8)**(1/3)",
    "E + I + S + N + pi + oo + nan + zoo + Q", "w:200000", "x^2", "x @ y", "x // y", "x % y",
    "(w*x + b - y)**2/2", "sigmoid(w*x + b)", "tanh(abs(x)) * sqrt(y)",
]

LOOKALIKES = {  # letters that NFKC-normalise to ASCII
    "a": "𝘢ａ𝐚", "c": "𝘤ｃ𝐜", "e": "ℯｅ𝐞", "i": "𝘪ｉⅰ", "l": "𝘭ｌ", "m": "𝘮ｍ", "o": "𝘰ｏ",
    "p": "𝘱ｐ", "s": "𝘴ｓ", "t": "𝘵ｔ", "x": "𝘹ｘⅹ", "_": "＿", "(": "（", ")": "）", ".": "．",
    "'": "＇", "1": "１𝟏¹", "2": "２²",
}

HOSTILE_ALPHABET = (
    "0123456789.eE+-*/%@^&|~<>=!:;,()[]{}'\"\\#_ \t\nxyzwbEIS"
    "\x00\x0b\x7f\u200b\u00a0\u2028ｘ𝘤ℯ²（）．"
)

TOKENS = [
    "x", "y", "w", "b", "E", "I", "pi", "oo", "nan", "_x", "__class__", "__globals__", "__builtins__",
    "__import__", "__subclasses__", "os", "system", "eval", "exec", "open", "getattr", "lambda",
    "import", "for", "in", "if", "else", "not", "and", "yield", "await", "None", "True",
    *[f"{name}(" for name in FUNCTIONS], "foo(", "(", ")", "[", "]", "{", "}", ".", ",", ":", ";",
    ":=", "=", "==", "+", "-", "*", "/", "**", "//", "%", "@", "^", "~", "<<", "'", '"', "\\", "#",
    "0", "1", "2", "9", "0.5", "1e308", "1e-400", "1e-999999999", "0x1F", "1_000", "10**100", "1j",
    ".5", "5.", "9" * 120, " ", "\n", "ｘ", "𝘤𝘭𝘢𝘴𝘴",
]


def _nfkc_disguise(text: str, picks: list[int]) -> str:
    chars = list(text)
    for k, i in enumerate(picks):
        if chars and chars[i % len(chars)] in LOOKALIKES:
            options = LOOKALIKES[chars[i % len(chars)]]
            chars[i % len(chars)] = options[k % len(options)]
    return "".join(chars)


@st.composite
def mutated_payloads(draw):
    """A real payload, then splices, insertions, deletions and look-alike disguises."""
    text = draw(st.sampled_from(PAYLOADS))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["splice", "insert", "delete", "disguise", "wrap", "repeat"]))
        n = len(text)
        if kind == "splice":
            other = draw(st.sampled_from(PAYLOADS))
            i, j = draw(st.integers(0, n)), draw(st.integers(0, len(other)))
            text = text[:i] + other[j:]
        elif kind == "insert":
            i = draw(st.integers(0, n))
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif kind == "delete" and n:
            i = draw(st.integers(0, n - 1))
            text = text[:i] + text[i + draw(st.integers(1, 5)):]
        elif kind == "disguise":
            text = _nfkc_disguise(text, draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=4)))
        elif kind == "wrap":
            text = draw(st.sampled_from([f"{f}(" for f in FUNCTIONS] + ["(", "-", "x*("])) + text + ")"
        elif kind == "repeat":
            text = (text + draw(st.sampled_from(["+", "*", "**", ";", ""]))) * draw(st.integers(2, 40))
    return text


NUMBERS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["9", "10", "2", "0", "1", "0.5", "1e-3", "1e308", "1e-400", "1e-320", "1000", "1001",
                     "9" * 100, "1" + "0" * 99, "12345678901234567890", "0.1", "3.14159", "1e16"]),
)
ATOMS = st.one_of(NUMBERS, st.sampled_from(["x", "y", "w", "b", "E", "I", "pi"]))


def _combine(children):
    unary = st.sampled_from([f"{f}({{}})" for f in FUNCTIONS] + ["-{}", "+{}", "({})"])
    binary = st.sampled_from(["{} + {}", "{} - {}", "{} * {}", "{} / {}", "{}**{}", "({})**({})"])
    return st.one_of(
        st.tuples(unary, children).map(lambda t: t[0].format(t[1])),
        st.tuples(binary, children, children).map(lambda t: t[0].format(t[1], t[2])),
    )


WELL_FORMED = st.recursive(ATOMS, _combine, max_leaves=40)


@st.composite
def towers_and_depth(draw):
    """Power towers, ``exp(k*log(b))`` rewrites, and nesting near and past the depth limit."""
    kind = draw(st.sampled_from(["tower", "explog", "nest", "long"]))
    if kind == "tower":
        parts = draw(st.lists(st.one_of(NUMBERS, st.just("x")), min_size=2, max_size=5))
        if draw(st.booleans()):
            return "**".join(parts)
        return "(" * (len(parts) - 1) + parts[0] + "".join(f")**{p}" for p in parts[1:])
    if kind == "explog":
        k, base = draw(NUMBERS), draw(st.sampled_from(["2", "3", "x", "x*y", "1/2"]))
        return draw(st.sampled_from(["exp({k}*log({b}))", "exp(x + {k}*log({b}))", "exp(log({b})*{k})**{k}"])).format(k=k, b=base)
    if kind == "nest":
        depth = draw(st.integers(80, 130))
        opener = draw(st.sampled_from([f"{f}(" for f in FUNCTIONS] + ["(", "(x+", "-("]))
        return opener * depth + "x" + ")" * depth
    op = draw(st.sampled_from(["+", "*", "-", "/"]))
    n = draw(st.integers(100, 4000))
    return op.join(draw(st.sampled_from(["x", "1", "9" * 90, "x**2", "exp(x)"])) for _ in range(n))


@given(st.text(alphabet=HOSTILE_ALPHABET, max_size=80), st.booleans())
@FUZZ
def test_hostile_alphabet(text, exact):
    check(text, exact)


@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join), st.booleans())
@FUZZ
def test_token_soup(text, exact):
    check(text, exact)


@given(mutated_payloads(), st.booleans())
@FUZZ
def test_mutated_payloads(text, exact):
    check(text, exact)


@given(WELL_FORMED, st.booleans())
@FUZZ
def test_well_formed_formulas_with_hostile_numbers(text, exact):
    check(text, exact)


@given(towers_and_depth(), st.booleans())
@settings(FUZZ, max_examples=250 * SCALE)
def test_towers_depth_and_length(text, exact):
    check(text, exact)


@given(st.one_of(st.text(alphabet="0123456789.eE+-/_ xj", max_size=30), NUMBERS), st.booleans())
@settings(FUZZ, max_examples=500 * SCALE)
def test_numbers_in_at(text, exact):
    """``--at`` values and spec numbers go through ``parse_number``: a finite number or FormulaError."""
    with watched(text):
        try:
            value = parse_number(text, exact=exact)
        except FormulaError:
            return
    assert not EVENTS
    assert value.is_Number and value.is_finite, (text, value)


@pytest.mark.parametrize("text", PAYLOADS)
def test_every_payload_alone(text):
    check(text)
    check(text, exact=True)


def test_the_tripwires_work():
    """The evidence is only as good as the tripwires: show they fire."""
    with watched("x"):
        with pytest.raises(AssertionError):
            eval("1")
        with pytest.raises(AssertionError):
            sympy.sympify("x + 1")
    assert any(name == "eval" for name, _ in EVENTS)
    EVENTS.clear()
    with watched("x"):
        exec_ = _real_compile("1", "<test>", "eval")  # compile to code: the audit hook sees it
    assert any(name == "compile" for name, _ in EVENTS) and exec_ is not None
    EVENTS.clear()
    with watched("x"):
        with contextlib.suppress(OSError):
            open(os.devnull).close()
    assert any(name == "open" for name, _ in EVENTS)
    EVENTS.clear()


def test_nfkc_lookalikes_are_refused_not_normalised():
    for text in ["__𝘤𝘭𝘢𝘴𝘴__", "ｘ", "ℯ**x", "𝐞𝐱𝐩(1)", "x.＿＿class＿＿", "（x）"]:
        with pytest.raises(FormulaError, match="ASCII only"):
            parse_formula(text)


# -- the matrix formulas of `symprop derive`, held to the same standard ----------------

MATRIX_SHAPES = {"x": (3, 1), "y": (3, 1), "w": (3, 1), "b": (3, 1), "W": (3, 3)}
MATRIX_TOKENS = ["x", "y", "W", "b", ".T", "*", "+", "-", "/", "**", "(", ")", ",", "=", ";", "2", "1/2", "0",
                 "sum(", "trace(", "hadamard(", "softmax(", "sigmoid(", "log(", "relu(", ".__class__", "[0]",
                 "lambda: ", "'s'", "__import__(", "@", "z = ", "1e999", "9**9**9"]


def check_matrix(text):
    """``parse_matrix_formula``: a tree of matrix operations or a one-line FormulaError; nothing runs."""
    from symprop.derive.formula import Op, parse_matrix_formula

    start = time.perf_counter()
    with watched(text):
        try:
            result = parse_matrix_formula(text, MATRIX_SHAPES)
        except FormulaError as error:
            result = error
    elapsed = time.perf_counter() - start
    parts = {repr(p.strip())[:80] for piece in re.split(r"[;\n]", text) for p in (piece, piece.partition("=")[2])}
    assert not [e for e in EVENTS if not (e[0] == "compile" and e[1] in parts)], (text, EVENTS)
    assert elapsed < SECONDS_PER_EXAMPLE, (text, elapsed)
    if isinstance(result, FormulaError):
        message = str(result)
        assert message and "\n" not in message and len(message) < 400, (text, message)
    else:
        assert isinstance(result.root, Op) and set(result.leaves) <= set(MATRIX_SHAPES), (text, result)


@given(st.lists(st.sampled_from(MATRIX_TOKENS), max_size=25).map("".join))
@settings(FUZZ, max_examples=400 * SCALE)
def test_matrix_formulas_token_soup(text):
    check_matrix(text)


@given(mutated_payloads())
@settings(FUZZ, max_examples=300 * SCALE)
def test_matrix_formulas_mutated_payloads(text):
    check_matrix(text)


@pytest.mark.parametrize("text", PAYLOADS)
def test_matrix_formulas_every_payload_alone(text):
    check_matrix(text)
