"""What a derivation shows, in order: the rows every format writes in its own way.

A :class:`DeriveView` is read off a recorded derivation (nothing is derived
here): a heading, the forward intermediates, the backward steps right to left
(a gradient that arrives along several branches gets one row per branch and a
row for their sum), the gradients, and the check. Each row holds SymPy
expressions; the text, rich, Markdown, LaTeX and HTML renderers only format them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy
from sympy import MatrixSymbol

from ..derive import Derivation, SpecDerivation
from ..derive.algebra import count
from ..derive.check import TOLERANCE, Check
from ..derive.network import layers_text
from ..derive.rules import Rule
from ..errors import LimitError
from ..derive.printing import TEXT, write

__all__ = ["Row", "Section", "DeriveView", "formula_view", "network_view", "derivation_view", "MAX_SHOWN"]

#: A step's formula (with the upstream gradient written out) is shown when it has at most this many nodes.
MAX_SHOWN = 40


def _shown_value(forms: list[sympy.Basic], value: sympy.Matrix | None) -> sympy.Matrix | None:
    """The value, unless the row already ends in it (``∂L/∂sum1 = 1``, not ``= 1 = 1``)."""
    if value is not None and forms and not getattr(forms[-1], "free_symbols", True) and value.shape == (1, 1):
        return None
    return value


@dataclass
class Row:
    """``label [shape] = forms[0] = forms[1] ... = value``, justified by ``rule``.

    ``label`` is a symbol name (``dL_dW``, ``prod1``) or text (``∂L/∂x (via prod1)``).
    """

    label: str
    shape: tuple[int, int]
    forms: list[sympy.Basic]
    rule: Rule | None = None
    value: sympy.Matrix | None = None
    note: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class DeriveView:
    """Everything a renderer writes.

    Attributes:
        title: one line (``L = ... with respect to W, b``).
        details: lines under it (the shapes, the network).
        sections: forward, backward (or one per layer), gradients.
        check: the check in words, and whether it passed.
        labels: display labels by symbol name (``dL_dW`` is ``∂L/∂W``).
        first: the gradient symbols, which a Hadamard product writes first.
    """

    title: str
    details: list[str]
    sections: list[Section]
    check: str
    passed: bool
    labels: dict[str, str]
    first: frozenset


def _label(derivation: Derivation, symbol: MatrixSymbol) -> str:
    return derivation.labels.get(symbol.name, symbol.name)


def _forms(compact: sympy.Basic, formula: sympy.Basic) -> list[sympy.Basic]:
    if count(formula) > MAX_SHOWN or write(formula, TEXT) == write(compact, TEXT):
        return [compact]
    return [compact, formula]


def _first(derivation: Derivation) -> frozenset:
    return frozenset(a.gradient.name for a in derivation.adjoints.values() if a.gradient is not None)


def check_text(check: Check, *, point: str) -> str:
    verdict = "every step equals" if check.passed else "FAILED: not every step equals"
    return (
        f"Checked {point}: {verdict} symprop's scalar backward pass entry by entry "
        f"({check.entries} entries compared, each form shown; {check.scalar_steps} scalar chain-rule steps; "
        f"largest difference {check.max_error:.1e}, tolerance {TOLERANCE:.0e})"
    )


def formula_view(derivation: Derivation) -> DeriveView:
    """The view of a formula's derivation (with values when the point was given)."""
    check = derivation.check
    values = check.values if check is not None and check.values.point.given else None
    wrt = ", ".join(v.name for v in derivation.wrt)
    shapes = ", ".join(f"{name} {s.shape[0]}×{s.shape[1]}" for name, s in derivation.leaves.items())
    details = [f"shapes: {shapes}"]
    if values is not None:
        details.append("at the point given with --at")
    forward = Section("Forward, one intermediate per operation")
    for node in derivation.nodes:
        value = values.nodes[node.symbol] if values is not None else None
        forward.rows.append(Row(node.name, node.shape, [node.formula], value=value))
    backward = Section("Backward, right to left: ∂L/∂v has the shape of v")
    out = _label(derivation, derivation.output.symbol)
    backward.rows.append(Row(f"∂{out}/∂{out}", (1, 1), [sympy.Identity(1)]))
    arrived: dict[MatrixSymbol, int] = {}
    for k, step in enumerate(derivation.steps):
        adjoint = derivation.adjoints[step.input]
        label = adjoint.gradient.name
        many = len(adjoint.steps) > 1
        row_label = f"{_label(derivation, adjoint.gradient)} (via {_label(derivation, step.node)})" if many else label
        value = values.steps[k] if values is not None else None
        forms = _forms(step.compact, step.formula)
        backward.rows.append(Row(row_label, step.shape, forms, step.rule, _shown_value(forms, value)))
        arrived[step.input] = arrived.get(step.input, 0) + 1
        if many and arrived[step.input] == len(adjoint.steps):
            total = values.gradients[step.input] if values is not None else None
            backward.rows.append(
                Row(label, step.shape, _forms(adjoint.compact, adjoint.formula), None, total, note="the sum of its branches")
            )
    gradients = Section("Gradients, in the given matrices")
    for v in derivation.wrt:
        adjoint = derivation.adjoints[v]
        try:
            forms = [derivation.expand(adjoint.formula)]
        except LimitError as error:
            forms, note = [adjoint.formula], f"(in intermediates: {error})"
        else:
            note = ""
        value = values.gradients[v] if values is not None else None
        gradients.rows.append(Row(adjoint.gradient.name, (int(v.shape[0]), int(v.shape[1])), forms, value=value, note=note))
    point = "at the point given" if values is not None else f"at a random point (seed {check.values.point.seed})"
    return DeriveView(
        f"L = {derivation.text}, with respect to {wrt}",
        details,
        [forward, backward, gradients],
        check_text(check, point=point),
        check.passed,
        dict(derivation.labels),
        _first(derivation),
    )


def network_view(result: SpecDerivation) -> DeriveView:
    """The view of a network's layer formulas, with one sample's values."""
    formulas, derivation, network = result.formulas, result.formulas.derivation, result.network
    values = result.check.values
    mlp = network.mlp
    biases = {getattr(layer, "bias", None) for layer in mlp.stack} - {None}
    words = {"neuron": "one bias per neuron", "layer": "one shared bias per layer", "none": "no bias"}
    bias = words[biases.pop()] if len(biases) == 1 else "biases per layer as given"
    activations = ", ".join(layer.activation or "none" for layer in formulas.layers)
    details = [
        f"activations {activations}; loss {mlp.loss} (reduction {mlp.reduction}); {bias}",
        f"one sample as a column: x is {mlp.n_inputs}×1, y is {mlp.n_outputs}×1; "
        f"values of sample {result.sample} of {network.samples}",
    ]
    forward = Section("Forward, layer by layer")
    output = derivation.nodes[-2].name if len(derivation.nodes) > 1 else "x"
    for node in derivation.nodes:
        note = f"{node.function_name}({output}, y), entry by entry" if node.kind == "loss" else ""
        forward.rows.append(Row(node.name, node.shape, [node.formula], value=values.nodes[node.symbol], note=note))
    sections = [forward]
    loss = formulas.loss_step
    last = Section("Backward, right to left, from the loss")
    last.rows.append(Row(loss.input.name and derivation.adjoints[loss.input].gradient.name, loss.shape,
                         [loss.compact], loss.rule, values.gradients[loss.input]))
    sections.append(last)
    index = {id(s): k for k, s in enumerate(derivation.steps)}
    for layer in reversed(formulas.layers):
        section = Section(f"layer {layer.index} ({layer.activation or 'linear'})")
        for step, target in ((layer.delta_step, layer.z), (layer.dW_step, layer.W), (layer.db_step, layer.b),
                             (layer.da_prev_step, layer.a_prev)):
            if step is None:
                continue
            label = derivation.adjoints[target].gradient.name
            value = values.steps[index[id(step)]]
            section.rows.append(Row(label, step.shape, _forms(step.compact, step.formula), step.rule, value))
        sections.append(section)
    batch = Section(f"The batch: {network.samples} sample{'s' if network.samples != 1 else ''}, "
                    f"reduction {mlp.reduction}")
    if network.samples > 1:
        for name, grad in result.batch.items():
            matrix = sympy.Matrix(_column(grad, derivation.leaves[name].shape))
            batch.rows.append(Row(derivation.adjoints[derivation.leaves[name]].gradient.name,
                                  _shape(derivation.leaves[name]), [], value=matrix,
                                  note=f"the {mlp.reduction} over the samples"))
        sections.append(batch)
    passed = result.passed
    worst = max(result.errors.values(), default=0.0)
    check = check_text(result.check, point=f"at sample {result.sample}")
    checked = result.checked_samples
    if network.samples == 1:
        which = "the sample"
    elif len(checked) == network.samples:
        which = "every sample and the batch"
    else:
        which = f"samples {checked[0]} to {checked[-1]} (of {network.samples})" if checked == list(
            range(checked[0], checked[-1] + 1)) else f"samples {', '.join(map(str, checked))} (of {network.samples})"
    check += (
        f"; the derived gradients of {which} "
        f"{'equal' if worst <= TOLERANCE else 'DIFFER FROM'} Network.exact_gradients (largest difference {worst:.1e})"
    )
    return DeriveView(
        f"Network {layers_text(mlp)}: each layer's delta, dL/dW, dL/db and dL/da_prev, derived",
        details, sections, check, passed, dict(derivation.labels), _first(derivation),
    )


def _shape(symbol: MatrixSymbol) -> tuple[int, int]:
    return (int(symbol.shape[0]), int(symbol.shape[1]))


def _column(array, shape) -> list[list[float]]:
    import numpy as np

    return np.asarray(array, dtype=np.float64).reshape(shape).tolist()


def derivation_view(result: Derivation | SpecDerivation) -> DeriveView:
    """The view of what ``symprop derive`` made: a formula's derivation or a network's."""
    return formula_view(result) if isinstance(result, Derivation) else network_view(result)
