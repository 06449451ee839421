"""Spec files: a formula graph (``[graph]``) or a network (``[network]``), in TOML or JSON.

Reading a spec is strict: an unknown key, a wrong type or a non-finite number
is a :class:`~symprop.errors.SpecError` that names the key, so a typo is never
silently ignored. The format is in the README ("Networks" and "Spec files").
This module is the one place spec tables are read; the library it builds
(:class:`~symprop.graph.Graph`, :class:`~symprop.nn.MLP`,
:class:`~symprop.nn.Network`) takes plain arguments.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from . import display
from .errors import LimitError, SpecError, SympropError
from .graph import Graph
from .limits import MAX_EXACT_STEPS, MAX_SPEC_INTEGER_BITS
from .nn import MLP, Network, NetworkProblem, Sequential
from .optim import OPTIMIZERS
from .registry import did_you_mean

__all__ = ["read_spec", "load_spec", "GraphSpec", "NetworkSpec", "TrainConfig", "known_keys", "network_spec", "graph_spec"]

TOP_LEVEL_KEYS = {"graph", "network", "params", "data", "train"}
GRAPH_KEYS = {"nodes", "params", "at", "exact"}
NETWORK_KEYS = {"layers", "inputs", "activation", "loss", "reduction", "bias", "slope", "weight_decay"}
PARAMS_KEYS = {"seed", "init"}  # besides the parameters' own names
DATA_KEYS = {"x", "y"}
TRAIN_KEYS = {"learning_rate", "steps", "optimizer"}


@dataclass
class GraphSpec:
    """A ``[graph]`` spec: the graph and the point it is evaluated at."""

    graph: Graph
    at: dict[str, Any] = field(default_factory=dict)
    exact: bool = False

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the graph's formulas and the point."""
        return display.show(self, "markdown")


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON (``.json``) file into a dict.

    Raises:
        SpecError: the file is missing, unreadable, not a regular file, larger
            than :data:`MAX_SPEC_BYTES`, not valid TOML/JSON, or names a key
            twice in one table.
    """
    path = Path(path)
    raw = _read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"spec file {str(path)!r} is not UTF-8 text") from None
    try:
        if path.suffix.lower() == ".json":  # NaN/Infinity load as floats, long integers as _LongInteger; checks name their key
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_json_integer)
        else:
            data = tomllib.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"{path.name}: invalid JSON at line {error.lineno}: {error.msg}") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path.name}: invalid TOML: {error}") from None
    except SpecError as error:  # a duplicate key
        raise SpecError(f"{path.name}: {error}") from None
    except ValueError:  # int('9' * 5000) in TOML: Python reads no integer past 4,300 digits
        long = re.search(r"\d{4300}", text)
        where = f" line {text[: long.start()].count(chr(10)) + 1}" if long else ""
        raise SpecError(f"{path.name}{where}: a number has more than 4,300 digits (Python's limit for reading one)") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the top level must be a table/object")
    _limit_integers(data, "")
    return data


class _LongInteger:
    """A JSON integer too long to read (Python refuses more than 4,300 digits): refused, naming its key."""

    def __init__(self, digits: int):
        self.digits = digits


def _json_integer(text: str) -> Any:
    digits = len(text.lstrip("-"))
    return _LongInteger(digits) if digits > 4000 else int(text)


def _limit_integers(value: Any, key: str) -> None:
    """Refuse an integer past ``MAX_SPEC_INTEGER_BITS`` anywhere in a spec, naming its key.

    Such numbers do not fit a float64 (``int too large to convert to float``) or
    make exact arithmetic crawl; formulas refuse them the same way.
    """
    if isinstance(value, Mapping):
        for name, item in value.items():
            _limit_integers(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _limit_integers(item, f"{key}[{i}]")
    elif isinstance(value, _LongInteger) or (
        isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_SPEC_INTEGER_BITS
    ):
        digits = value.digits if isinstance(value, _LongInteger) else len(str(abs(value)))
        raise SpecError(
            f"{key}: an integer of {digits:,} digits is too large "
            f"(at most {MAX_SPEC_INTEGER_BITS} bits, about {int(MAX_SPEC_INTEGER_BITS * math.log10(2))} digits)"
        )


#: A spec file larger than this is refused before it is read (a spec is a few
#: kilobytes; ``/dev/zero`` or a runaway file would fill the memory).
MAX_SPEC_BYTES = 10_000_000


def _read_bounded(path: Path) -> bytes:
    """A regular file's bytes, at most :data:`MAX_SPEC_BYTES`; a FIFO or a device is refused, not read."""
    shown = repr(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except FileNotFoundError:
        raise SpecError(f"spec file {shown} does not exist") from None
    except IsADirectoryError:
        raise SpecError(f"spec file {shown} is a directory") from None
    except OSError as error:
        raise SpecError(f"cannot read spec file {shown}: {error.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise SpecError(f"spec file {shown} is a directory")
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or a socket"
        raise SpecError(f"spec file {shown} is {kind}, not a regular file; give a .toml or .json file")
    with os.fdopen(fd, "rb") as file:
        try:
            raw = file.read(MAX_SPEC_BYTES + 1)
        except OSError as error:
            raise SpecError(f"cannot read spec file {shown}: {error.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"spec file {shown} is larger than {MAX_SPEC_BYTES:,} bytes (the limit for a spec file)")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that names a key twice is refused (the second would silently win)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise SpecError(f"the key {key!r} is given twice in one object")
        data[key] = value
    return data


def known_keys(table: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    """Refuse a table that is not a table, or that has a key not in ``allowed``."""
    if not isinstance(table, Mapping):
        raise SpecError(f"[{where}] must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(
            f"unknown key {where + '.' if where else ''}{unknown[0]!r}; expected one of: {', '.join(sorted(allowed))}"
            f"{did_you_mean(unknown[0], allowed)}"
        )
    return table


def finite_number(value: Any, key: str) -> Any:
    """Refuse NaN/infinity (TOML has ``nan`` and ``inf``) and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{key}: expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{key}: {value} is not a finite number")
    return value


def load_spec(path: str | Path) -> "GraphSpec | NetworkSpec":
    """Read and check a spec file; returns a :class:`GraphSpec` or a :class:`NetworkSpec`.

    Raises:
        SpecError: anything wrong with the file, naming the key.
    """
    data = read_spec(path)
    known_keys(data, TOP_LEVEL_KEYS, "")
    if "graph" in data and "network" in data:
        raise SpecError("a spec has either [graph] or [network], not both")
    if "graph" in data:
        extra = sorted(set(data) - {"graph"})
        if extra:
            raise SpecError(f"[{extra[0]}] does not go with [graph] (it belongs to a [network] spec)")
        return graph_spec(data["graph"])
    if "network" in data:
        return network_spec(data)
    raise SpecError("a spec needs a [graph] or a [network] table")


def graph_spec(table: Any) -> GraphSpec:
    """Check a ``[graph]`` table and build its graph."""
    known_keys(table, GRAPH_KEYS, "graph")
    nodes = table.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise SpecError("graph.nodes: expected a non-empty list of 'name = formula' strings")
    params = table.get("params")
    if params is not None and (not isinstance(params, list) or not all(isinstance(p, str) for p in params)):
        raise SpecError("graph.params: expected a list of names")
    exact = table.get("exact", False)
    if not isinstance(exact, bool):
        raise SpecError("graph.exact: expected true or false")
    _limit_graph_size(nodes)
    at = table.get("at", {})
    if not isinstance(at, Mapping):
        raise SpecError("graph.at: expected a table of leaf = number")
    for key, value in at.items():
        finite_number(value, f"graph.at.{key}")
    try:
        graph = Graph.from_formulas(nodes, params, exact=exact)
    except SympropError as error:
        raise SpecError(f"graph.nodes: {error}") from None
    return GraphSpec(graph, dict(at), exact)


#: A name in a node's formula: one input, so about one chain-rule step.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\b(?!\s*\()")


def _limit_graph_size(nodes: list[str]) -> None:
    """Refuse, before parsing, a graph whose backward pass would pass ``MAX_EXACT_STEPS`` steps.

    Each name on the right of ``=`` is an input of that node, so about one
    chain-rule step; parsing and evaluating cost about as much per node.
    """
    steps = sum(len(_NAME.findall(node.partition("=")[2])) for node in nodes)
    if steps > MAX_EXACT_STEPS:
        raise LimitError(
            f"graph.nodes: {len(nodes):,} nodes with about {steps:,} inputs in all; the exact backward pass "
            f"is limited to {MAX_EXACT_STEPS:,} chain-rule steps: use fewer nodes"
        )


@dataclass
class TrainConfig:
    """The checked ``[train]`` table (defaults: learning_rate 0.5 and 1000 steps of sgd)."""

    learning_rate: float = 0.5
    steps: int = 1000
    optimizer: str = "sgd"


@dataclass
class NetworkSpec:
    """A checked ``[network]`` spec.

    Attributes:
        network: the :class:`Network` (architecture, parameters, data).
        train: the ``[train]`` table (defaults where it is missing).
        seed, init: how missing parameters were drawn.
    """

    network: Network
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int | None = 0
    init: str = "uniform"

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the network (layers, parameter count, data, loss) and the training settings."""
        return display.show(self, "markdown")

    def problem(self, *, sample: int | None = None, exact: bool = False) -> NetworkProblem:
        """The problem to narrate: sample ``sample``'s own loss, or the batch loss (``None``).

        Args:
            sample: a sample index (checked against the data), or None for the batch.
            exact: read the network's numbers as exact decimals.

        Raises:
            PointError: ``sample`` is not a sample of the data, or the samples are coupled (batchnorm).
        """
        self.network.exact = self.network.exact or exact
        if sample is not None:
            self.network.require_own_sample(self.network.sample_index(sample))
        return NetworkProblem(self.network, sample)


def _name(table: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SpecError(f"{where}.{key}: expected a name (a string), got {value!r}")
    return value


def _finite_numbers(value: Any, key: str) -> Any:
    """Refuse anything but (nested lists of) finite numbers, naming the entry."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _finite_numbers(item, f"{key}[{i}]")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{key}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{key}: {value} is not a finite number")
    return value


def network_spec(data: Mapping[str, Any]) -> NetworkSpec:
    """Check a ``[network]`` spec (its tables as read from TOML/JSON) and build it.

    Raises:
        SpecError: an unknown key, a wrong type or shape, a non-finite number or
            an unknown name, naming the key (``params.W2: expected shape (2, 2), got (2, 3)``).
    """
    known_keys(data, TOP_LEVEL_KEYS - {"graph"}, "")
    table = known_keys(data["network"], NETWORK_KEYS, "network")
    if "layers" not in table:
        raise SpecError("network.layers: missing; give the widths, e.g. layers = [2, 3, 1]")
    activation = table.get("activation", "sigmoid")
    if not isinstance(activation, str) and not (
        isinstance(activation, list) and all(isinstance(a, str) for a in activation)
    ):
        raise SpecError(f"network.activation: expected a name or a list of names, got {activation!r}")
    slope = _finite_numbers(table.get("slope", 0.01), "network.slope")
    if isinstance(slope, list):
        raise SpecError("network.slope: expected a number")
    mlp = _architecture(table, activation, slope)
    shapes = mlp.param_shapes()
    ptable = known_keys(data.get("params", {}), set(shapes) | PARAMS_KEYS, "params")
    seed = ptable.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"params.seed: expected a whole number >= 0, got {seed!r}")
    init = _name(ptable, "init", "params", "uniform")
    params = {k: _finite_numbers(v, f"params.{k}") for k, v in ptable.items() if k in shapes}
    if "data" not in data:
        raise SpecError("a [network] spec needs a [data] table with x and y (one row per sample)")
    dtable = known_keys(data["data"], DATA_KEYS, "data")
    for key in ("x", "y"):
        if key not in dtable:
            raise SpecError(f"data.{key}: missing; give one row per sample, e.g. {key} = [[0.05, 0.10]]")
        rows = _finite_numbers(dtable[key], f"data.{key}")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise SpecError(f"data.{key}: expected a list of rows, one per sample, e.g. {key} = [[0.05, 0.10]]")
    network = Network(mlp, params, dtable["x"], dtable["y"], seed=seed, init=init)
    return NetworkSpec(network, _train(data.get("train", {})), seed, init)


def _architecture(table: Mapping[str, Any], activation: Any, slope: Any) -> MLP | Sequential:
    """Widths (``layers = [2, 3, 1]``, an MLP) or a layer list (``inputs = 2``, ``layers = [{linear = 3}, ...]``)."""
    layers = table["layers"]
    widths = isinstance(layers, list) and (bool(layers) or "inputs" not in table) and all(
        isinstance(w, int) and not isinstance(w, bool) for w in layers
    )
    head = (
        _name(table, "loss", "network", "half_squared_error"),
        _name(table, "reduction", "network", "mean"),
        _name(table, "bias", "network", "neuron"),
        slope,
    )
    decay = _finite_numbers(table.get("weight_decay", 0.0), "network.weight_decay")
    if widths and "inputs" in table:
        raise SpecError("network.inputs: goes with a layer list; with widths, the first width is the input's")
    if widths:
        mlp = MLP(layers, activation, *head)
        if not decay:
            return mlp
        return Sequential(mlp.layers[0], mlp.layer_list(), *head, weight_decay=decay)
    if "activation" in table:
        raise SpecError("network.activation: a layer list names its activations as layers, e.g. \"tanh\"")
    if "inputs" not in table:
        raise SpecError("network.inputs: missing; a layer list needs the input width, e.g. inputs = 2")
    return Sequential(table["inputs"], layers, *head, weight_decay=decay)


def _train(table: Any) -> TrainConfig:
    table = known_keys(table, TRAIN_KEYS, "train")
    config = TrainConfig()
    if "learning_rate" in table:
        rate = _finite_numbers(table["learning_rate"], "train.learning_rate")
        if isinstance(rate, list) or rate <= 0:
            raise SpecError(f"train.learning_rate: expected a number > 0, got {rate!r}")
        config.learning_rate = float(rate)
    if "steps" in table:
        steps = table["steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise SpecError(f"train.steps: expected a whole number >= 0, got {steps!r}")
        config.steps = steps
    config.optimizer = _name(table, "optimizer", "train", "sgd")
    if config.optimizer not in OPTIMIZERS:  # the optimizers' own table
        raise SpecError(f"train.optimizer: unknown optimizer {config.optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}"
                        f"{did_you_mean(config.optimizer, OPTIMIZERS)}")
    return config
