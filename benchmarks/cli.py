"""How long ``symprop grad`` and ``symprop check`` take on networks of growing size, as ratios to start-up.

Every figure is the wall time of a fresh process (``python -m symprop ...``), and
its ratio to the start-up of ``symprop grad "x**2" --at x=1`` measured in the same
run, so a busy or slow machine scales both alike. Each is the best of a few runs,
each run right after a start-up run that the figure is divided by (a shared
machine's load drifts over a run of the script).
The sizes and the targets:

* iris-size: [4, 8, 8, 3] tanh, tanh, softmax + cross-entropy, 30 samples:
  ``grad --spec`` within 1.5x start-up;
* [16, 32, 32, 10], the same activations, 64 samples: ``grad`` and ``check``
  within 3x;
* MNIST-size: [784, 100, 10] sigmoid, softmax, 64 samples (79,510 parameter
  scalars): ``check`` within 15x and under 1 GB of memory (the peak resident
  set of the process). ``check`` takes a seeded random 100 entries of each
  parameter tensor there (it says so); ``--entries all`` would take all 79,510.

Peers that are installed (JAX, PyTorch, micrograd) do the same work in a fresh
process of their own, shown in the same ratio to symprop's start-up: the
gradients of the same network at the same point; for ``check``, the gradients
against central differences of their own loss on the same number of entries of
each tensor, as CS231n's sparse gradient check does. A peer that is not
installed, or cannot express the network (micrograd's scalars have no exp or
log, so no softmax or cross-entropy), is skipped with a note.

    python benchmarks/cli.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The peers, by the module whose presence says they are installed.
PEERS = {"JAX": "jax", "PyTorch": "torch", "micrograd": "micrograd"}


@dataclass(frozen=True)
class Case:
    name: str
    layers: list[int]
    activations: list[str]
    samples: int


IRIS = Case("iris-size [4, 8, 8, 3] x 30", [4, 8, 8, 3], ["tanh", "tanh", "softmax"], 30)
MID = Case("[16, 32, 32, 10] x 64", [16, 32, 32, 10], ["tanh", "tanh", "softmax"], 64)
MNIST = Case("MNIST-size [784, 100, 10] x 64", [784, 100, 10], ["sigmoid", "softmax"], 64)

#: (case, command, target ratio to start-up, memory bound in MB or None)
FIGURES = [
    (IRIS, "grad", 1.5, None),
    (MID, "grad", 3.0, None),
    (MID, "check", 3.0, None),
    (MNIST, "check", 15.0, 1024),
]


def write_spec(case: Case, folder: Path) -> Path:
    """The case as a spec: seeded made-up data in [0, 1), one-hot classes, xavier initialisation."""
    rng = np.random.default_rng(len(case.layers) * 1000 + case.samples)
    x = rng.uniform(0, 1, (case.samples, case.layers[0])).round(3)
    y = np.eye(case.layers[-1])[rng.integers(0, case.layers[-1], case.samples)]
    path = folder / f"{'-'.join(map(str, case.layers))}.json"
    path.write_text(json.dumps({
        "network": {"layers": case.layers, "activation": case.activations, "loss": "cross_entropy"},
        "params": {"seed": 0, "init": "xavier"},
        "data": {"x": x.tolist(), "y": y.tolist()},
    }))
    return path


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one fresh process; it must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(argv)}\n{error}")
    return seconds, usage.ru_maxrss / 1024


def best(argv: list[str], repeat: int) -> tuple[float, float]:
    runs = [timed(argv) for _ in range(repeat)]
    return min(s for s, _ in runs), max(mb for _, mb in runs)


def paired(argv: list[str], startup_argv: list[str], repeat: int) -> tuple[float, float, float]:
    """(best seconds, peak MB, best start-up seconds) of ``argv``'s runs, each right after a start-up run:
    a shared machine's load drifts, and the ratio should compare runs made under the same load."""
    starts, runs = [], []
    for _ in range(repeat):
        starts.append(timed(startup_argv)[0])
        runs.append(timed(argv))
    return min(s for s, _ in runs), max(mb for _, mb in runs), min(starts)


def symprop_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "symprop", *args]


def installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def peer_argv(peer: str, spec: Path, command: str) -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("peers.py")), peer, str(spec), command]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of the iris-size figure alone (to see that it runs)")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    figures = FIGURES[:1] if args.quick else FIGURES
    peers = {label: installed(module) for label, module in PEERS.items()}
    with tempfile.TemporaryDirectory() as folder:
        specs = {f[0].name: write_spec(f[0], Path(folder)) for f in figures}
        startup_argv = symprop_argv("grad", "x**2", "--at", "x=1")
        startup = best(startup_argv, 1 if args.quick else 5)[0]
        print(f"python {sys.version.split()[0]}, numpy {np.__version__}; best of {repeat}; "
              f"ratios to the start-up of symprop grad \"x**2\" --at x=1: {startup:.2f} s "
              "(each figure's to the best of the start-ups run just before its own runs)")
        header = f"{'figure':<40} {'symprop':>15}  {'target':>8}  {'met':>3}"
        for label in PEERS:
            header += f"  {label:>14}"
        print(header)
        results = []
        for case, command, target, memory in figures:
            spec = specs[case.name]
            seconds, mb, near = paired(symprop_argv(command, "--spec", str(spec)), startup_argv, repeat)
            ratio = seconds / near
            met = ratio <= target and (memory is None or mb <= memory)
            line = f"{case.name + ' ' + command:<40} {seconds:6.2f} s {ratio:5.2f}x  {'<=' + format(target, 'g') + 'x':>8}  "
            line += f"{'yes' if met else 'NO':>3}"
            for label in PEERS:
                if not peers[label]:
                    line += f"  {'not installed':>14}"
                    continue
                if label == "micrograd":  # its Value has +, *, ** and relu: no softmax, no log
                    line += f"  {'(no exp, log)':>14}"
                    continue
                peer_seconds, _ = best(peer_argv(label, spec, command), repeat)
                line += f"  {peer_seconds:6.2f} s {peer_seconds / near:4.1f}x"
            if memory is not None:
                line += f"   (peak memory {mb:,.0f} MB, bound {memory:,} MB)"
            print(line, flush=True)
            results.append(met)
        print(f"{sum(results)} of {len(results)} targets met")
        if not all(peers.values()):
            missing = ", ".join(label for label, ok in peers.items() if not ok)
            print(f"(not installed, so not timed: {missing}; they are not dependencies of symprop)")


if __name__ == "__main__":
    main()
