"""Arguments shared by the commands: a formula (``EXPR``) or ``--spec FILE``, and the point."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backprop import BackwardPass, backward
from ..errors import PointError, SympropError
from ..graph import Graph
from ..expr import parse_formula

__all__ = ["add_source_arguments", "load_problem", "parse_at", "parse_names", "Problem", "write_output"]


@dataclass
class Problem:
    """A formula graph and the point to evaluate it at."""

    graph: Graph
    at: dict[str, Any]
    exact: bool = False

    def backward(self) -> BackwardPass:
        return backward(self.graph, self.at, exact=self.exact)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``EXPR``, ``--spec``, ``--at``, ``--wrt``, ``--exact``."""
    parser.add_argument(
        "expr",
        nargs="?",
        metavar="EXPR",
        help="a formula such as '(w*x + b - y)**2/2' (traced into one node per operation), "
        "or named nodes 'c = w*x; a = c + b; J = a**2' (the last is the output)",
    )
    parser.add_argument("--spec", metavar="FILE", help="a TOML or JSON spec file with [graph] or [network]")
    parser.add_argument(
        "--at",
        metavar="K=V,...",
        help="the point: a value for every leaf, e.g. w=-2,x=2,b=8,y=1 (integers and fractions "
        "like 1/2 are exact; decimals are floats unless --exact)",
    )
    parser.add_argument("--wrt", metavar="A,B", help="the parameters to differentiate for (default: every leaf)")
    parser.add_argument("--exact", action="store_true", help="read decimals such as 0.05 as exact fractions (1/20)")


def parse_names(text: str | None, option: str) -> list[str] | None:
    """``"w,b"`` -> ``["w", "b"]``; ``None`` stays ``None``."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise SympropError(f"{option}: empty name in {text!r}")
    return names


def parse_at(text: str | None) -> dict[str, str]:
    """``"w=-2,x=2"`` -> ``{"w": "-2", "x": "2"}`` (numbers are checked by the graph)."""
    values: dict[str, str] = {}
    if not text:
        return values
    for part in text.split(","):
        if "=" not in part:
            raise PointError(f"--at: expected name=value, got {part.strip()!r}")
        name, value = (s.strip() for s in part.split("=", 1))
        if not name:
            raise PointError(f"--at: missing name in {part.strip()!r}")
        if name in values:
            raise PointError(f"--at: {name!r} is given twice")
        values[name] = value
    return values


def load_problem(args: argparse.Namespace) -> Any:
    """The graph (or network) and point named by ``EXPR``/``--spec`` and ``--at``/``--wrt``."""
    wrt = parse_names(args.wrt, "--wrt")
    at = parse_at(args.at)
    if args.spec and args.expr:
        raise SympropError("give either EXPR or --spec, not both")
    if args.spec:
        from ..spec import GraphSpec, load_spec

        spec = load_spec(args.spec)
        if isinstance(spec, GraphSpec):
            graph = spec.graph if wrt is None else Graph(spec.graph.nodes, wrt)
            point = dict(spec.at)
            for name, value in at.items():  # --at overrides the file
                point[name] = value
            return Problem(graph, point, spec.exact or args.exact)
        return spec.problem(args)
    if not args.expr:
        raise SympropError("give a formula (EXPR) or --spec FILE")
    return Problem(formula_graph(args.expr, wrt, exact=args.exact), at, args.exact)


def formula_graph(text: str, params: list[str] | None, *, exact: bool = False) -> Graph:
    """Named nodes (``"c = w*x; J = c**2"``) or one formula traced into nodes."""
    if "=" in text:
        return Graph.from_formulas(text, params, exact=exact)
    return Graph.trace(parse_formula(text, exact=exact), params=params)


def write_output(text: str, output: str | None) -> None:
    """Write to ``--output FILE`` or to stdout."""
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise SympropError(f"cannot write {output!r}: {error.strerror}") from None
    else:
        sys.stdout.write(text)
