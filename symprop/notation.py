"""How plain text writes a chain of equal forms: one rule for parentheses, one for repeats.

The walkthrough (``symprop explain``), the batch sums and the checker's
derivations all write lines such as ``dL/dw = 0.5 · (-2) = -1`` and
``-0.2 + 0.1 + (-0.3)``; they share these few functions so that a negative
factor or term reads the same wherever it appears, and a form that repeats
the one before it (``1 · 1/2 = 1 · 1/2``) is written once.

>>> paren("-0.5"), paren("x"), paren("a*(1 - a)"), paren("Heaviside(z, 0)")
('(-0.5)', 'x', '(a*(1 - a))', 'Heaviside(z, 0)')
>>> plus(["-0.2", "0.1", "-0.3"])
'-0.2 + 0.1 + (-0.3)'
>>> chain(["dJ/dJ · ∂J/∂p", "1 · 1/2", "1 · 1/2", "1/2"])
'dJ/dJ · ∂J/∂p = 1 · 1/2 = 1/2'
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["paren", "plus", "once", "chain"]

#: One function call such as ``Heaviside(z, 0)``: needs no parentheses as a factor.
_CALL = re.compile(r"[A-Za-z_]\w*\((?:[^()]|\([^()]*\))*\)")


def paren(text: str) -> str:
    """A factor of a product: parenthesised unless it is a plain name, a call or a non-negative number."""
    if _CALL.fullmatch(text):
        return text
    simple = text.replace(".", "").replace("/", "").replace("*", "").replace("_", "")
    simple = simple.replace("[", "").replace("]", "").replace(",", "")
    if simple.isalnum() and not text.startswith("-"):
        return text
    return f"({text})"


def plus(terms: Iterable[str]) -> str:
    """Terms added up: ``a + b + (-c)``, each negative term after the first in parentheses."""
    return " + ".join(f"({t})" if k and t.startswith("-") else t for k, t in enumerate(terms))


def once(forms: Iterable[str]) -> list[str]:
    """The forms of a chain ``a = b = c``, each written once: a form equal (as text) to the one before it
    says nothing new (``1 · 1/2 = 1 · 1/2`` where the factors already are numbers)."""
    kept: list[str] = []
    for form in forms:
        if not kept or form != kept[-1]:
            kept.append(form)
    return kept


def chain(forms: Iterable[str]) -> str:
    """``a = b = c`` from the forms, each written once (see :func:`once`)."""
    return " = ".join(once(forms))
