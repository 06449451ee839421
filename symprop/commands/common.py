"""Arguments shared by the commands: a formula (``EXPR``) or ``--spec FILE``, and the point."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..backprop import BackwardPass, backward, count_steps
from ..errors import LimitError, PointError, SpecError, SympropError
from ..graph import Graph
from ..render.formats import RenderOptions, formats_for, renderer
from ..render.json import dumps
from ..render.numbers import DEFAULT_DIGITS
from . import streams
from .streams import write_output  # noqa: F401 - the commands' one way to write (stdout or --output)

# Networks, spec files and the matrix view need numpy, which a formula never
# does: their modules are imported where they are first needed, so that
# 'symprop grad "x**2"' starts without loading numpy.

__all__ = [
    "add_source_arguments",
    "add_output_arguments",
    "add_view_argument",
    "load_problem",
    "matrix_walkthrough",
    "network_walkthrough",
    "output_format",
    "suffixes_of",
    "parse_at",
    "parse_names",
    "Problem",
    "text_width",
    "write_output",
]


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
        help="a formula such as '(w*x + b - y)**2/2' or 'J = (w*x + b - y)**2/2' (traced into one node "
        "per operation, as written), or named nodes 'c = w*x; a = c + b; J = a**2' (each stays one node; "
        "the last is the output)",
    )
    parser.add_argument("--spec", metavar="FILE", help="a TOML or JSON spec file with [graph] or [network]")
    parser.add_argument(
        "--at",
        metavar="K=V,...",
        help="the point: a value for every leaf, e.g. w=-2,x=2,b=8,y=1 (integers and fractions "
        "like 1/2 are exact; decimals are floats unless --exact)",
    )
    parser.add_argument(
        "--wrt",
        metavar="A,B",
        help="the parameters to differentiate for (default: every leaf); a network's, such as W2,b2 or gamma1, in 'check'",
    )
    parser.add_argument("--exact", action="store_true", help="read decimals such as 0.05 as exact fractions (1/20)")
    parser.add_argument("--split", action="store_true",
                        help="split each named node into one node per operation (a formula is always split)")
    parser.add_argument(
        "--sample",
        type=sample_index,
        default=None,
        metavar="K",
        help="a [network] spec: narrate sample K (0-based) with its own loss; the batch gradient "
        "is the mean (or sum) of the per-sample ones",
    )


def positive_number(text: str) -> float:
    """An option's finite number > 0 (``--lr``, ``--eps``, ``--rtol``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _integer(text: str, low: int, high: int | None, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def whole_number(text: str) -> int:
    """An option's whole number >= 0 (``--steps``)."""
    return _integer(text, 0, None, "a whole number >= 0")


def digits(text: str) -> int:
    """``--digits N``: significant digits, 1 to 30."""
    return _integer(text, 1, 30, "a whole number from 1 to 30")


def sample_index(text: str) -> int:
    """``--sample K``: a whole number >= 0 (the range is checked against the data)."""
    return _integer(text, 0, None, "a sample number (0, 1, ...)")


def add_view_argument(parser: argparse.ArgumentParser) -> None:
    """``--view scalar|matrix`` (the matrix view is for networks)."""
    parser.add_argument(
        "--view",
        choices=["scalar", "matrix"],
        default="scalar",
        help="scalar: one node per neuron (default); matrix: a network's layers as matrices and Jacobians",
    )


def network_walkthrough(problem: Any, fmt: str, text: str, digits: int) -> str:
    """Add the batch (per-sample gradients and their mean/sum) to a network's walkthrough in ``fmt``."""
    if isinstance(problem, Problem):
        return text
    from ..limits import MAX_EXACT_STEPS
    from ..render.network import batch_dict, batch_lines

    network = problem.network
    steps = network.exact_steps(None)
    if problem.sample is not None and steps > MAX_EXACT_STEPS:
        raise LimitError(
            f"--sample {problem.sample} narrates one sample, but the walkthrough ends with the batch's reduction "
            f"over all {network.samples:,} samples: about {steps:,} chain-rule steps (limit {MAX_EXACT_STEPS:,}); "
            f"use fewer samples, or 'symprop grad --sample {problem.sample}' for that sample's gradients"
        )
    batch = problem.batch()
    if batch is None:
        return text
    if fmt == "json":
        return dumps({**json.loads(text), "batch": batch_dict(batch)})
    lines = "\n".join(batch_lines(batch, digits=digits))
    if fmt in ("text", "rich"):
        return text.rstrip("\n") + "\n\n" + lines + "\n"
    if fmt == "markdown":
        return text.rstrip("\n") + "\n\n## The batch\n\n```text\n" + lines + "\n```\n"
    if fmt in ("latex", "html", "svg"):  # a document of its own: the walkthrough only
        return text
    raise SympropError(f"the {fmt} format has no batch section")


def matrix_walkthrough(problem: Any, fmt: str, digits: int) -> str:
    """``--view matrix``: a network's matrix view in ``fmt``."""
    if isinstance(problem, Problem):
        raise SympropError("--view matrix is for a [network] spec (a formula has no layers)")
    from ..matrix import matrix_view

    render = renderer(fmt, "matrix")
    return render(matrix_view(problem.network, problem.sample), RenderOptions(digits=digits))


def add_output_arguments(parser: argparse.ArgumentParser, *, digits_option: bool = True) -> None:
    """``--output FILE`` and, unless ``digits_option`` is false, ``--digits N``."""
    if digits_option:
        parser.add_argument("--digits", type=digits, default=DEFAULT_DIGITS, help="significant digits (default %(default)s)")
    parser.add_argument("--output", metavar="FILE",
                        help="write to FILE instead of stdout (its suffix picks the format; an unknown one is an error)")


def suffixes_of(kind: str, names: Sequence[str] | None = None) -> dict[str, str]:
    """``{suffix: format}`` for the formats that can show ``kind`` (those in ``names``, if given)."""
    return {s: f.name for f in formats_for(kind) if names is None or f.name in names for s in f.suffixes}


def output_format(output: str | None, suffixes: Mapping[str, str], *, plain: str, command: str,
                  hint: str = "") -> str | None:
    """The format an ``--output FILE`` picks by its suffix: ``suffixes[suffix]``, ``plain`` for a name
    without one, None without ``--output``.

    Raises:
        SympropError: a suffix the command does not write (one line listing those it does), so that
            nothing is written into a file its name misdescribes (text into ``walk.png``).
    """
    if not output:
        return None
    streams.writable_target(output)  # a directory, a FIFO, a device: said as such, whatever its name
    suffix = Path(output).suffix.lower()
    if not suffix:
        return plain
    if suffix in suffixes:
        return suffixes[suffix]
    raise SympropError(
        f"--output {output!r}: symprop {command} does not write {suffix!r} files; "
        f"give one of {', '.join(suffixes)} (or a name without a suffix, for {plain}){'; ' + hint if hint else ''}"
    )


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


def load_problem(args: argparse.Namespace, *, network_wrt: bool = False) -> Any:
    """The graph (or network) and point named by ``EXPR``/``--spec`` and ``--at``/``--wrt``.

    For a network ``--wrt`` names parameters (``W2,b2``): refused unless the
    command takes it itself (``network_wrt``, as ``check`` does).
    """
    wrt = parse_names(args.wrt, "--wrt")
    at = parse_at(args.at)
    if args.spec and args.expr:
        raise SympropError("give either EXPR or --spec, not both")
    if not args.spec and not args.expr:
        raise SympropError("give a formula (EXPR) or --spec FILE")
    spec = None
    if args.spec:
        from ..spec import GraphSpec, load_spec

        spec = load_spec(args.spec)
        if not isinstance(spec, GraphSpec):
            if at:
                raise SpecError("--at is for formulas; a network's values come from [params] and [data]")
            if wrt and not network_wrt:
                raise SpecError(
                    "--wrt is for formulas here; a network's walkthrough and gradients cover all its parameters "
                    "('symprop check --wrt W2,b2' checks some of them)"
                )
            if getattr(args, "split", False):
                raise SympropError("--split is for formulas and [graph] specs (a network's nodes are its neurons)")
            return spec.problem(sample=getattr(args, "sample", None), exact=args.exact)
    if getattr(args, "sample", None) is not None:
        raise SympropError("--sample is for a [network] spec (its [data] has samples)")
    if spec is None:
        return Problem(formula_graph(args.expr, wrt, exact=args.exact, split=getattr(args, "split", False)),
                       at, args.exact)
    graph = spec.graph if wrt is None else Graph(spec.graph.nodes, wrt)
    if getattr(args, "split", False):
        graph = graph.split()
    point = {**spec.at, **at}  # --at overrides the file
    return Problem(graph, point, spec.exact or args.exact)


#: A walkthrough longer than this many steps is refused: nobody reads it, and
#: deriving and printing it takes minutes (a 100-50-10 network on 4 samples
#: prints 130,000 lines).
MAX_WALKTHROUGH_STEPS = 10_000


def walkthrough_steps(problem: Any) -> int:
    """How many chain-rule steps the walkthrough of ``problem`` will print."""
    graph = getattr(problem, "graph", None)
    if isinstance(graph, Graph):  # one step per operand (or input) the backward pass walks
        return count_steps(graph)
    network = getattr(problem, "network", None)
    if getattr(network, "mlp", None) is None:
        return 0
    return network.exact_steps(getattr(problem, "sample", None))


def limit_walkthrough_size(problem: Any, limit: int = MAX_WALKTHROUGH_STEPS) -> None:
    """Refuse a scalar walkthrough past ``limit`` steps, saying what to ask for instead."""
    steps = walkthrough_steps(problem)
    if steps > limit:
        if hasattr(problem, "network"):
            instead = "--sample K to narrate one sample, --view matrix for the layers as matrices, or 'symprop grad'"
        else:
            instead = "'symprop grad' for the gradients alone, or --wrt to pick fewer parameters"
        raise LimitError(
            f"the walkthrough would have about {steps:,} steps (limit {limit:,}); use {instead}"
        )


def formula_graph(text: str, params: list[str] | None, *, exact: bool = False, split: bool = False) -> Graph:
    """One formula (``"(a*b + c)*f"`` or ``"L = (a*b + c)*f"``) traced into one node per operation,
    or named nodes (``"c = w*x; J = c**2"``), each one node unless ``split``."""
    if "=" in text:
        return Graph.from_formulas(text, params, exact=exact, split=True if split else None)
    return Graph.trace(text, params=params, exact=exact)


def text_width(output: str | None) -> int:
    """The width text fits: the terminal's when printing to one (at least 80, said on stderr), else 80."""
    if output is None and streams.stdout_is_terminal():
        return streams.terminal_width()
    return 80
