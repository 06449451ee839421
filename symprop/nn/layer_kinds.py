"""The layer kinds ``linear``, the activations, ``dropout`` and ``residual``: one class each, registered in :data:`LAYERS`.

See :mod:`symprop.nn.layers` for what an entry holds; the normalisations are
in :mod:`symprop.nn.norms`. The compiled code and the matrix view call the
``code_*`` and ``matrix_*`` parts with their own writer (``gen``, ``mv``). The
matrix view's backward pass of a linear layer and of an activation is the
writer's own (``mv.linear_backward``, ``mv.activation_backward``): it evaluates
the formulas ``symprop derive`` derives for them (:mod:`symprop.matrix`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from .activations import DEFAULT_SLOPE, exact_slope, get_activation
from .layers import BIAS_MODES, Builder, Layer, _read, _Reading, number, register_layer, whole

__all__ = ["Linear", "ActivationLayer", "Dropout", "Residual", "run_stack"]


def run_stack(b: Builder, stack: list[Layer], hs: list[list[sympy.Expr]], tail=None) -> list[list[Any]]:
    """Every sample's nodes through ``stack``: sample by sample between layers that couple samples.

    So a network whose layers never couple samples is built one whole sample
    after the other (``tail(k, h)`` adds that sample's last nodes, its loss),
    and a batchnorm layer sees every sample's input at once.
    """
    hs = list(hs)
    segment: list[Layer] = []

    def flush(last: bool) -> None:
        for k in range(len(hs)):
            for layer in segment:
                hs[k] = layer.nodes(b, hs[k], k)
            if last and tail is not None:
                hs[k] = tail(k, hs[k])
        segment.clear()

    for layer in stack:
        if layer.couples:
            flush(False)
            hs = layer.batch_nodes(b, hs)
        else:
            segment.append(layer)
    flush(True)
    return hs


@register_layer
class Linear(Layer):
    """``z = W a_prev + b``: weights ``W{l}`` ``(n_l, n_{l-1})`` and a bias ``b{l}``."""

    kind = "linear"
    options = ("width", "bias")
    argument = "width"
    math = "z = W·a_prev + b; W{l} (width, width_in), b{l} per neuron (or one shared, or none)"
    pytorch = "torch.nn.Linear(width_in, width) (bias = \"none\": bias=False)"

    @classmethod
    def configure(cls, key: str, width: int, reading: _Reading, kind: str, options: Mapping[str, Any]) -> "Linear":
        layer = cls(key, width, reading)
        if "width" not in options:
            raise layer.error("give its width: {linear = 4}")
        layer.width_out = whole(options["width"], layer, "width")
        layer.bias = options.get("bias", reading.defaults.get("bias", "neuron"))
        if layer.bias not in BIAS_MODES:
            raise layer.error(f"bias must be one of: {', '.join(BIAS_MODES)}, got {layer.bias!r}")
        l = layer.stage
        layer.out = f"z{l}"
        reading.claim([f"W{l}", f"z{l}"], layer)
        return layer

    @property
    def describe(self) -> str:
        return f"linear {self.width_out}" + ("" if self.bias == "neuron" else f" (bias {self.bias})")

    def param_shapes(self):
        l, shapes = self.stage, {f"W{self.stage}": (self.width_out, self.width_in)}
        if self.bias == "neuron":
            shapes[f"b{l}"] = (self.width_out,)
        elif self.bias == "layer":
            shapes[f"b{l}"] = ()
        return shapes

    def init(self, name, shape, rng, init):
        if name.startswith("W"):
            fan_out, fan_in = shape
            if init == "uniform":
                return rng.uniform(-1.0, 1.0, size=shape)
            if init == "xavier":
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                return rng.uniform(-limit, limit, size=shape)
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        return rng.uniform(-1.0, 1.0, size=shape) if init == "uniform" else np.zeros(shape)

    def intermediates(self):
        return [(self.out, "mn")]

    def nodes(self, b, h, sample):
        weights, bias = b.params[f"W{self.stage}"], b.params.get(f"b{self.stage}")
        formulas = []
        for j in range(self.width_out):
            formula = sympy.Add(*(weights[j, i] * h[i] for i in range(len(h))))  # z = W[j,:] . a_prev + b
            if bias is not None:
                formula += bias[j] if bias.ndim else bias[()]
            formulas.append(formula)
        return b.vector(self.out, formulas, sample)

    def forward(self, params, h, ctx):
        z = h @ np.asarray(params[f"W{self.stage}"], dtype=np.float64).T  # (m, n_{l-1}) @ (n_{l-1}, n_l)
        if self.bias != "none":
            z = z + np.asarray(params[f"b{self.stage}"], dtype=np.float64)  # (n_l,) or () broadcasts
        return ctx.record(self.out, z)

    def code_forward(self, gen, h):
        l, out = self.stage, f"Z{self.stage}"
        gen.add(f"{out} = {h} @ W{l}.T", f"{gen.shape('m', self.width_out)}: z = a_prev W^T + b")
        if self.bias != "none":
            gen.add(f"{out} += b{l}")
        return out

    def code_backward(self, gen, d, h):
        l = self.stage
        # (a_prev^T delta)^T: the product hand-written numpy makes (X.T.dot(dscores)), which OpenBLAS's threads
        # split better than delta^T a_prev; gW is a transposed view, and sgd's new W keeps its layout
        gen.add(f"gW{l} = {gen.product(f'W{l}', f'{h}.T', d)}.T",
                f"{gen.shape(self.width_out, self.width_in)}: dL/dW = delta^T a_prev")
        gen.grad(f"W{l}", f"gW{l}")
        gen.decay(f"W{l}")
        if self.bias == "neuron":
            gen.add(f"gb{l} = {gen.batch_sum(d)}", "dL/db: delta summed over the batch")
            gen.grad(f"b{l}", f"gb{l}")
        elif self.bias == "layer":
            gen.add(f"gb{l} = numpy.sum({d})", "one shared bias: summed over neurons and batch")
            gen.grad(f"b{l}", f"gb{l}")
        if not gen.input_grad(self):
            return None
        out = f"D{l - 1}"
        gen.add(f"{out} = {d} @ W{l}", f"{gen.shape('m', self.width_in)}: dL/da_prev = delta W")
        return out

    def matrix_forward(self, mv, h):
        l = self.stage
        W = mv.param(f"W{l}")
        z = W * h
        stage = mv.stage(self)
        stage.update(W=W, a_prev=h)
        mv.forward(f"W{l}", W)
        formula = f"W{l}·{self.in_name}"
        if self.bias != "none":
            bias = mv.network.params[f"b{l}"]
            column = np.full((self.width_out, 1), bias[()]) if bias.ndim == 0 else bias.reshape(-1, 1)
            b = mv.matrix(column)
            stage["b"] = b
            mv.forward(f"b{l}", b, note="   (one shared bias)" if self.bias == "layer" else "")
            formula += f" + b{l}"
            z = z + b * sympy.ones(1, h.cols)
        stage["z"] = z
        mv.forward(f"z{l}", formula, z)
        return z

    def matrix_backward(self, mv, d, h):
        return mv.linear_backward(self, d, h)


@register_layer
class ActivationLayer(Layer):
    """An activation from the activations table (``"tanh"``, ``{leaky_relu = {slope = 0.2}}``), applied to the layer before."""

    kind = "activation"
    options = ("slope",)
    argument = "slope"
    math = "a = f(z), any activation of the table above, by its name; leaky_relu takes slope"
    pytorch = "torch.nn.Tanh(), torch.nn.ReLU(), ... (torch.nn.Softmax(dim=1) last)"

    @classmethod
    def configure(cls, key, width, reading, kind, options):
        layer = cls(key, width, reading)
        layer.name = kind
        layer.activation = get_activation(kind)
        layer.last_only = layer.activation.last_layer_only
        if "slope" in options and kind != "leaky_relu":
            raise layer.error("only leaky_relu takes a slope")
        layer.slope = exact_slope(number(options.get("slope", reading.defaults.get("slope", DEFAULT_SLOPE)), layer, "slope"))
        layer.out = f"a{layer.stage}"
        layer.shared = None
        names = [layer.out]
        if layer.activation.shared is not None:
            layer.shared = f"{layer.activation.shared[0]}{layer.stage}"
            names.append(layer.shared)
        reading.claim(names, layer)
        return layer

    def where(self) -> str:
        return f"{self.key} ({self.name})"

    @property
    def describe(self) -> str:
        return self.name

    @property
    def kink(self) -> bool:
        return self.activation.kink

    def intermediates(self):
        found = [(self.out, "mn")]
        if self.shared:
            found.append((self.shared, "m"))
        return found

    def nodes(self, b, zs, sample):
        activation = self.activation
        if activation.elementwise:
            outputs = [activation.of(z, self.slope) for z in zs]
        else:
            outputs = activation.formula(zs, self.slope)
            if activation.shared is not None:  # softmax: the sum of exponentials, a node of its own
                shared = activation.shared[1](zs)
                total = b.node(self.shared, self.shared, shared, sample)
                outputs = [o.xreplace({shared: total}) for o in outputs]
        return b.vector(self.out, outputs, sample)

    def forward(self, params, h, ctx):
        if self.kink:
            ctx.kinks.append(h)
        a = self.activation.numpy(h, float(self.slope))
        return ctx.record(self.out, a)

    def code_forward(self, gen, h):
        return gen.activation_forward(self, h)

    def code_backward(self, gen, d, h):
        return gen.activation_backward(self, d, h)

    def matrix_forward(self, mv, h):
        return mv.activation_forward(self, h)

    def matrix_backward(self, mv, d, h):
        return mv.activation_backward(self, d, h)


@register_layer
class Dropout(Layer):
    """Inverted dropout with a fixed mask: ``drop = mask ⊙ a / (1 - p)``; the mask is part of the problem."""

    kind = "dropout"
    options = ("p", "mask")
    argument = "p"
    math = "drop = mask ⊙ a / (1 − p): mask[s, j] is 0 or 1, given or drawn from the seed (kept with probability 1 − p)"
    pytorch = "torch.nn.Dropout(p) in training mode, with its random mask fixed"

    @classmethod
    def configure(cls, key, width, reading, kind, options):
        layer = cls(key, width, reading)
        if "p" not in options:
            raise layer.error("give its probability p: {dropout = 0.5}")
        p = number(options["p"], layer, "p")
        if not 0 <= p < 1:
            raise layer.error(f"p must be in [0, 1), got {options['p']!r}")
        layer.p = exact_slope(p)
        layer.scale = 1 / (1 - layer.p)
        layer.given = options.get("mask")
        layer.out, layer.mask_name = f"drop{layer.stage}", f"mask{layer.stage}"
        reading.claim([layer.out, layer.mask_name], layer)
        return layer

    @property
    def describe(self) -> str:
        return f"dropout {float(self.p):g}"

    def mask(self, samples: int, seed: int | None, given: Any = None) -> np.ndarray:
        """The ``(samples, width)`` mask: given (in the spec or here), else drawn from ``seed``."""
        given = self.given if given is None else given
        shape = (samples, self.width_in)
        if given is None:
            rng = np.random.default_rng([0 if seed is None else seed, self.stage])
            return (rng.random(shape) >= float(self.p)).astype(np.float64)
        try:
            array = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.error(f"mask must be rows of 0 and 1, shape {shape} (samples, width)") from None
        if array.shape != shape:
            raise self.error(f"mask must have shape {shape} (samples, width), got {array.shape}")
        if not np.all((array == 0) | (array == 1)):
            raise self.error("mask entries must be 0 or 1")
        return array

    def intermediates(self):
        return [(self.out, "mn")]

    def nodes(self, b, h, sample):
        masks = [b.leaf(f"{self.mask_name}_{j}", f"{self.mask_name}[{j}]", sample) for j in range(self.width_in)]
        return b.vector(self.out, [self.scale * m * v for m, v in zip(masks, h)], sample)

    def forward(self, params, h, ctx):
        return ctx.record(self.out, h * ctx.masks[self.mask_name] * float(self.scale))

    def _mask(self, gen) -> str:
        name = f"M{self.stage}"
        gen.add(
            f'{name} = 1.0 if masks is None else numpy.asarray(masks["{self.mask_name}"], dtype=numpy.float64)*{float(self.scale)!r}',
            f"{gen.shape('m', self.width_in)}: mask/(1 - p); no masks: no dropout",
        )
        return name

    def code_forward(self, gen, h):
        mask = self._mask(gen)
        gen.add(f"DROP{self.stage} = {h}*{mask}", "inverted dropout")
        return f"DROP{self.stage}"

    def code_backward(self, gen, d, h):
        gen.add(f"{d} = {d}*M{self.stage}", "dL/da = mask/(1 - p) ⊙ dL/ddrop")
        return d

    def matrix_forward(self, mv, h):
        mask = mv.matrix(mv.network_masks[self.mask_name][mv.samples].T)
        scale = sympy.nsimplify(self.scale)
        out = h.multiply_elementwise(mask) * scale
        mv.stage(self).update({self.mask_name: mask, self.out: out, f"_{self.mask_name}": mask})
        mv.forward(self.mask_name, mask)
        mv.forward(self.out, f"{self.mask_name} ⊙ {self.in_name} / (1 - {sympy.sstr(self.p)})", out)
        return out

    def matrix_backward(self, mv, d, h):
        mask = mv.stage(self)[f"_{self.mask_name}"]
        result = d.multiply_elementwise(mask) * sympy.nsimplify(self.scale)
        mv.backward(f"dL/d{self.in_name}", f"{self.mask_name} ⊙ dL/d{self.out} / (1 - {sympy.sstr(self.p)})", result)
        return result


@register_layer
class Residual(Layer):
    """A skip around a block of layers of equal width: ``res = h + block(h)``."""

    kind = "residual"
    options = ("layers",)
    argument = "layers"
    math = "res = h + block(h), the block a layer list that keeps the width"
    pytorch = "x + block(x) in forward(), the block a torch.nn.Sequential"

    @classmethod
    def configure(cls, key, width, reading, kind, options):
        layer = cls(key, width, reading)
        if "layers" not in options:
            raise layer.error("give the block's layers: {residual = [{linear = 4}, \"relu\"]}")
        layer.block = _read(options["layers"], width, f"{key}.residual", reading)
        if layer.block[-1].width_out != width:
            raise layer.error(
                f"the block maps width {width} to {layer.block[-1].width_out}; a skip needs equal widths"
            )
        for inner in layer.block:
            if getattr(inner, "last_only", False):
                raise inner.error("must be the network's last layer, not inside a residual block")
        layer.stage = reading.stage
        layer.couples = any(inner.couples for inner in layer.block)
        layer.out = f"res{layer.stage}"
        reading.claim([layer.out], layer)
        return layer

    @property
    def describe(self) -> str:
        return "residual [" + ", ".join(inner.describe for inner in self.block) + "]"

    def sublayers(self):
        return self.block

    def intermediates(self):
        return [(self.out, "mn")]

    def nodes(self, b, h, sample):
        inner = h
        for layer in self.block:
            inner = layer.nodes(b, inner, sample)
        return b.vector(self.out, [u + v for u, v in zip(h, inner)], sample)

    def batch_nodes(self, b, hs):
        inner = run_stack(b, self.block, hs)
        return [b.vector(self.out, [u + v for u, v in zip(h, i)], k) for k, (h, i) in enumerate(zip(hs, inner))]

    def forward(self, params, h, ctx):
        inner = h
        for layer in self.block:
            inner = layer.forward(params, inner, ctx)
        return ctx.record(self.out, h + inner)

    def code_forward(self, gen, h):
        inner = h
        gen.memo[id(self)] = inputs = []
        for layer in self.block:
            inputs.append(inner)
            inner = layer.code_forward(gen, inner)
        gen.add(f"RES{self.stage} = {h} + {inner}", "the skip: res = h + block(h)")
        return f"RES{self.stage}"

    def code_backward(self, gen, d, h):
        skip = f"R{self.stage}"
        gen.add(f"{skip} = {d}.copy()", "the skip's share: dL/dh gets dL/dres as it is")
        for layer, inner in zip(reversed(self.block), reversed(gen.memo[id(self)])):
            d = gen.backward(layer, d, inner)
            if d is None:
                return None
        gen.add(f"{d} = {d} + {skip}", "dL/dh = dL/dres + the block's dL/dh")
        return d

    def matrix_forward(self, mv, h):
        inner = h
        for layer in self.block:
            inner = mv.layer_forward(layer, inner)
        out = h + inner
        mv.stage(self)[self.out] = out
        mv.forward(self.out, f"{self.in_name} + {self.block[-1].out}", out)
        return out

    def matrix_backward(self, mv, d, h):
        skip = d
        for layer in reversed(self.block):
            d = mv.layer_backward(layer, d, None)  # the view keeps each layer's input
            if d is None:
                return None
        result = d + skip
        mv.backward(f"dL/d{self.in_name}", f"dL/d{self.out} + (the block's dL/d{self.in_name})", result)
        return result
