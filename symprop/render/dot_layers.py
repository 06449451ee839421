"""A network's graph collapsed to one box per layer: the nodes named alike (``z1[0]``, ``z1[1]``) as one box.

A network's scalar graph has a node per neuron and sample, too many to draw
for any but the smallest nets. Grouped by name (``z1[0](s2)`` belongs to
``z1``, ``W1[0,1]`` to ``W1``), it is the network's layer diagram: ``x`` and
``W1`` and ``b1`` into ``z1``, ``z1`` into ``a1``, ... into ``L``. Each box
gives its shape, as the numpy arrays have it (samples first), its values and
gradients (all of them when there are a few, else their range), and each edge
names its Jacobian (``∂z1/∂W1``) and the rules its entries took. Nothing is
derived here: the groups read the recorded pass.
"""

from __future__ import annotations

import re
from typing import Mapping

from sympy import Symbol

from ..errors import SpecError
from .drawing import Box, Drawing, Wire, parts
from .numbers import DEFAULT_DIGITS, format_value

__all__ = ["layer_drawing", "group_name", "has_layers", "MAX_LISTED", "NOT_A_NETWORK"]

#: A box lists its values when it has at most this many, else gives their range.
MAX_LISTED = 4

#: The refusal of the layer view for a formula, from the command line and from Python alike.
NOT_A_NETWORK = "--view layers is for a [network] spec (a formula's nodes have no layers)"

_SAMPLE = re.compile(r"\(s(\d+)\)$")
_INDEX = re.compile(r"\[([0-9, ]*)\]")


def group_name(label: str) -> str:
    """The layer a node's label belongs to: ``z1[0](s2)`` -> ``z1``, ``W1[0,1]`` -> ``W1``, ``L`` -> ``L``."""
    return _INDEX.sub("", _SAMPLE.sub("", label))


def has_layers(graph) -> bool:
    """True when some label has an index (``W1[0,1]``): a network's graph, whose nodes group into
    layers. A formula's names are identifiers, so each would be a box of its own: the scalar view."""
    return any(_INDEX.search(graph.label(s)) for s in (*graph.leaves, *(n.symbol for n in graph.nodes)))


def _position(label: str) -> tuple[int | None, tuple[int, ...]]:
    """The sample and the index of a label: ``z1[0](s2)`` -> ``(2, (0,))``."""
    sample = _SAMPLE.search(label)
    index = _INDEX.search(label)
    numbers = tuple(int(k) for k in index.group(1).split(",") if k.strip()) if index else ()
    return (int(sample.group(1)) if sample else None), numbers


def _shape(labels: list[str]) -> str:
    """A group's shape from its members' labels: samples first, then the index's extent (``4×3``)."""
    samples, extents = set(), []
    for label in labels:
        sample, index = _position(label)
        if sample is not None:
            samples.add(sample)
        for k, i in enumerate(index):
            if k == len(extents):
                extents.append(0)
            extents[k] = max(extents[k], i + 1)
    dims = ([len(samples)] if samples else []) + extents
    return "×".join(str(d) for d in dims) if dims else "scalar"


def _summary(word: str, values: list, digits: int) -> str:
    """``value [0.1, 0.2]`` for a few values, else ``values in [lo, hi]``."""
    if len(values) == 1:
        return f"{word} {format_value(values[0], digits)}"
    if len(values) <= MAX_LISTED:
        return f"{word} [{', '.join(format_value(v, digits) for v in values)}]"
    numbers = [float(v) for v in values]
    low, high = min(numbers), max(numbers)
    return f"{len(values)} {word}s in [{low:.3g}, {high:.3g}]"


def layer_drawing(
    source,
    *,
    digits: int = DEFAULT_DIGITS,
    captions: Mapping[str, str] | None = None,
) -> Drawing:
    """One box per group of nodes named alike, one edge per pair of groups that an edge joins.

    Args:
        source: a :class:`~symprop.backprop.BackwardPass` or a bare graph.
        digits: significant digits of listed values.
        captions: a caption per group, after its shape (``{"a1": "sigmoid"}``).

    Raises:
        SpecError: the graph is a formula's (:data:`NOT_A_NETWORK`): it has no layers to group.
    """
    graph, bp = parts(source)
    if not has_layers(graph):
        raise SpecError(NOT_A_NETWORK)
    captions = captions or {}
    params = set(graph.params)
    output = graph.output
    out_name = graph.label(output)
    members: dict[str, list[Symbol]] = {}

    def key(symbol: Symbol) -> str:
        name = group_name(graph.label(symbol))
        if name == out_name and symbol != output:  # the per-sample losses L(s0), L(s1), ...
            return name + "(s)"
        return name

    for symbol in (*graph.leaves, *(n.symbol for n in graph.nodes)):
        members.setdefault(key(symbol), []).append(symbol)
    ids = {name: f"g{k}" for k, name in enumerate(members)}
    boxes = []
    for name, symbols in members.items():
        labels = [graph.label(s) for s in symbols]
        shape = _shape(labels)
        if output in symbols:
            kind, role = "output", "output"
        elif symbols[0] in params:
            kind, role = "param", "parameter"
        elif graph.is_node(symbols[0]):
            kind, role = "node", ""
        else:
            kind, role = "input", "input"
        head = name + ("" if shape == "scalar" else f" ({shape})")
        caption = captions.get(name) or role
        lines = [f"{head}: {caption}" if caption else head]
        rows = []
        if bp is not None:
            rows.append(_summary("value", [bp.values[s] for s in symbols], digits))
            grads = [bp.adjoints[s].value for s in symbols if s in bp.adjoints]
            if grads:
                rows.append(_summary("grad", grads, digits))
        boxes.append(Box(ids[name], lines, rows, kind))
    rules: dict[tuple[str, str], list[str]] = {}
    for step in bp.steps if bp else ():
        pair = (key(step.input), key(step.node))
        found = rules.setdefault(pair, [])
        for part in (step.rule.name.split(", ") if step.rule is not None else []):
            if part not in found:
                found.append(part)
    wires, seen = [], set()
    for node in graph.nodes:
        for v in node.inputs:
            pair = (key(v), key(node.symbol))
            if pair in seen or pair[0] == pair[1]:
                continue
            seen.add(pair)
            label = []
            if pair in rules:
                label = [f"∂{pair[1]}/∂{pair[0]}"] + ([", ".join(rules[pair])] if rules[pair] else [])
            wires.append(Wire(ids[pair[0]], ids[pair[1]], label))
    return Drawing(boxes, wires)
