r"""Long displays broken into lines that fit a page or a slide.

TeX breaks the lines of a paragraph, not of a display: a long gradient in an
``align*`` runs off the page. So the LaTeX renderers mark where an
expression may break (before a ``+`` or ``-`` of a sum, between the factors
of a product, at the ``=`` between the forms of a row), estimate the width of
each piece in ems from its LaTeX, and pack the pieces into rows of one
``align*`` no wider than :data:`SLIDE_WIDTH` (a Beamer frame's text width;
an article's is wider). A break inside parentheses closes them with
``\right.`` and opens the next row with ``\left.``, as amsmath's manual
does by hand. Nothing but ``amsmath`` is needed.

>>> import sympy
>>> for row in align_rows([("L", [breakable(sum(sympy.symbols("a:9"))), "1"])], width=14):
...     print(row)
L &= a_{0} + a_{1} + a_{2} + a_{3} + a_{4}
&\quad  + a_{5} + a_{6} + a_{7} + a_{8} = 1
"""

from __future__ import annotations

import re
from typing import Sequence

import sympy
from sympy.printing.latex import LatexPrinter

from .numbers import dotted_product

__all__ = ["breakable", "WordsPrinter", "strip_marks", "tex_width", "align_rows", "align", "fit_align", "mark_operators", "SLIDE_WIDTH", "ARTICLE_WIDTH", "BREAK_ADD",
           "BREAK_MUL", "BREAK_EQ"]

#: Break marks inside LaTeX text (never printed): before a sum's operator, between factors, before ``=``.
BREAK_ADD, BREAK_MUL, BREAK_EQ = "\x01", "\x02", "\x03"
_MARKS = BREAK_ADD + BREAK_MUL + BREAK_EQ

#: The width, in ems of the body font, that a row of a display may take: a
#: Beamer frame's text width (about 307pt at 11pt) with a margin for the
#: estimate; an article's text width (345pt at 10pt) is wider.
SLIDE_WIDTH = 25.0
#: The same for an article's text width (345pt at 10pt).
ARTICLE_WIDTH = 31.0


class WordsPrinter(LatexPrinter):
    """SymPy's LaTeX printer, with ``\\cdot`` between the factors of a product of names of several
    letters (``2 \\cdot \\mathrm{add}_{1} \\cdot \\mathrm{add}_{2}``, not ``2add₁add₂``); ``2 x y`` as it is.

    ``words``: the symbols that print as such names.
    """

    def __init__(self, settings: dict | None = None, *, words: set | frozenset = frozenset()):
        super().__init__(settings)
        self.words = words
        self._plain = self._settings["mul_symbol_latex"]

    def _print_Mul(self, expr):
        plain = self._plain
        dotted = plain if r"\cdot" in plain else plain.rstrip() + r" \cdot "
        self._settings["mul_symbol_latex"] = dotted if self.words and dotted_product(expr, self.words) else plain
        try:
            return super()._print_Mul(expr)
        finally:
            self._settings["mul_symbol_latex"] = plain


class _BreakablePrinter(WordsPrinter):
    """SymPy's LaTeX printer, with a break mark before each operator of a sum."""

    def _print_Add(self, expr, order=None):  # as LatexPrinter._print_Add, marks added
        terms = self._as_ordered_terms(expr, order=order)
        tex = ""
        for i, term in enumerate(terms):
            if i == 0:
                pass
            elif term.could_extract_minus_sign():
                tex += BREAK_ADD + " - "
                term = -term
            else:
                tex += BREAK_ADD + " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = r"\left(%s\right)" % term_tex
            tex += term_tex
        return tex


def breakable(expr: sympy.Basic, *, words: set | frozenset = frozenset(), **settings) -> str:
    """``sympy.latex(expr, **settings)`` with break marks (see :func:`strip_marks` for the plain text);
    ``words``: the symbols that print as names of several letters (see :class:`WordsPrinter`)."""
    written = settings.get("mul_symbol") == "dot"
    settings["mul_symbol"] = BREAK_MUL + r" \cdot " if written else BREAK_MUL
    return _BreakablePrinter(settings, words=words).doprint(expr)


def strip_marks(tex: str) -> str:
    """The LaTeX of marked text, as it prints on one line."""
    tex = tex.replace(BREAK_MUL + r" \cdot ", r" \cdot ")  # written: the dot is there
    tex = re.sub(r"(?<=\d)" + BREAK_MUL + r"(?=\d)", r" \\cdot ", tex)  # two numbers: 2 \cdot 3
    tex = tex.replace(BREAK_MUL, " ")
    return tex.replace(BREAK_ADD, "").replace(BREAK_EQ, "")


# -- width estimates ------------------------------------------------------------------

_CHAR = {"(": 0.39, ")": 0.39, "[": 0.28, "]": 0.28, "|": 0.28, ",": 0.45, ".": 0.28, ";": 0.45, ":": 0.28,
         "+": 1.23, "-": 1.23, "=": 1.34, "<": 1.34, ">": 1.34, "/": 0.5, "'": 0.3, "!": 0.28, " ": 0.0,
         "*": 0.5, "~": 0.33}
_COMMAND = {"cdot": 0.73, "odot": 1.23, "oslash": 1.23, "times": 1.23, "pm": 1.23, "leftarrow": 1.56,
            "rightarrow": 1.56, "approx": 1.34, "partial": 0.57, "quad": 1.0, "qquad": 2.0, ",": 0.17,
            ":": 0.22, ";": 0.28, " ": 0.33, "!": -0.17, "top": 0.78, "infty": 1.0, "ldots": 1.2, "cdots": 1.2,
            "vdots": 0.5, "dots": 1.2, "sum": 1.1, "prod": 1.0, "{": 0.5, "}": 0.5, "$": 0.5, "&": 0.8, "%": 0.8,
            "#": 0.8, "_": 0.5, "mid": 0.56, "ell": 0.42, "circ": 0.73, "delta": 0.45, "sigma": 0.57, "mu": 0.6,
            "gamma": 0.52, "beta": 0.57, "eta": 0.5, "lambda": 0.58, "alpha": 0.64, "epsilon": 0.4, "theta": 0.47}
_TEXTLIKE = {"text": 0.5, "mathrm": 0.55, "operatorname": 0.55, "textbf": 0.58, "mathbf": 0.6, "textit": 0.5,
             "textrm": 0.5, "texttt": 0.53, "mathit": 0.52}
_ACCENTS = {"hat", "bar", "tilde", "vec", "dot", "ddot", "check", "widehat"}


class _Scanner:
    """A cursor over LaTeX text, reading tokens and brace groups."""

    def __init__(self, tex: str):
        self.tex, self.i = tex, 0

    def done(self) -> bool:
        return self.i >= len(self.tex)

    def token(self) -> str:
        tex, i = self.tex, self.i
        if tex[i] == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            assert match is not None
            self.i += len(match.group(0))
            return match.group(0)
        self.i += 1
        return tex[i]

    def group(self) -> str:
        """The next argument: a brace group's inside, or one token."""
        while not self.done() and self.tex[self.i] == " ":
            self.i += 1
        if self.done():
            return ""
        if self.tex[self.i] != "{":
            return self.token()
        depth, start = 0, self.i
        while not self.done():
            tok = self.token()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return self.tex[start + 1:self.i - 1]
        return self.tex[start + 1:]

    def until_end(self, environment: str) -> str:
        end = self.tex.find(f"\\end{{{environment}}}", self.i)
        end = len(self.tex) if end < 0 else end
        body, self.i = self.tex[self.i:end], end + len(f"\\end{{{environment}}}")
        return body


def _cells(body: str) -> list[list[str]]:
    """The cells of a matrix body (``a & b \\\\ c & d``), split at the top level only."""
    rows, row, cell, depth, k = [], [], "", 0, 0
    while k < len(body):
        ch = body[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and body.startswith("\\\\", k):
            row.append(cell)
            rows.append(row)
            row, cell, k = [], "", k + 2
            continue
        if depth == 0 and ch == "&" and (k == 0 or body[k - 1] != "\\"):
            row.append(cell)
            cell, k = "", k + 1
            continue
        if ch == "\\" and k + 1 < len(body):
            cell += body[k:k + 2]
            k += 2
            continue
        cell += ch
        k += 1
    row.append(cell)
    rows.append(row)
    return [r for r in rows if any(c.strip() for c in r)]


def _matrix_width(body: str, scale: float, small: bool) -> float:
    rows = _cells(body)
    if not rows:
        return 0.0
    inner = scale * (0.7 if small else 1.0)
    columns = max(len(r) for r in rows)
    widths = [max(tex_width(r[c], inner) if c < len(r) else 0.0 for r in rows) for c in range(columns)]
    gap = (0.6 if small else 1.0) * scale
    return sum(widths) + gap * (columns - 1) + (0.0 if small else 1.0 * scale)


def tex_width(tex: str, scale: float = 1.0) -> float:
    """An estimate, in ems, of the width of math-mode LaTeX (on the generous side)."""
    scan, width = _Scanner(strip_marks(tex)), 0.0
    while not scan.done():
        tok = scan.token()
        if tok in "{}":
            continue
        if tok in ("^", "_"):
            width += tex_width(scan.group(), scale * 0.7)
        elif not tok.startswith("\\") or len(tok) == 2 and not tok[1].isalpha():
            if tok.startswith("\\"):
                width += _COMMAND.get(tok[1:], 0.5) * scale
            elif tok.isdigit():
                width += 0.5 * scale
            elif tok.isalpha():
                width += (0.57 if tok.isupper() else 0.52) * scale
            else:
                width += _CHAR.get(tok, 0.8) * scale
        else:
            name = tok[1:]
            if name in ("frac", "dfrac", "tfrac"):
                inner = scale if scale == 1.0 and name != "tfrac" else scale * 0.7
                width += max(tex_width(scan.group(), inner), tex_width(scan.group(), inner)) + 0.2 * scale
            elif name in _TEXTLIKE:
                text = re.sub(r"\\[A-Za-z]+\{\}|\\(.)", r"\1", scan.group())
                width += _TEXTLIKE[name] * len(text) * scale
            elif name in ("underset", "overset"):
                small = tex_width(scan.group(), scale * 0.7)
                width += max(small, tex_width(scan.group(), scale))
            elif name in _ACCENTS:
                width += tex_width(scan.group(), scale)
            elif name == "sqrt":
                width += tex_width(scan.group(), scale) + 0.85 * scale
            elif name in ("left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr"):
                delimiter = scan.token() if name in ("left", "right") else ""
                width += 0.0 if delimiter == "." else 0.45 * scale
            elif name == "underbrace":
                over = tex_width(scan.group(), scale)
                under = 0.0
                if not scan.done() and scan.tex[scan.i] == "_":
                    scan.token()
                    under = tex_width(scan.group(), scale * 0.7)
                width += max(over, under)
            elif name == "begin":
                environment = scan.group()
                body = scan.until_end(environment)
                width += _matrix_width(body, scale, environment == "smallmatrix")
            elif name in ("exp", "log", "ln", "sin", "cos", "tan", "tanh", "max", "min", "det", "diag"):
                width += (0.5 * len(name) + 0.17) * scale
            else:
                width += _COMMAND.get(name, 0.8) * scale
    return width


# -- rows of an align* -------------------------------------------------------------------


def _chunks(tex: str) -> list[tuple[str, str, list[str]]]:
    """``tex`` cut at its top-level marks: (mark before the chunk, chunk, the ``\\left`` delimiters open at its start)."""
    chunks: list[tuple[str, str, list[str]]] = []
    depth, opened, start, mark, k = 0, [], 0, "", 0
    at_start: list[str] = []
    while k < len(tex):
        ch = tex[k]
        if ch == "\\":
            match = re.match(r"\\(left|right)(\\[{}|]|\\[A-Za-z]+|.)|\\.", tex[k:])
            assert match is not None
            if match.group(1) == "left" and depth == 0:
                opened.append(match.group(2))
            elif match.group(1) == "right" and depth == 0 and opened:
                opened.pop()
            k += len(match.group(0))
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch in _MARKS and depth == 0:
            chunks.append((mark, tex[start:k], at_start))
            mark, start, at_start = ch, k + 1, list(opened)
        k += 1
    chunks.append((mark, tex[start:], at_start))
    return chunks


_Chunk = tuple[str, str, list[str], float]  # (mark before it, text, delimiters open at its start, width)

def _priority(chunk: _Chunk) -> int:
    """Where a row breaks first: at the ``=`` between forms, then outside parentheses before inside,
    before a term of a sum before between factors."""
    mark, _, opened, _ = chunk
    return 0 if mark == BREAK_EQ else 1 + 2 * len(opened) + (mark == BREAK_MUL)


def _width(chunks: list[_Chunk]) -> float:
    return sum(chunk[3] for chunk in chunks)


def _split(chunks: list[_Chunk], room: float) -> list[list[_Chunk]]:
    """Lines of chunks, filled greedily: where a line runs over, it is cut at its most preferred mark
    (an ``=`` before a ``+`` outside parentheses, before one inside, before a product), among the cuts
    that leave the line not too short and within ``room``; ties go to the latest cut."""
    lines: list[list[_Chunk]] = []
    line: list[_Chunk] = []
    for chunk in chunks:
        line.append(chunk)
        while len(line) > 1 and _width(line) > room:
            best, best_key = 1, None
            for j in range(1, len(line)):
                head = _width(line[:j])
                if head > room and best_key is not None:
                    break
                key = (head < 0.3 * room, _priority(line[j]), -j)
                if best_key is None or key < best_key:
                    best, best_key = j, key
            lines.append(line[:best])
            line = line[best:]
    lines.append(line)
    return lines


def _pack(rhs: str, room: float) -> list[str]:
    """The right-hand side in lines of at most ``room`` ems; the first line follows ``&``."""
    chunks = [(mark, text, opened, tex_width(text)) for mark, text, opened in _chunks(rhs)]
    lines = _split(chunks, room)
    out = []
    for k, line in enumerate(lines):
        text = ""
        for j, (mark, chunk, opened, _) in enumerate(line):
            if j == 0 and k > 0:
                written_dot = chunk.lstrip().startswith(r"\cdot")
                lead = {BREAK_EQ: ""}.get(mark, r"\quad " if written_dot or mark != BREAK_MUL else r"\quad \cdot ")
                text += lead + "".join(r"\left." for _ in opened) + chunk
            else:
                text += (mark if j else "") + chunk
        if k + 1 < len(lines):
            text += "".join(r"\right." for _ in lines[k + 1][0][2])
        out.append(strip_marks(text))
    return out


def align_rows(rows: Sequence[tuple[str, Sequence[str]] | tuple[str, Sequence[str], str]], *,
               width: float | None = SLIDE_WIDTH, relation: str = "=") -> list[str]:
    """Rows of one ``align*``, ``lhs &= p1 = p2 ... tail``, each no wider than ``width`` ems (None: no limit).

    Each row is ``(lhs, pieces)`` or ``(lhs, pieces, tail)``: the pieces are
    marked LaTeX (from :func:`breakable`, or plain), joined by ``=`` (the first after ``relation``); the
    tail ends the last line, or a ``\\tag*`` the first line with room for it (amsmath moves a tag
    below a line too long for it). The rows share
    one alignment column, so the room on the right is the width less the
    widest left-hand side.
    """
    if not rows:
        return []
    lefts = [row[0] for row in rows]
    room = None if width is None else max(width - max(tex_width(lhs) for lhs in lefts) - 1.5, 8.0)
    out: list[str] = []
    for row in rows:
        lhs, pieces = row[0], list(row[1])
        tail = row[2] if len(row) > 2 else ""
        joined = (BREAK_EQ + " = ").join(pieces)
        rhs = f"{relation} {joined}" if pieces else ""
        lines = [strip_marks(rhs)] if room is None else _pack(rhs, room)
        at = len(lines) - 1
        if tail.startswith("\\tag") and room is not None:  # a tag goes on the first line with room for it
            at = next((k for k, line in enumerate(lines) if tex_width(line) + tex_width(tail) + 1 <= room), at)
        lines[at] += tail
        out.append(f"{lhs} &{lines[0]}")
        out.extend(f"&{line}" for line in lines[1:])
    return out


_OPERATOR = re.compile(r" (?=[+-] )| (?=\\(?:odot|oslash|cdot|qquad)\b)")


def mark_operators(tex: str) -> str:
    """Finished LaTeX with break marks before each ``+``, ``-``, ``\\odot``, ``\\cdot`` written between spaces
    (outside braces), for rows that were not printed with marks."""
    out, depth, start = [], 0, 0
    for k, ch in enumerate(tex):
        if ch == "{" and (k == 0 or tex[k - 1] != "\\"):
            depth += 1
        elif ch == "}" and (k == 0 or tex[k - 1] != "\\"):
            depth -= 1
        elif ch == " " and depth == 0:
            match = _OPERATOR.match(tex, k)
            if match:
                out.append(tex[start:k])
                out.append(BREAK_ADD if tex[k + 1] in "+-" else BREAK_MUL)
                start = k
    out.append(tex[start:])
    return "".join(out)


def fit_align(rows: Sequence[str], *, width: float = SLIDE_WIDTH) -> list[str]:
    """Finished ``align*`` rows (``lhs &= rhs``), a row too wide for ``width`` ems broken at its operators."""
    lefts = [row.split("&", 1)[0] for row in rows if "&" in row]
    room = max(width - max((tex_width(lhs) for lhs in lefts), default=0) - 1.5, 8.0)
    out: list[str] = []
    for row in rows:
        lhs, sep, rhs = row.partition("&")
        if not sep or tex_width(rhs) <= room:
            out.append(row)
            continue
        lines = _pack(mark_operators(rhs), room)
        out.append(f"{lhs}&{lines[0]}")
        out.extend(f"&{line}" for line in lines[1:])
    return out


def align(rows: Sequence[str]) -> str:
    """An ``align*`` of finished rows."""
    if not rows:
        return ""
    return "\\begin{align*}\n" + " \\\\\n".join(f"  {row}" for row in rows) + "\n\\end{align*}\n"
