"""``symprop train``: train a network spec with its compiled exact gradients."""

from __future__ import annotations

import argparse
import importlib.util
import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpecError, SympropError
from ..optim import OPTIMIZERS
from . import streams
from .common import add_output_arguments, output_format, positive_number, whole_number, write_output

if TYPE_CHECKING:
    from ..train import TrainingDiverged

def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a network with its compiled exact gradients",
        description="Derive the network's gradients, compile them to numpy, and train: "
        "the [train] table of the spec gives the defaults.",
    )
    parser.add_argument("--spec", metavar="FILE", required=True, help="a TOML or JSON spec file with [network]")
    parser.add_argument("--steps", type=whole_number, help="how many steps (default: train.steps, else 1000)")
    parser.add_argument("--lr", type=positive_number, help="the learning rate (default: train.learning_rate, else 0.5)")
    parser.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        help="default: train.optimizer, else sgd (momentum beta 0.9; rmsprop rho 0.9; adam 0.9/0.999; eps 1e-8)",
    )
    parser.add_argument("--json", action="store_true",
                        help='JSON: {"steps", "loss_history", "final_loss", "params", "accuracy"}; --output FILE.json too')
    parser.add_argument("--plot", metavar="FILE.png", help="save the loss curve (needs matplotlib: symprop[plot])")
    parser.add_argument("--plot-scale", choices=["log", "linear"], default="log",
                        help="the loss axis of --plot (default log)")
    parser.add_argument("--show-code", action="store_true",
                        help="print the compiled numpy code (and, for a tiny net trained 300 steps or more, the "
                             "straight-line float code the run trains on) and exit")
    add_output_arguments(parser, digits_option=False)
    return parser


def run(args: argparse.Namespace) -> int:
    from .. import compile as compile_network
    from ..spec import GraphSpec, load_spec
    from ..train import TrainingDiverged, validate_steps, train

    if args.show_code:
        output_format(args.output, {".py": "python", ".txt": "text"}, plain="text", command="train --show-code")
    elif output_format(args.output, {".txt": "text", ".json": "json"}, plain="text", command="train",
                       hint="the loss curve is --plot FILE") == "json":
        args.json = True
    spec = load_spec(args.spec)
    if isinstance(spec, GraphSpec):
        raise SpecError("train needs a [network] spec; a [graph] has nothing to train")
    network, config = spec.network, spec.train
    compiled = compile_network(network.mlp)
    steps = config.steps if args.steps is None else args.steps
    validate_steps(steps, "train.steps" if args.steps is None else "--steps")
    if args.show_code:
        write_output(_code(compiled, network, steps), args.output)
        return 0
    if args.plot:
        _plot_format(args.plot)  # an unknown picture format is refused before the training
    for path in (args.output, args.plot):  # before the training, not after it
        if path:
            streams.writable_target(path)
    lr = config.learning_rate if args.lr is None else args.lr
    optimizer = args.optimizer or config.optimizer
    show_progress = not args.json and args.output is None and streams.progress_wanted() and steps > 0
    try:
        if show_progress:
            result = _train_with_progress(train, compiled, network, steps, lr, optimizer, spec.seed)
        else:
            result = train(compiled, network.params, network.x, network.y, steps=steps, lr=lr, optimizer=optimizer,
                           seed=spec.seed)
    except TrainingDiverged as diverged:
        # Show what was kept (the last parameters with a finite loss), then fail with the one-line error.
        if diverged.result.params:
            _report(args, network, diverged.result, optimizer, lr, diverged)
        raise
    _report(args, network, result, optimizer, lr, None)
    return 0


def _code(compiled, network, steps: int) -> str:
    """The compiled array code, and the straight-line float code too when this run would train on it."""
    from ..train import scalar_code_for

    scalar = scalar_code_for(compiled, network.samples, steps)
    if scalar is None:
        return compiled.source
    note = (f"# This run ({steps:,} steps on {network.samples} samples) trains on the straight-line float code\n"
            "# below (symprop.scalar_code): the same derived formulas, one line per value, sample by\n"
            "# sample. The array code above gives the same values, to rounding, and the forward pass\n"
            "# and the accuracy after training.\n")
    return f"{compiled.source}\n\n{note}\n{scalar.source}"


def _report(args, network, result, optimizer: str, lr: float, diverged: TrainingDiverged | None) -> None:
    """The summary (or ``--json``) of a run, and the loss plot when asked."""
    result.optimizer, result.lr = result.optimizer or optimizer, lr if result.lr is None else result.lr
    if args.plot:
        _plot(network, result, args)
    if args.json:
        data = result.to_dict()
        if diverged is not None:
            data["diverged"] = {"step": diverged.step, "message": str(diverged)}
        write_output(json.dumps(data) + "\n", args.output)
        return
    summary = _summary(network, result, args.plot)
    if diverged is not None:
        summary = f"diverged at step {diverged.step}; the last parameters with a finite loss:\n" + summary
    write_output(summary, args.output)


def _train_with_progress(train, compiled, network, steps, lr, optimizer, seed):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    every = max(1, steps // 200)
    columns = [TextColumn("training"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn()]
    console = Console(highlight=False, no_color=not streams.color_wanted(), width=streams.terminal_width(minimum=40, note=False))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("train", total=steps, loss="…")

        def callback(step: int, loss: float) -> None:
            if step % every == 0 or step == steps - 1:
                progress.update(task, completed=step + 1, loss=f"{loss:.6g}")

        return train(compiled, network.params, network.x, network.y, steps=steps, lr=lr,
                     optimizer=optimizer, callback=callback, seed=seed)


def _summary(network, result, plot: str | None) -> str:
    import numpy as np

    from ..render.training import plural, summary_lines

    lines = [
        f"trained {network.mlp.summary} on {plural(network.samples, 'sample')}: "
        f"{plural(result.steps, 'step')} of {result.optimizer}, learning rate {result.lr:g}",
        *summary_lines(result),
        "parameters:",
    ]
    width = streams.terminal_width(note=False)
    lines = [wrapped for line in lines for wrapped in _fit(line, width)]
    for name, value in result.params.items():
        text = np.array2string(np.asarray(value), precision=6, separator=", ", max_line_width=width - len(name) - 5)
        lines.append(f"  {name} = " + text.replace("\n", "\n" + " " * (len(name) + 5)))
    if plot:
        lines.append(f"loss curve saved to {plot}")
    return "\n".join(lines) + "\n"


def _fit(line: str, width: int) -> list[str]:
    """One summary line as lines within ``width``: continued two spaces further in."""
    if len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    for mark in (": ", "; "):  # between the clauses: "... on 4 samples:" / "2,500 steps of sgd, ..."
        cut = line.rfind(mark)
        if 0 < cut and cut + 1 <= width and len(indent) + len(line) - cut - 2 <= width:
            return [line[:cut + 1], indent + line[cut + 2:]]
    return textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)


def _plot_format(path: str) -> str:
    """The image format of ``--plot FILE`` from its suffix (PNG without one), or a one-line error."""
    if importlib.util.find_spec("matplotlib") is None:
        raise SympropError("--plot needs matplotlib: pip install 'symprop[plot]' (or pip install matplotlib)")
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    known = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in known:
        raise SympropError(
            f"--plot: matplotlib cannot write '.{suffix}' files; give one of "
            + ", ".join(f".{k}" for k in sorted(known))
        )
    return suffix or "png"


def _plot(network, result, args) -> None:
    """Save the loss curve to ``--plot FILE``, its axes labelled, the loss on a log axis unless --plot-scale linear."""
    from ..render.training import plot_bytes, plural

    title = (f"{network.mlp.summary} on {plural(network.samples, 'sample')}\n"
             f"{plural(result.steps, 'step')} of {result.optimizer}, learning rate {result.lr:g}")
    accuracy = f"accuracy {result.accuracy.percent}" if result.accuracy is not None else None
    image = plot_bytes([*result.loss_history, result.final_loss], _plot_format(args.plot), title=title,
                       scale=args.plot_scale, accuracy=accuracy)
    streams.write_file(args.plot, image)
