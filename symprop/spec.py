"""Spec files: a formula graph (``[graph]``) or a network (``[network]``), in TOML or JSON.

Reading a spec is strict: an unknown key, a wrong type or a non-finite number
is a :class:`~symprop.errors.SpecError` that names the key, so a typo is never
silently ignored. See DESIGN.md for the format.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .errors import SpecError, SympropError
from .graph import Graph

__all__ = ["read_spec", "load_spec", "GraphSpec", "check_keys"]

TOP_LEVEL_KEYS = {"graph", "network", "params", "data", "train"}
GRAPH_KEYS = {"nodes", "params", "at", "exact"}


@dataclass
class GraphSpec:
    """A ``[graph]`` spec: the graph and the point it is evaluated at."""

    graph: Graph
    at: dict[str, Any] = field(default_factory=dict)
    exact: bool = False


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
        if path.suffix.lower() == ".json":  # NaN/Infinity load as floats; the checks name their key
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        else:
            data = tomllib.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"{path.name}: invalid JSON at line {error.lineno}: {error.msg}") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path.name}: invalid TOML: {error}") from None
    except SpecError as error:  # a duplicate key
        raise SpecError(f"{path.name}: {error}") from None
    except ValueError:  # int('9' * 5000): Python reads no integer past 4,300 digits
        raise SpecError(f"{path.name}: a number has more than 4,300 digits (Python's limit for reading one)") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the top level must be a table/object")
    return data


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


def check_keys(table: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    """Refuse a table that is not a table, or that has a key not in ``allowed``."""
    if not isinstance(table, Mapping):
        raise SpecError(f"[{where}] must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(
            f"unknown key {where + '.' if where else ''}{unknown[0]!r}; expected one of: {', '.join(sorted(allowed))}"
        )
    return table


def check_finite(value: Any, key: str) -> Any:
    """Refuse NaN/infinity (TOML has ``nan`` and ``inf``) and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{key}: expected a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{key}: {value} is not a finite number")
    return value


def load_spec(path: str | Path) -> Any:
    """Read and check a spec file; returns a :class:`GraphSpec` or a network problem.

    Raises:
        SpecError: anything wrong with the file, naming the key.
    """
    data = read_spec(path)
    check_keys(data, TOP_LEVEL_KEYS, "")
    if "graph" in data and "network" in data:
        raise SpecError("a spec has either [graph] or [network], not both")
    if "graph" in data:
        extra = sorted(set(data) - {"graph"})
        if extra:
            raise SpecError(f"[{extra[0]}] does not go with [graph] (it belongs to a [network] spec)")
        return graph_spec(data["graph"])
    if "network" in data:
        from .nn import network_spec  # networks are built in nn.py

        return network_spec(data)
    raise SpecError("a spec needs a [graph] or a [network] table")


def graph_spec(table: Any) -> GraphSpec:
    """Check a ``[graph]`` table and build its graph."""
    check_keys(table, GRAPH_KEYS, "graph")
    nodes = table.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise SpecError("graph.nodes: expected a non-empty list of 'name = formula' strings")
    params = table.get("params")
    if params is not None and (not isinstance(params, list) or not all(isinstance(p, str) for p in params)):
        raise SpecError("graph.params: expected a list of names")
    exact = table.get("exact", False)
    if not isinstance(exact, bool):
        raise SpecError("graph.exact: expected true or false")
    at = table.get("at", {})
    if not isinstance(at, Mapping):
        raise SpecError("graph.at: expected a table of leaf = number")
    for key, value in at.items():
        check_finite(value, f"graph.at.{key}")
    try:
        graph = Graph.from_formulas(nodes, params, exact=exact)
    except SympropError as error:
        raise SpecError(f"graph.nodes: {error}") from None
    return GraphSpec(graph, dict(at), exact)
