"""The identities that justify each step of a matrix derivation, and which one a step uses.

Each step ``∂L/∂v += (what node n contributes)`` names the identity it rests
on, in words and symbols (unicode and LaTeX). The contraction itself is
computed elsewhere (by SymPy for sums, products, transposes and traces; by the
elementwise and softmax rules for the rest); this module only says which
identity that is, from the shape of the node's formula.

Not :mod:`symprop.rules`' ``Rule`` and table: a scalar rule is a local derivative per
operand, chained for a node of several operations; an identity here says how the
upstream gradient is contracted (``∂(W·x)/∂W`` is no matrix, ``δ·xᵀ`` is what it gives).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rule", "RULES", "rule", "product_rule"]


@dataclass(frozen=True)
class Rule:
    """An identity: a short ``name``, and its statement as unicode ``text`` and as ``latex``."""

    name: str
    text: str
    latex: str


#: name -> (unicode text, LaTeX); ``{f}`` is filled with a function's name where one is given.
RULES: dict[str, tuple[str, str]] = {
    "sum": (
        "∂(u + v)/∂u = I: a sum passes the gradient on",
        r"\partial(u + v)/\partial u = I\text{: a sum passes the gradient on}",
    ),
    "difference": (
        "∂(u - v)/∂v = -I: a difference passes the gradient on negated",
        r"\partial(u - v)/\partial v = -I\text{: a difference passes the gradient on negated}",
    ),
    "shared_bias": (
        "∂(W·x + 𝟙·b)/∂b = 𝟙ᵀ: a shared bias gets the sum of δ's entries",
        r"\partial(W x + \mathbf{1} b)/\partial b = \mathbf{1}^{\top}\text{: a shared bias gets the sum of } \delta\text{'s entries}",
    ),
    "copy": (
        "∂X/∂X = I: a named copy passes the gradient on",
        r"\partial X/\partial X = I\text{: a named copy passes the gradient on}",
    ),
    "scaled": (
        "∂(c·X)/∂X: the gradient times the number c",
        r"\partial(c X)/\partial X\text{: the gradient times the number } c",
    ),
    "transpose": (
        "∂(Xᵀ)/∂X contracted with G gives Gᵀ",
        r"\partial(X^{\top})/\partial X \text{ contracted with } G \text{ gives } G^{\top}",
    ),
    "product_left": (
        "∂(W·x)/∂W contracted with δ gives δ·xᵀ (trace trick: dL = tr(δᵀ·dW·x) = tr(x·δᵀ·dW))",
        r"\partial(W x)/\partial W \text{ contracted with } \delta \text{ gives } \delta x^{\top}"
        r"\text{ (trace trick: } dL = \operatorname{tr}(\delta^{\top} dW\, x) = \operatorname{tr}(x \delta^{\top} dW)\text{)}",
    ),
    "product_right": (
        "∂(W·x)/∂x = Wᵀ: δ goes back as Wᵀ·δ",
        r"\partial(W x)/\partial x = W^{\top}\text{: } \delta \text{ goes back as } W^{\top}\delta",
    ),
    "product_middle": (
        "∂(A·X·B)/∂X contracted with G gives Aᵀ·G·Bᵀ (trace trick)",
        r"\partial(A X B)/\partial X \text{ contracted with } G \text{ gives } A^{\top} G B^{\top}\text{ (trace trick)}",
    ),
    "product_transposed": (
        "∂(A·Xᵀ·B)/∂X contracted with G gives B·Gᵀ·A (trace trick: tr(M) = tr(Mᵀ))",
        r"\partial(A X^{\top} B)/\partial X \text{ contracted with } G \text{ gives } B G^{\top} A"
        r"\text{ (trace trick: } \operatorname{tr} M = \operatorname{tr} M^{\top}\text{)}",
    ),
    "inner_self": (
        "∂(uᵀu)/∂u = 2u",
        r"\partial(u^{\top} u)/\partial u = 2u",
    ),
    "inner": (
        "∂(uᵀv)/∂u = v and ∂(uᵀv)/∂v = u",
        r"\partial(u^{\top} v)/\partial u = v,\ \partial(u^{\top} v)/\partial v = u",
    ),
    "quadratic_form": (
        "∂(xᵀAx)/∂x = (A + Aᵀ)x",
        r"\partial(x^{\top} A x)/\partial x = (A + A^{\top}) x",
    ),
    "quadratic_form_matrix": (
        "∂(xᵀAx)/∂A = x·xᵀ",
        r"\partial(x^{\top} A x)/\partial A = x x^{\top}",
    ),
    "scalar_product": (
        "∂(u·v)/∂u = v for 1×1 u and v: the ordinary product rule",
        r"\partial(u v)/\partial u = v \text{ for } 1 \times 1\ u, v\text{: the ordinary product rule}",
    ),
    "product_repeated": (
        "product rule: X appears more than once, one term per occurrence (trace trick for each)",
        r"\text{product rule: } X \text{ appears more than once, one term per occurrence (trace trick for each)}",
    ),
    "total": (
        "∂(sum of the entries of X)/∂X = 𝟙: every entry gets the gradient",
        r"\partial(\mathbf{1}^{\top} X \mathbf{1})/\partial X = \mathbf{1}\mathbf{1}^{\top}\text{: every entry gets the gradient}",
    ),
    "trace": (
        "trace trick: d tr(F) = tr(dF); ∂tr(X)/∂X = I, ∂tr(A·X)/∂X = Aᵀ",
        r"\text{trace trick: } d\operatorname{tr}F = \operatorname{tr}dF;\ "
        r"\partial\operatorname{tr}(X)/\partial X = I,\ \partial\operatorname{tr}(AX)/\partial X = A^{\top}",
    ),
    "hadamard": (
        "∂(u ⊙ v)/∂u contracted with G gives G ⊙ v",
        r"\partial(u \odot v)/\partial u \text{ contracted with } G \text{ gives } G \odot v",
    ),
    "hadamard_self": (
        "∂(u ⊙ u)/∂u contracted with G gives 2·G ⊙ u (product rule)",
        r"\partial(u \odot u)/\partial u \text{ contracted with } G \text{ gives } 2\, G \odot u",
    ),
    "power": (
        "∂(u^∘k)/∂u contracted with G gives G ⊙ k·u^∘(k-1)",
        r"\partial(u^{\circ k})/\partial u \text{ contracted with } G \text{ gives } G \odot k\, u^{\circ (k-1)}",
    ),
    "elementwise": (
        "elementwise {f}: ∂L/∂z = ∂L/∂a ⊙ {f}'(z) (a diagonal Jacobian)",
        r"\text{elementwise {f}: } \partial L/\partial z = \partial L/\partial a \odot \operatorname{{f}}'(z)"
        r"\text{ (a diagonal Jacobian)}",
    ),
    "softmax": (
        "softmax Jacobian J = diag(a) - a·aᵀ (symmetric): Jᵀg = a ⊙ g - a·(aᵀg)",
        r"\text{softmax Jacobian } J = \operatorname{diag}(a) - a a^{\top}\text{ (symmetric): } "
        r"J^{\top} g = a \odot g - a (a^{\top} g)",
    ),
    "softmax_cross_entropy": (
        "softmax Jacobian J = diag(a) - a·aᵀ: Jᵀg = a ⊙ g - a·(aᵀg); after cross-entropy a ⊙ g = -y, "
        "so a·(𝟙ᵀy) - y (= a - y when y sums to 1)",
        r"J = \operatorname{diag}(a) - a a^{\top}\text{: } J^{\top} g = a \odot g - a (a^{\top} g)"
        r"\text{; after cross-entropy } a \odot g = -y\text{, so } a (\mathbf{1}^{\top} y) - y"
        r"\ (= a - y \text{ when } y \text{ sums to 1})",
    ),
    "loss": (
        "{f}: ∂ℓ/∂a entry by entry, sympy.diff of the loss table's formula",
        r"\text{{f}: } \partial\ell/\partial a \text{ entry by entry, from the loss table's formula}",
    ),
}


def rule(name: str, function: str = "") -> Rule:
    """The :class:`Rule` called ``name`` (``function`` fills in an elementwise function or a loss)."""
    text, latex = RULES[name]
    latex_function = function.replace("_", r"\_")
    return Rule(name, text.replace("{f}", function), latex.replace("{f}", latex_function))


def product_rule(factors: list[tuple[object, bool]], v: object, coeff_only: bool) -> str:
    """Which product identity ``∂(c·F1·F2⋯)/∂v`` is, from where ``v`` stands among the factors.

    Args:
        factors: ``(symbol, transposed)`` for each factor, left to right.
        v: the input the step is for.
        coeff_only: the product is a number times one factor.
    """
    if coeff_only:
        return "scaled"
    if all(tuple(getattr(s, "shape", ())) == (1, 1) for s, _ in factors):
        return "scalar_product"
    where = [k for k, (s, _) in enumerate(factors) if s == v]
    n = len(factors)
    if n == 2 and len(where) == 2 and factors[0][1] and not factors[1][1]:
        return "inner_self"
    if n == 3 and factors[0][0] == factors[2][0] and factors[0][1] and not factors[2][1]:
        return "quadratic_form" if len(where) == 2 else "quadratic_form_matrix"
    if len(where) > 1:
        return "product_repeated"
    k = where[0]
    transposed = factors[k][1]
    if n == 2 and factors[0][1] and not factors[1][1] and _is_column(factors[0][0]) and _is_column(factors[1][0]):
        return "inner"
    if transposed:
        return "product_transposed"
    if k == 0 and n >= 2:
        return "product_left"
    if k == n - 1:
        return "product_right"
    return "product_middle"


def _is_column(symbol: object) -> bool:
    shape = getattr(symbol, "shape", None)
    return shape is not None and shape[1] == 1
