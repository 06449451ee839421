"""Compact forms of a network's gradients: derived once per sample's graph, written for every sample by name.

``symprop grad`` prints, for each parameter scalar, its gradient's compact form
(in node symbols: ``dL/da1[0](s0)*x[0](s0)*(1 - a1[0](s0)**2) + ...``), the
nodes those forms use and the gradients written by name, with their values.
The scalar pass builds the whole batch's graph and derives every node of every
sample. But a network whose batch loss is the mean (or sum) of per-sample
losses has one graph per sample, the same up to the names: sample ``k``'s
nodes are sample 0's with ``(sk)`` after their labels. So here

* the compact forms are derived once, on one sample's graph, without values
  (:class:`~symprop.backprop.CompactForms`), with ``dL/dL(s)`` seeded as the
  batch graph has it (``1/m`` for a mean);
* each form is printed once per *pattern*, with its symbols replaced by
  placeholders that sort as their labels do (SymPy orders the factors and terms
  it prints by their names, and nothing else about the names), and every
  sample's text is that pattern with the labels filled in; a sum over the
  batch orders its terms as SymPy would, from the order of two copies;
* the values come from the vectorized evaluation and the numpy reference.

The result is the scalar pass's text (``tests/test_forms.py`` holds them equal,
character for character, on every activation, loss, bias mode and layer kind
that this applies to), at the cost of one sample's graph instead of the batch's.
Networks whose samples are coupled (batchnorm, weight decay), exact inputs and
``--expanded`` keep the scalar pass.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import sympy
from sympy import Symbol
from sympy.printing.precedence import PRECEDENCE, precedence

from ..backprop import CompactForms
from ..graph import Graph
from .reference import forward_values, per_sample_loss_numpy

if TYPE_CHECKING:  # pragma: no cover
    from .network import Network

__all__ = ["GradientForms", "gradient_forms"]

#: Placeholder names: a private-use character, the label's rank, and (for a second copy) another mark.
_MARK, _COPY = "\ue000", "\ue001"
_TOKEN = re.compile(f"{_MARK}(\\d{{6}})(?:{_COPY}(\\d))?")


@dataclass
class GradientForms:
    """What ``grad`` prints of a network, as finished text and numbers.

    Attributes:
        output: the loss's label (``L``).
        loss: its value.
        entries: per parameter scalar, in order: its label, its gradient's value, its printed compact form.
        where: the nodes the forms use, in forward order: label, printed formula, value.
        named: the gradients the forms write by name, in the order the backward pass names them: label, value.
    """

    output: str
    loss: float
    entries: list[tuple[str, float, str]] = field(default_factory=list)
    where: list[tuple[str, str, float]] = field(default_factory=list)
    named: list[tuple[str, float]] = field(default_factory=list)


class _Writer:
    """Prints one sample's expressions for any sample, through placeholders that sort as the labels do."""

    def __init__(self, graph: Graph, forms: CompactForms, printer: Callable[[sympy.Expr], str], suffixes: list[str]):
        self.graph, self.printer, self.suffixes = graph, printer, suffixes
        self.batch = suffixes != [""]
        out = graph.label(graph.output)
        self.base: dict[Symbol, str] = {}  # the label as one sample's graph writes it
        self.named = set(forms.adjoint_symbols.values())
        for v, symbol in forms.adjoint_symbols.items():
            self.base[symbol] = f"d{out}/d{graph.label(v)}"
        self.shared = set(graph.params)
        self._templates: dict[tuple, object] = {}
        self._patterns: dict[sympy.Expr, tuple[list[Symbol], list[str], sympy.Expr]] = {}
        #: the samples in the order SymPy sorts their labels: "(s1)" < "(s10)" < "(s2)"
        self.order = sorted(range(len(suffixes)), key=lambda k: suffixes[k])

    def label(self, symbol: Symbol) -> str:
        if symbol not in self.base:
            self.base[symbol] = self.graph.label(symbol)
        return self.base[symbol]

    def _placeholder(self, s: Symbol, rank: int, copy: int) -> Symbol:
        """The placeholder of the symbol of this rank: as the printed expression names it, a symbol whose
        label is its name keeps its assumptions and any other is a plain symbol (see ``labelled``)."""
        specific = s not in self.shared
        name = f"{_MARK}{rank:06d}" + (f"{_COPY}{copy}" if specific else "")
        written = None if s in self.named else f"s0_{s.name}" if specific and self.batch else s.name
        keep = written == self.label(s) + (self.suffixes[0] if specific else "")
        return Symbol(name, **(s.assumptions0 if keep else {}))

    def _pattern(self, expression: sympy.Expr) -> tuple[list[Symbol], list[str], sympy.Expr]:
        """The expression's symbols by label, their labels, and the expression in placeholders (once per expression)."""
        if expression not in self._patterns:
            ranked = sorted(expression.free_symbols, key=self.label)
            mapping = {s: self._placeholder(s, rank, 0) for rank, s in enumerate(ranked)}
            self._patterns[expression] = (ranked, [self.label(s) for s in ranked], expression.xreplace(mapping))
        return self._patterns[expression]

    def _names(self, ranked: list[Symbol], k: int) -> list[str]:
        suffix = self.suffixes[k]
        return [self.label(s) if s in self.shared else self.label(s) + suffix for s in ranked]

    def one(self, expression: sympy.Expr) -> Callable[[int], str]:
        """``expression`` (one sample's symbols), to be written for any sample ``k``."""
        ranked, _, pattern = self._pattern(expression)
        key = ("one", pattern)
        if key not in self._templates:
            self._templates[key] = _format(self.printer(pattern))
        template = self._templates[key]
        labels = [(self.label(s), s not in self.shared) for s in ranked]
        return lambda k: template.format(*[label + self.suffixes[k] if specific else label for label, specific in labels])

    def parameter(self, factors: list[tuple[sympy.Expr, sympy.Expr]]) -> str:
        """A parameter's compact form (upstream times local, over the nodes that use it), summed over the samples.

        A weight's is one node's upstream times one input: its pattern is that
        upstream's, with the input's label in its place, so no SymPy is needed per weight.
        """
        if len(factors) == 1 and factors[0][1].is_Symbol and factors[0][1] not in factors[0][0].free_symbols:
            upstream, local = factors[0]
            ranked_u, labels_u, pattern_u = self._pattern(upstream)
            at = bisect.bisect_left(labels_u, self.label(local))
            ranked = ranked_u[:at] + [local] + ranked_u[at:]
            key = ("product", pattern_u, at, self._placeholder(local, at, 0))
            if key not in self._templates:
                self._templates[key] = self._template(upstream * local, ranked)
            return self._render(self._templates[key], ranked, lambda: upstream * local)
        expression = sympy.Add(*(upstream * local for upstream, local in factors))
        ranked, _, pattern = self._pattern(expression)
        key = ("sum", pattern)
        if key not in self._templates:
            self._templates[key] = self._template(expression, ranked)
        return self._render(self._templates[key], ranked, lambda: expression)

    def _template(self, expression: sympy.Expr, ranked: list[Symbol]):
        first = {s: self._placeholder(s, rank, 0) for rank, s in enumerate(ranked)}
        pattern = expression.xreplace(first)
        if not self.batch:
            return ("one", _format(self.printer(pattern)))
        second = {s: self._placeholder(s, rank, 1) for rank, s in enumerate(ranked)}
        return self._sum_template(pattern, first, second)

    def _render(self, template, ranked: list[Symbol], expression: Callable[[], sympy.Expr]) -> str:
        if template[0] == "one":
            return template[1].format(*self._names(ranked, 0))
        if template[0] is None:  # a term without a sample's own symbols: SymPy adds its copies up
            whole = expression()
            m = len(self.suffixes)
            return self.printer(sympy.Add(*(whole.xreplace(self._sample_symbols(ranked, k)) for k in range(m))))
        _, texts, signs, order = template
        labels = [(self.label(s), s not in self.shared) for s in ranked]
        pieces = []
        for i, k in order(self.order):
            suffix = self.suffixes[k]
            pieces += [signs[i], texts[i].format(*[label + suffix if specific else label for label, specific in labels])]
        first_sign = pieces.pop(0)
        return ("" if first_sign == "+" else first_sign) + " ".join(pieces)

    def _sample_symbols(self, ranked: list[Symbol], k: int) -> dict[Symbol, Symbol]:
        """Sample ``k``'s own symbols, as the batch graph's labels print them (the general, slow way)."""
        mapping = {}
        for s in ranked:
            if s in self.shared:
                mapping[s] = Symbol(self.label(s), **({} if self.label(s) != s.name else s.assumptions0))
            else:
                mapping[s] = Symbol(self.label(s) + self.suffixes[k])
        return mapping

    def _sum_template(self, pattern: sympy.Expr, first: dict, second: dict):
        """The terms' texts and signs, and the order of every sample's terms, from the order of two samples'.

        SymPy compares two samples' labels by their suffixes alone (``(s1)`` before
        ``(s10)``), and two different labels as one sample's graph has them; so the
        order of two copies (the first sample's labels before the second's) gives
        the order of all of them.
        """
        terms = list(pattern.as_ordered_terms()) if pattern.is_Add else [pattern]
        shared = {first[s] for s in self.shared if s in first}
        if any(not (t.free_symbols - shared) for t in terms):
            return (None,)
        renamed = {first[s]: second[s] for s in first}
        copies = [t.xreplace(renamed) for t in terms]
        both = sympy.Add(*terms, *copies)
        position = {t: n for n, t in enumerate(both.as_ordered_terms())}
        if len(position) != 2 * len(terms) or any(t not in position for t in terms + copies):
            return (None,)
        before = [[position[a] < position[b] for b in copies] for a in terms]
        texts, signs = [], []
        for term in terms:
            text, sign = self.printer(term), "+"
            if text.startswith("-") and not term.is_Add:
                sign, text = "-", text[1:]
            if precedence(term) < PRECEDENCE["Add"] or term.is_Add:
                text = f"({text})"
            texts.append(_format(text))
            signs.append(sign)

        def order(samples: list[int]) -> list[tuple[int, int]]:
            if len(terms) == 1:  # one term a sample: the samples in label order, or its reverse
                return [(0, k) for k in (samples if before[0][0] else samples[::-1])]
            rank = {k: r for r, k in enumerate(samples)}

            def compare(a: tuple[int, int], b: tuple[int, int]) -> int:
                (i, k), (j, l) = a, b
                if k == l:
                    return i - j
                if rank[k] < rank[l]:
                    return -1 if before[i][j] else 1
                return 1 if before[j][i] else -1

            return sorted(((i, k) for k in samples for i in range(len(terms))), key=functools.cmp_to_key(compare))

        return ("sum", texts, signs, order)


def _format(text: str) -> str:
    """Printed text with placeholders as a format string: ``{3}`` for the label of rank 3."""
    text = text.replace("{", "{{").replace("}", "}}")
    return _TOKEN.sub(lambda match: "{" + str(int(match.group(1))) + "}", text)


def _node_values(network: "Network", rows: slice) -> Callable[[str, int], float | None]:
    """A one-sample node's value in sample ``k`` of ``rows``, by its name (``z1_3``, ``sumexp2``, ``L``)."""
    x, masks = network.x[rows], {name: mask[rows] for name, mask in network.masks.items()}
    with np.errstate(all="ignore"):
        values = dict(forward_values(network.mlp, network.params, x, masks).values)
        for layer in network.mlp.stack:
            if getattr(layer, "shared", None):  # softmax's sum of exponentials, a node of the scalar graph
                values[layer.shared] = np.sum(np.exp(values[layer.in_name]), axis=1)
        values["L"] = per_sample_loss_numpy(network.mlp, network.params, x, network.y[rows], masks)

    def value(name: str, k: int) -> float | None:
        return _lookup(values, name, k)

    return value


def _lookup(arrays: dict[str, np.ndarray], name: str, k: int) -> float | None:
    if name in arrays and np.ndim(arrays[name]) == 1:
        return float(arrays[name][k])
    base, _, unit = name.rpartition("_")
    if base in arrays and unit.isdigit() and np.ndim(arrays[base]) == 2:
        return float(arrays[base][k, int(unit)])
    return None


def gradient_forms(network: "Network", sample: int | None, printer: Callable[[sympy.Expr], str]
                   ) -> GradientForms | None:
    """``grad``'s forms and values of ``network`` (the batch, or sample ``sample``'s own loss), or None.

    None where the scalar pass must answer: exact inputs, samples that are
    coupled (batchnorm, weight decay) unless ``sample`` is given, or values the
    vectorized evaluation does not give (see :func:`symprop.nn.vectorized.evaluate`).
    ``printer`` writes one expression (its symbols named as labels) as text.
    """
    mlp, m = network.mlp, network.samples
    batch = sample is None and m > 1
    if network.exact or (batch and not mlp.separable):
        return None
    evaluation = network.evaluation(sample)
    if evaluation is None:
        return None
    if "forms_graph" not in network.cache:
        from .network import network_graph

        network.cache["forms_graph"] = network_graph(mlp, None, ordered=False)
    graph: Graph = network.cache["forms_graph"]
    seed = sympy.Rational(1, m) if batch and mlp.reduction == "mean" else sympy.S.One
    key = ("forms", seed)
    if key not in network.cache:
        network.cache[key] = CompactForms(graph, seed)
    forms: CompactForms = network.cache[key]
    rows = slice(None) if sample is None else slice(sample, sample + 1)
    suffixes = [f"(s{k})" for k in range(m)] if batch else [""]
    writer = _Writer(graph, forms, printer, suffixes)
    node_value = _node_values(network, rows)
    out = graph.label(graph.output)
    result = GradientForms(out, evaluation.loss)
    compacts = []
    for p in graph.params:
        name, _, index = p.name.partition("_")
        grad = evaluation.gradients[name]
        value = float(grad[tuple(int(i) for i in index.split("_"))] if index else grad[()])
        compacts.append(forms.factors[p])
        result.entries.append((graph.label(p), value + 0.0, writer.parameter(forms.factors[p])))
    # the nodes the forms use and the nodes those use, in forward order, sample after sample
    mentioned = {s for factors in compacts for pair in factors for part in pair for s in part.free_symbols}
    used, todo = set(), [s for s in mentioned if graph.is_node(s)]
    while todo:
        s = todo.pop()
        if s not in used:
            used.add(s)
            todo.extend(t for t in graph.node(s).inputs if graph.is_node(t))
    nodes = [node for node in graph.nodes if node.symbol in used]
    formulas = [(node, writer.one(node.formula)) for node in nodes]
    for k in range(len(suffixes)):
        for node, formula in formulas:
            value = node_value(node.symbol.name, k)
            if value is None:
                return None
            result.where.append((writer.label(node.symbol) + suffixes[k], formula(k), value + 0.0))
    # the gradients written by name, in the order the batch's backward pass names them
    named = [v for v, symbol in forms.adjoint_symbols.items() if symbol in mentioned]
    level = forms.levels
    index = {node.symbol: n for n, node in enumerate(graph.nodes)}
    order = sorted(((v, k) for v in named for k in range(len(suffixes))), key=lambda vk: (-level[vk[0]], vk[1], index[vk[0]]))
    for v, k in order:
        value = _lookup(evaluation.adjoints, v.name, k)
        if value is None:
            return None
        result.named.append((writer.label(v) + suffixes[k], value + 0.0))
    return result
