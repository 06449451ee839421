"""symprop: backpropagation with exact symbolic derivatives.

Build a computation graph of named SymPy nodes, run its exact backward pass,
and read every local derivative and chain-rule product:

>>> import symprop
>>> g = symprop.Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
>>> bp = symprop.backward(g, {"w": -2, "x": 2, "b": 8, "y": 1})
>>> bp.gradients["w"].value, bp.gradients["b"].value
(6, 3)
"""

__version__ = "0.1.0"


def _is_the_command() -> bool:
    """True when this process is the ``symprop`` command (``symprop ...`` or ``python -m symprop ...``)."""
    import os
    import sys

    script = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
    argv = list(getattr(sys, "orig_argv", sys.argv))
    as_module = any(a == "-m" and b == "symprop" for a, b in zip(argv, argv[1:])) or "-msymprop" in argv
    return script in ("symprop", "symprop-script") or as_module


try:  # SymPy takes about half a second to load
    from .backprop import Adjoint, BackwardPass, FanIn, Step, Term, backward
    from .errors import (
        CheckError,
        EvaluationError,
        FormulaError,
        GraphError,
        LimitError,
        PointError,
        ShapeError,
        SpecError,
        SympropError,
    )
    from .expr import parse_formula
    from .functions import leaky_relu, relu, sigmoid, softplus
    from .graph import Graph, Node
    from .render import displays as _displays  # noqa: F401 - how objects print and show in Jupyter
except KeyboardInterrupt:  # Ctrl-C meanwhile: the command says one line and exits 130, as at any other moment
    if not _is_the_command():
        raise
    import os
    import sys

    try:
        sys.stderr.write("symprop: interrupted\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no stderr, or a closed one
        pass
    # Not SystemExit: when the interrupt came through code run by exec() (mpmath builds functions so),
    # CPython 3.11 remembers it as unhandled and ends the process by SIGINT instead of exit code 130.
    os._exit(130)

#: Names whose modules import numpy: loaded on first use, so that a formula's
#: walkthrough never loads numpy.
_LAZY = {
    "gradcheck": "check",
    "GradcheckReport": "check",
    "MLP": "nn",
    "Sequential": "nn",
    "Network": "nn",
    "matrix_view": "matrix",
    "load_spec": "spec",
    "draw": "render.dot",
}


def compile(network):  # noqa: A001 - symprop.compile(network), as the README writes it
    """Derive a network's gradients and compile them into numpy code: see :func:`symprop.compiler.compile`."""
    from .compiler import compile as compile_network

    return compile_network(network)


def __getattr__(name: str):
    """Lazy attributes: ``symprop.gradcheck``, ``symprop.Network``, ... import numpy only when used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'symprop' has no attribute {name!r}")


__all__ = [
    # graph and backward pass
    "Graph",
    "Node",
    "backward",
    "BackwardPass",
    "Step",
    "Term",
    "Adjoint",
    "FanIn",
    "parse_formula",
    # symprop.compile(network) is left out of __all__, so that "from symprop import *"
    # does not shadow the builtin compile
    # the checker (symprop.check; loaded on first use)
    "gradcheck",
    "GradcheckReport",
    # networks (symprop.nn, symprop.matrix, symprop.spec; loaded on first use)
    "MLP",
    "Sequential",
    "Network",
    "matrix_view",
    "load_spec",
    # pictures (symprop.render.dot): the graph of a backward pass, in a notebook or a file
    "draw",
    # functions
    "sigmoid",
    "relu",
    "leaky_relu",
    "softplus",
    # errors
    "SympropError",
    "FormulaError",
    "GraphError",
    "PointError",
    "EvaluationError",
    "SpecError",
    "LimitError",
    "CheckError",
    "ShapeError",
]
