"""Data flows one way: text -> graph -> backward pass -> narrate / check / compile -> train.

The layers below are the package's shape. A module may import from its own
layer or any layer below it, never above; the import graph has no cycles; and
no module grows past about 600 lines. Imports inside functions count too:
they are real dependencies, only loaded later.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symprop"

#: Lowest first. A module's layer is the first prefix that matches its dotted name.
LAYERS = [
    ("errors", "limits", "registry", "display", "functions", "bounds", "notation"),  # exceptions, size bounds, tables, display hooks, SymPy functions, work bounds, parentheses in text
    ("expr", "rules"),  # safe parsing: text to SymPy (and to operations as written); the rules of differentiation
    ("node",),  # one named node, its formula as typed
    ("trace",),  # a formula as one node per operation, as written
    ("graph",),  # ordered nodes, evaluation at a point
    ("backprop",),  # the exact backward pass
    ("nn", "optim", "compiler", "numpy_code", "blas", "scalar_code"),  # the tables, the MLP, its numpy reference and scalar graph; optimizers; codegen (arrays, printed by numpy_code, BLAS threads by blas; floats for tiny nets)
    ("spec", "matrix", "derive"),  # spec files; the matrix view; matrix calculus
    ("check", "train"),  # the checker; the training loop
    ("render",),  # renderers read finished data
    ("commands", "cli", "__main__", "__init__"),  # the command line and the package facade
]
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)
        found[name] = path
    return found


def _layer(module: str) -> int:
    for k, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return k
    raise AssertionError(f"symprop.{module} is in no layer: add it to LAYERS")


def _imports(module: str, path: Path) -> set[str]:
    """The symprop modules ``module`` imports (relative imports resolved), anywhere in the file."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "__init__":
        package = []
    names = set(_modules())
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {  # ``if TYPE_CHECKING:`` imports are for annotations: no dependency when the code runs
        id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for statement in block.body for node in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                found.add(full if full in names else target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            text = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names if isinstance(node, ast.Import) else [None]:
                dotted = alias.name if alias else text
                if dotted and dotted.startswith("symprop."):
                    found.add(dotted.removeprefix("symprop."))
    return {m for m in found if m in names and m != module}


GRAPH = {module: _imports(module, path) for module, path in _modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_the_layers(module):
    upward = sorted(m for m in GRAPH[module] if _layer(m) > _layer(module))
    assert not upward, f"symprop.{module} (layer {_layer(module)}) imports from a layer above: {upward}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_modules_stay_small(module):
    lines = len(_modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"symprop.{module} has {lines} lines; split it by concept"


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_backward_pass_loads_neither_rich_nor_numpy():
    loaded = _loaded_after("import symprop.backprop, symprop.graph, symprop.expr")
    assert not {m for m in loaded if m in ("rich", "numpy") or m.startswith(("rich.", "numpy."))}
