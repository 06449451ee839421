"""``batchnorm`` and ``layernorm``: normalise, then scale and shift (learnable ``gamma``, ``beta``).

Both compute, over a group of ``k`` values ``h``::

    mu   = (1/k) Σ h                    # the mean
    var  = (1/k) Σ (h − mu)²            # the biased variance, as PyTorch's normalisation layers
    xhat = (h − mu) / sqrt(var + eps)   # eps = 1e-5 unless given
    out  = gamma ⊙ xhat + beta

``batchnorm`` groups each unit over the **batch** (training mode: the batch's
own statistics, as ``torch.nn.BatchNorm1d`` in train mode; symprop keeps no
running averages), so one sample's output depends on every sample: its
``mu`` and ``var`` nodes feed every sample. ``layernorm`` groups each sample
over its **units** (``torch.nn.LayerNorm(width)``, elementwise affine).

Their backward pass in closed form (CS231n's, the "backprop ninja" one),
with ``dxhat = gamma ⊙ dL/dout``::

    dL/dh = (1/sqrt(var + eps)) ⊙ (dxhat − mean(dxhat) − xhat ⊙ mean(dxhat ⊙ xhat))

is what the compiled code and the matrix view use; :func:`norm_backward`
checks it against ``sympy.diff`` of the forward formulas.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy

from .activations import exact_slope
from .layers import Layer, number, register_layer

__all__ = ["BatchNorm", "LayerNorm", "norm_backward", "DEFAULT_EPS"]

#: PyTorch's default.
DEFAULT_EPS = 1e-5

#: The closed form of dL/dh, as the compiled code's header shows it.
BACKWARD_TEXT = "dL/dh = (dxhat - mean(dxhat) - xhat*mean(dxhat*xhat))/sqrt(var + eps), dxhat = gamma*dL/dout"


@lru_cache(maxsize=None)
def norm_backward(k: int = 3) -> str:
    """Check the closed form of the normalisation's backward pass against ``sympy.diff`` on ``k`` values.

    Returns the formula's text; raises if SymPy disagrees (it never has).

    >>> norm_backward(3).startswith("dL/dh")
    True
    """
    h = sympy.symbols(f"h0:{k}", real=True)
    g = sympy.symbols(f"g0:{k}", real=True)  # dL/dxhat
    eps = sympy.Symbol("eps", positive=True)
    mu = sympy.Add(*h) / k
    var = sympy.Add(*((v - mu) ** 2 for v in h)) / k
    xhat = [(v - mu) / sympy.sqrt(var + eps) for v in h]
    # exact values: a rational point, so the check is exact
    point = {**{v: sympy.Rational(3 * i + 1, i + 2) for i, v in enumerate(h)},
             **{v: sympy.Rational(5 - 2 * i, 3) for i, v in enumerate(g)}, eps: sympy.Rational(1, 7)}
    xs = [x.subs(point) for x in xhat]
    istd = 1 / sympy.sqrt(var.subs(point) + point[eps])
    mean_g = sympy.Add(*(point[v] for v in g)) / k
    mean_gx = sympy.Add(*(point[v] * x for v, x in zip(g, xs))) / k
    for j in range(k):
        chain = sympy.Add(*(g[i] * sympy.diff(xhat[i], h[j]) for i in range(k))).subs(point)
        closed = istd * (point[g[j]] - mean_g - xs[j] * mean_gx)
        if sympy.simplify(chain - closed) != 0:  # pragma: no cover - the algebra holds
            raise AssertionError("internal: the normalisation's backward formula disagrees with sympy.diff")
    return BACKWARD_TEXT


def _mean(terms: list) -> sympy.Expr:
    """``(t_1 + ... + t_k)/k`` (SymPy writes it ``t_1/k + ... + t_k/k``)."""
    return sympy.Add(*terms) / len(terms)


class _Norm(Layer):
    options = ("eps",)
    #: names: parameters and values (prefix), and which axis of an (m, n) array is normalised
    prefix = ""
    axis = 0

    @classmethod
    def configure(cls, key, width, reading, kind, options):
        layer = cls(key, width, reading)
        eps = number(options.get("eps", DEFAULT_EPS), layer, "eps")
        if eps <= 0:
            raise layer.error(f"eps must be > 0, got {options['eps']!r}")
        layer.eps = exact_slope(eps)
        l, p = layer.stage, cls.prefix
        layer.names = {"mu": f"{p}mu{l}", "var": f"{p}var{l}", "hat": f"{p}hat{l}" if p else f"xhat{l}",
                       "out": f"{p or 'bn'}{l}"}
        layer.gamma, layer.beta = f"{p}gamma{l}", f"{p}beta{l}"
        layer.out = layer.names["out"]
        reading.claim([*layer.names.values(), layer.gamma, layer.beta], layer)
        return layer

    @property
    def describe(self) -> str:
        return self.kind if self.eps == exact_slope(DEFAULT_EPS) else f"{self.kind} (eps {float(self.eps):g})"

    def param_shapes(self):
        return {self.gamma: (self.width_in,), self.beta: (self.width_in,)}

    def init(self, name, shape, rng, init):
        return np.ones(shape) if name == self.gamma else np.zeros(shape)

    def intermediates(self):
        stats = "n" if self.axis == 0 else "m"
        n = self.names
        return [(n["mu"], stats), (n["var"], stats), (n["hat"], "mn"), (n["out"], "mn")]

    def forward(self, params, h, ctx):
        n = self.names
        keep = self.axis == 1
        mu = ctx.record(n["mu"], np.mean(h, axis=self.axis, keepdims=keep))
        var = ctx.record(n["var"], np.mean((h - mu) ** 2, axis=self.axis, keepdims=keep))
        xhat = ctx.record(n["hat"], (h - mu) / np.sqrt(var + float(self.eps)))
        out = np.asarray(params[self.gamma], dtype=np.float64) * xhat + np.asarray(params[self.beta], dtype=np.float64)
        if keep:
            ctx.values[n["mu"]], ctx.values[n["var"]] = mu[:, 0], var[:, 0]
        return ctx.record(n["out"], out)

    # compiled code ------------------------------------------------------------

    def code_forward(self, gen, h):
        n, up = self.names, self.prefix.upper()
        l, axis = self.stage, f"axis={self.axis}" + (", keepdims=True" if self.axis else "")
        MU, VAR, ISTD, HAT, OUT = (f"{up}MU{l}", f"{up}VAR{l}", f"{up}ISTD{l}", n["hat"].upper(), n["out"].upper())
        over = "the batch" if self.axis == 0 else "the units"
        gen.add(f"{MU} = numpy.mean({h}, {axis})", f"mean over {over}")
        gen.add(f"{VAR} = numpy.mean(({h} - {MU})**2, {axis})", "biased variance")
        gen.add(f"{ISTD} = 1/numpy.sqrt({VAR} + {float(self.eps)!r})", "1/sqrt(var + eps)")
        gen.add(f"{HAT} = ({h} - {MU})*{ISTD}", "xhat")
        gen.add(f"{OUT} = {self.gamma}*{HAT} + {self.beta}", "gamma*xhat + beta")
        return OUT

    def code_backward(self, gen, d, h):
        up, l = self.prefix.upper(), self.stage
        HAT, ISTD, DX = self.names["hat"].upper(), f"{up}ISTD{l}", f"{up}DX{l}"
        gen.add(f"g{self.gamma} = numpy.sum({d}*{HAT}, axis=0)", f"dL/d{self.gamma}")
        gen.add(f"g{self.beta} = numpy.sum({d}, axis=0)", f"dL/d{self.beta}")
        gen.grad(self.gamma, f"g{self.gamma}")
        gen.grad(self.beta, f"g{self.beta}")
        gen.derive(f"{self.kind}: {norm_backward(3)}")
        if not gen.input_grad(self):
            return None
        axis = f"axis={self.axis}" + (", keepdims=True" if self.axis else "")
        gen.add(f"{DX} = {d}*{self.gamma}", "dL/dxhat")
        if gen.adjoints:
            self._keep_statistics(gen, h, DX, axis)
        gen.add(f"{d} = {ISTD}*({DX} - numpy.mean({DX}, {axis}) - {HAT}*numpy.mean({DX}*{HAT}, {axis}))",
                f"{self.kind} backward: dL/dh")
        return d

    def _keep_statistics(self, gen, h: str, DX: str, axis: str) -> None:
        """``dL/dxhat``, ``dL/dvar`` and ``dL/dmu`` as the scalar graph has them, each value a node of its own:
        ``dxhat/dvar = -xhat/(2 (var + eps))``, and ``mu`` feeds ``xhat`` (``-1/sqrt(var + eps)``) and ``var``."""
        n, up, l = self.names, self.prefix.upper(), self.stage
        MU, ISTD, HAT, DVAR, DMU = f"{up}MU{l}", f"{up}ISTD{l}", n["hat"].upper(), f"{up}DVAR{l}", f"{up}DMU{l}"
        gen.keep(n["hat"], DX)
        gen.add(f"{DVAR} = -0.5*numpy.sum({DX}*{HAT}, {axis})*{ISTD}**2")
        gen.keep(n["var"], DVAR)
        gen.add(f"{DMU} = -numpy.sum({DX}, {axis})*{ISTD} - 2*{DVAR}*numpy.mean({h} - {MU}, {axis})")
        gen.keep(n["mu"], DMU)

    # the matrix view: units as rows, samples as columns -------------------------

    def _groups(self, h: sympy.Matrix) -> tuple[int, str]:
        """How many values each statistic averages, and how it is written."""
        return (h.cols, "·1") if self.axis == 0 else (h.rows, "1ᵀ·")

    def _stat(self, matrix: sympy.Matrix, k: int) -> sympy.Matrix:
        """The mean of each row (batchnorm) or column (layernorm)."""
        if self.axis == 0:
            return matrix * sympy.ones(matrix.cols, 1) / k
        return sympy.ones(1, matrix.rows) * matrix / k

    def _spread(self, stat: sympy.Matrix, like: sympy.Matrix) -> sympy.Matrix:
        if self.axis == 0:
            return stat * sympy.ones(1, like.cols)
        return sympy.ones(like.rows, 1) * stat

    def matrix_forward(self, mv, h):
        n = self.names
        k, _ = self._groups(h)
        mu = self._stat(h, k)
        centred = h - self._spread(mu, h)
        var = self._stat(centred.multiply_elementwise(centred), k)
        istd = var.applyfunc(lambda v: 1 / sympy.sqrt(v + self.eps))
        xhat = centred.multiply_elementwise(self._spread(istd, h))
        gamma, beta = mv.param(self.gamma), mv.param(self.beta)  # (n, 1) columns
        ones = sympy.ones(1, h.cols)
        out = xhat.multiply_elementwise(gamma * ones) + beta * ones
        mv.stage(self).update({n["mu"]: mu, n["var"]: var, n["hat"]: xhat, n["out"]: out, "_istd": istd})
        x = self.in_name
        if self.axis == 0:
            mv.forward(n["mu"], f"(1/m)·{x}·1", mu)
            mv.forward(n["var"], f"(1/m)·(({x} − {n['mu']}·1ᵀ) ⊙ ({x} − {n['mu']}·1ᵀ))·1", var)
            mv.forward(n["hat"], f"({x} − {n['mu']}·1ᵀ) ⊙ (1/sqrt({n['var']} + eps))·1ᵀ, eps = {float(self.eps):g}", xhat)
        else:
            mv.forward(n["mu"], f"(1/n)·1ᵀ·{x}", mu)
            mv.forward(n["var"], f"(1/n)·1ᵀ·(({x} − 1·{n['mu']}) ⊙ ({x} − 1·{n['mu']}))", var)
            mv.forward(n["hat"], f"({x} − 1·{n['mu']}) ⊙ 1·(1/sqrt({n['var']} + eps)), eps = {float(self.eps):g}", xhat)
        mv.forward(self.gamma, gamma)
        mv.forward(self.beta, beta)
        mv.forward(n["out"], f"{self.gamma} ⊙ {n['hat']} + {self.beta}", out)
        return out

    def matrix_backward(self, mv, d, h):
        n, stage = self.names, mv.stage(self)
        xhat, istd = stage[n["hat"]], stage["_istd"]
        ones = sympy.ones(d.cols, 1)
        dgamma = d.multiply_elementwise(xhat) * ones
        dbeta = d * ones
        mv.backward(f"dL/d{self.gamma}", f"(dL/d{n['out']} ⊙ {n['hat']})·1", dgamma)
        mv.backward(f"dL/d{self.beta}", f"dL/d{n['out']}·1", dbeta)
        mv.grad(self.gamma, dgamma)
        mv.grad(self.beta, dbeta)
        if not mv.input_grad(self):
            return None
        gamma = mv.param(self.gamma)
        dx = d.multiply_elementwise(gamma * sympy.ones(1, d.cols))
        mv.backward(f"dL/d{n['hat']}", f"{self.gamma} ⊙ dL/d{n['out']}", dx)
        k, _ = self._groups(d)
        mean_dx = self._spread(self._stat(dx, k), dx)
        mean_dxx = self._spread(self._stat(dx.multiply_elementwise(xhat), k), dx)
        result = (dx - mean_dx - xhat.multiply_elementwise(mean_dxx)).multiply_elementwise(self._spread(istd, dx))
        stat = "row" if self.axis == 0 else "column"
        mv.backward(
            f"dL/d{self.in_name}",
            f"(dxhat − mean(dxhat) − {n['hat']} ⊙ mean(dxhat ⊙ {n['hat']})) ⊙ 1/sqrt({n['var']} + eps), "
            f"means per {stat}, dxhat = dL/d{n['hat']}",
            result,
        )
        return result


@register_layer
class BatchNorm(_Norm):
    """Batch normalisation in training mode: each unit over the batch."""

    kind = "batchnorm"
    couples = True
    axis = 0
    math = "bn = gamma ⊙ (h − mu)/sqrt(var + eps) + beta, mu and var of each unit over the batch (biased), eps 1e-5"
    pytorch = "torch.nn.BatchNorm1d(width) in training mode (gamma = weight, beta = bias)"

    def batch_nodes(self, b, hs):
        n = self.names
        gamma, beta = b.params[self.gamma], b.params[self.beta]
        mus, vars_ = [], []
        for j in range(self.width_in):
            mus.append(b.node(f"{n['mu']}_{j}", f"{n['mu']}[{j}]", _mean([h[j] for h in hs]), None))
        for j in range(self.width_in):
            spread = _mean([(h[j] - mus[j]) ** 2 for h in hs])
            vars_.append(b.node(f"{n['var']}_{j}", f"{n['var']}[{j}]", spread, None))
        out = []
        for k, h in enumerate(hs):
            hats = b.vector(n["hat"], [(h[j] - mus[j]) / sympy.sqrt(vars_[j] + self.eps) for j in range(len(h))], k)
            out.append(b.vector(n["out"], [gamma[j] * x + beta[j] for j, x in enumerate(hats)], k))
        return out


@register_layer
class LayerNorm(_Norm):
    """Layer normalisation: each sample over its units, with a scale and shift per unit."""

    kind = "layernorm"
    prefix = "ln"
    axis = 1
    math = "ln = gamma ⊙ (h − mu)/sqrt(var + eps) + beta, mu and var of each sample over its units (biased), eps 1e-5"
    pytorch = "torch.nn.LayerNorm(width) (elementwise affine: gamma = weight, beta = bias)"

    def nodes(self, b, h, sample):
        n = self.names
        gamma, beta = b.params[self.gamma], b.params[self.beta]
        mu = b.node(n["mu"], n["mu"], _mean(list(h)), sample)
        var = b.node(n["var"], n["var"], _mean([(v - mu) ** 2 for v in h]), sample)
        hats = b.vector(n["hat"], [(v - mu) / sympy.sqrt(var + self.eps) for v in h], sample)
        return b.vector(n["out"], [gamma[j] * x + beta[j] for j, x in enumerate(hats)], sample)
