"""Train a network with its compiled exact gradients: the training loop.

The optimizers live in :mod:`symprop.optim`. Each step returns new arrays and
leaves the old ones alone, so when the loss turns NaN or infinite the loop
still holds the last parameters with a finite loss: :func:`train` stops there
and raises :class:`TrainingDiverged`, which names the step and carries that
result.

>>> import numpy as np
>>> from symprop.nn import MLP
>>> mlp = MLP([1, 1], "identity", "half_squared_error")
>>> result = train(mlp, {"W1": [[0.0]], "b1": [0.0]}, [[1.0], [2.0]], [[2.0], [4.0]], steps=500, lr=0.5)
>>> round(float(result.params["W1"][0, 0]), 3), round(result.final_loss, 6)
(2.0, 0.0)
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import display
from .compiler import Compiled
from .compiler import compile as compile_network
from .errors import LimitError, SpecError, SympropError
from .limits import MAX_TRAINING_STEPS
from .nn.metrics import Accuracy, accuracy
from .nn.reference import outputs_in_domain, validate_outputs, validate_targets
from .nn.size import limit_training_size
from .optim import Optimizer, Params, make_optimizer
from .scalar_code import ScalarCode, ScalarStep, scalar_code

__all__ = ["TrainResult", "TrainingDiverged", "Stepper", "scalar_code_for", "train", "validate_steps", "MAX_STEPS"]


@dataclass
class TrainResult:
    """What a training run gives back.

    Attributes:
        params: the parameters after the last step (after a divergence: the
            last ones with a finite loss).
        loss_history: ``loss_history[i]`` is the loss at the parameters step ``i`` starts from.
        final_loss: the loss at ``params``.
        steps: the number of steps taken.
        optimizer, lr: how it trained.
        accuracy, initial_accuracy: a classifier's accuracy on the training data at ``params``
            and at the parameters it started from (None for a regression).
    """

    params: Params
    loss_history: list[float] = field(default_factory=list)
    final_loss: float = math.nan
    steps: int = 0
    optimizer: str = ""
    lr: float | None = None
    accuracy: Accuracy | None = None
    initial_accuracy: Accuracy | None = None

    def to_dict(self) -> dict[str, Any]:
        """``train --json``: ``{"steps", "loss_history", "final_loss", "params"}``, and ``"accuracy"``
        (``{"fraction", "correct", "total", "unit", "rule", "initial"}``) for a classifier."""
        data = {
            "steps": self.steps,
            "loss_history": [float(v) for v in self.loss_history],
            "final_loss": float(self.final_loss),
            "params": {name: np.asarray(p).tolist() for name, p in self.params.items()},
        }
        if self.accuracy is not None:
            initial = self.initial_accuracy.fraction if self.initial_accuracy is not None else None
            data["accuracy"] = {**self.accuracy.to_dict(), "initial": initial}
        return data

    def __repr__(self) -> str:
        start = self.loss_history[0] if self.loss_history else self.final_loss
        shapes = ", ".join(f"{name} {np.shape(p)}" for name, p in self.params.items())
        return f"TrainResult(steps={self.steps}, loss {start:.6g} -> {self.final_loss:.6g}, params: {shapes})"

    def _repr_html_(self) -> str | None:
        """Jupyter: a short summary and the loss curve (not thousands of numbers)."""
        return display.show(self, "html")

    def __str__(self) -> str:
        return display.show(self, "text") or repr(self)


class TrainingDiverged(SympropError):
    """The loss (or a gradient) became NaN or infinite; ``result`` holds the last finite parameters."""

    def __init__(self, message: str, result: TrainResult, step: int = 0):
        super().__init__(message)
        self.result = result
        self.step = step


def _as_batch(values: Any, width: int, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise SpecError(f"data.{what}: a number is too large for float64") from None
    except (TypeError, ValueError):
        raise SpecError(f"data.{what}: expected rows of numbers") from None
    if array.ndim == 1 and width == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != width or array.shape[0] == 0:
        raise SpecError(f"data.{what}: expected shape (samples, {width}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise SpecError(f"data.{what}: contains NaN or infinity")
    return array


#: Steps in one run (see :data:`symprop.limits.MAX_TRAINING_STEPS`).
MAX_STEPS = MAX_TRAINING_STEPS


def validate_steps(steps: Any, key: str = "train.steps") -> None:
    """Refuse a step count that is not a whole number from 0 to :data:`MAX_STEPS`."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise SpecError(f"{key}: expected a whole number >= 0, got {steps!r}")
    if steps > MAX_STEPS:
        raise LimitError(
            f"{key}: {steps:,} steps is past the limit of {MAX_STEPS:,} per run; "
            "to go on, start a new run from the parameters this one prints (put them in [params])"
        )


def train(
    model: Any,
    params: dict[str, Any],
    x: Any,
    y: Any,
    *,
    steps: int,
    lr: float,
    optimizer: str | Optimizer = "sgd",
    callback: Callable[[int, float], None] | None = None,
    seed: int | None = 0,
    **hyper: float,
) -> TrainResult:
    """Run ``steps`` steps of ``optimizer`` on the compiled loss and gradients.

    Args:
        model: a :class:`~symprop.compiler.Compiled`, or an MLP (compiled here).
        params: every parameter (numbers or nested lists, shaped as ``mlp.param_shapes()``).
        x: inputs, one row per sample; y: targets, one row per sample.
        steps: how many steps (0 only evaluates the loss; at most :data:`MAX_STEPS`).
        lr: the learning rate.
        optimizer: a name from :data:`symprop.optim.OPTIMIZERS` or an :class:`~symprop.optim.Optimizer`.
        callback: called as ``callback(step, loss)`` after each step's loss is known.
        seed: with dropout, each step draws a fresh mask from a generator seeded with it
            (the loss of a step, and ``final_loss``, are under that step's mask).
        **hyper: the optimizer's hyper-parameters (``beta``, ``rho``, ``beta1``, ...).

    Raises:
        TrainingDiverged: the loss or a gradient became NaN/inf; the message
            names the step, and ``.result`` keeps the last finite parameters.
        SpecError: bad shapes, names or settings; targets outside the loss's domain.
        EvaluationError: an output leaves the loss's domain (binary cross-entropy
            after an output that is not a probability: outside [0, 1]), naming the step.
        LimitError: more than :data:`MAX_STEPS` steps, or arrays past ``symprop.limits.MAX_TRAINING_BYTES``.
    """
    compiled: Compiled = model if isinstance(model, Compiled) else compile_network(model)
    mlp = compiled.mlp
    validate_steps(steps)
    opt = optimizer if isinstance(optimizer, Optimizer) else make_optimizer(optimizer, lr, **hyper)
    missing = [name for name in mlp.param_shapes() if name not in params]
    if missing:
        raise SpecError(f"params.{missing[0]}: missing (give every parameter, or use mlp.init_params)")
    current = mlp.validate_params(params)
    x = _as_batch(x, mlp.n_inputs, "x")
    y = _as_batch(y, mlp.n_outputs, "y")
    if x.shape[0] != y.shape[0]:
        raise SpecError(f"data: x has {x.shape[0]} rows but y has {y.shape[0]}")
    limit_training_size(mlp, x.shape[0])
    validate_targets(mlp, y)
    # A loss with a domain (binary cross-entropy: outputs in [0, 1]) after an output layer that does not
    # keep to it by construction (as sigmoid does): the outputs are checked at every step, under its mask.
    watch = not outputs_in_domain(mlp)
    stepper = Stepper(compiled, current, x, y, opt, seed=seed, watch=watch, steps=steps)

    history: list[float] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked below, by value
        for step in range(steps):
            loss = stepper.evaluate(step)
            if not math.isfinite(loss):  # a NaN/inf gradient shows up here one step later
                _diverged(step, f"the loss is {loss}", stepper.previous, history)
            history.append(loss)
            if callback is not None:
                callback(step, loss)
            stepper.advance()
        final = stepper.evaluate(steps)
    if not math.isfinite(final):
        _diverged(steps, f"the loss is {final}", stepper.previous, history)
    current = stepper.params
    name = optimizer if isinstance(optimizer, str) else type(optimizer).__name__.lower()
    with np.errstate(all="ignore"):  # a forward pass without dropout, on the training data
        start = accuracy(mlp, compiled.forward(mlp.validate_params(params), x), y)
        end = accuracy(mlp, compiled.forward(current, x), y) if start is not None else None
    return TrainResult(current, history, final, steps, optimizer=name, lr=opt.lr, accuracy=end, initial_accuracy=start)


class Stepper:
    """One training step at a time: the loss and gradients at the parameters, then the optimizer's move.

    This is :func:`train`'s loop body (``benchmarks/train_step.py`` times it). For a
    network of a few dozen parameters and samples it runs the straight-line scalar
    code of :mod:`symprop.scalar_code` on one flat vector of parameters (numpy's
    per-call overhead would cost more than the arithmetic there); otherwise the
    compiled array code, with a fresh dropout mask each step.

    No large array is made a step, once the run is under way: the loop gives each
    step's gradients up to the optimizer (``scratch=True``), and sgd writes the new
    parameters there; a weight of :attr:`SPARE_MIN` entries or more takes the next
    step's gradient in its arrays of two steps before, no longer needed
    (:meth:`Compiled.loss_and_grads_into`). A fresh 627 kB array a step
    ([784, 100, 10]) cost 41 page faults a step in a long run.
    So the arrays of :attr:`params` and :attr:`previous` are written over two steps
    later: copy them to keep them.

    Args:
        compiled: the network's compiled gradients.
        params: validated float64 parameters to start from.
        x, y: the batch, as float64 arrays of shape ``(m, n0)`` and ``(m, nL)``.
        opt: the optimizer.
        seed: seeds the dropout masks.
        watch: check the outputs against the loss's domain at every step.
        steps: how many steps the run takes: writing the scalar code (milliseconds)
            pays off only over a few hundred steps, so shorter runs take the array code.
            (The two agree to rounding, within 1e-13 relative a step; a run whose learning
            rate makes it chaotic can amplify that, as it would any change of summation order.)
    """

    #: Fewer steps than this take the array code.
    SCALAR_MIN_STEPS = 300
    #: Weights of at least this many entries take the arrays of two steps before for their gradients.
    SPARE_MIN = 2**14

    def __init__(self, compiled: Compiled, params: Params, x: np.ndarray, y: np.ndarray, opt: Optimizer, *,
                 seed: int | None = 0, watch: bool = False, steps: int = SCALAR_MIN_STEPS):
        self.compiled, self.x, self.y, self.opt = compiled, x, y, opt
        self.watch = watch
        self.draw = _mask_drawer(compiled, seed)
        code = None if watch else scalar_code_for(compiled, x.shape[0], steps)
        self.scalar: ScalarStep | None = ScalarStep(compiled, code, x, y) if code is not None else None
        self._current: Any = self.scalar.flatten(params) if self.scalar else params
        self._previous: Any = None
        self._grads: Any = None
        self._scratch: bool | None = None  # may sgd write into the gradients? (decided at the first step)
        self._mine: tuple[set[str], set[str]] = (set(), set())  # which arrays of current, previous the loop made
        self._spare: dict[str, np.ndarray] = {}  # arrays for the next step's weight gradients
        # the weights a fresh array of which costs page faults: at least glibc's first mmap threshold, 128 kB
        self._big = {name for name, shape in compiled.mlp.param_shapes().items()
                     if len(shape) == 2 and math.prod(shape) >= self.SPARE_MIN}

    def evaluate(self, step: int) -> float:
        """The loss at the current parameters (under step ``step``'s mask); keeps the gradients for :meth:`advance`."""
        if self.scalar is not None:
            loss, self._grads = self.scalar(self._current)
            return float(loss)
        masks = self.draw(self.x.shape[0]) if self.draw is not None else None
        if self.watch:
            validate_outputs(self.compiled.mlp, self._current, self.x, masks=masks, step=step)
        if self._spare:
            loss, self._grads = self.compiled.loss_and_grads_into(self._current, self.x, self.y, self._spare, masks)
            self._spare = {}
        elif self.draw is not None:
            loss, self._grads = self.compiled.loss_and_grads(self._current, self.x, self.y, masks)
        else:
            loss, self._grads = self.compiled.loss_and_grads(self._current, self.x, self.y)
        if self._scratch is None:
            self._scratch = "scratch" in inspect.signature(self.opt.step).parameters and _fresh(
                self._grads, [*self._current.values(), self.x, self.y])
        return float(loss)

    def advance(self) -> None:
        """The optimizer's step with the gradients :meth:`evaluate` found; the old parameters are kept."""
        if self.scalar is not None:
            moved = self.opt.step({"theta": self._current}, {"theta": self._grads})["theta"]
            self._previous, self._current = self._current, moved
            return
        if not self._scratch:
            self._previous, self._current = self._current, self.opt.step(self._current, self._grads)
            return
        moved = self.opt.step(self._current, self._grads, scratch=True)
        if self._big:
            dropped, (current, previous) = self._previous, self._mine
            self._mine = ({name for name in self._big if moved[name] is self._grads[name]}, current)
            if dropped is not None:  # its big weights, where the loop made them, take the next weight gradients
                self._spare = {name: dropped[name].T for name in previous if dropped[name].T.flags.c_contiguous}
        self._previous, self._current, self._grads = self._current, moved, None

    @property
    def params(self) -> Params:
        """The current parameters, by name."""
        return self.scalar.unflatten(self._current) if self.scalar else self._current

    @property
    def previous(self) -> Params | None:
        """The parameters the last step started from (None before the first step)."""
        if self._previous is None:
            return None
        return self.scalar.unflatten(self._previous) if self.scalar else self._previous


def _fresh(grads: Params, others: list[Any]) -> bool:
    """True when no gradient array shares memory with another or with ``others`` (the parameters and the
    batch): the compiled code makes each one new, so the optimizer may write into them. The code is the
    same every step, so one look at the first step's arrays answers for the run."""
    arrays = [g for g in grads.values() if isinstance(g, np.ndarray)]
    return not any(np.shares_memory(a, b) for k, a in enumerate(arrays) for b in [*arrays[k + 1:], *others]
                   if isinstance(b, np.ndarray))


def scalar_code_for(compiled: Compiled, samples: int, steps: int) -> ScalarCode | None:
    """The straight-line float code a run of ``steps`` steps on ``samples`` samples trains on (see
    :class:`Stepper`), or None: that run trains on the compiled array code."""
    mlp = compiled.mlp
    if steps < Stepper.SCALAR_MIN_STEPS or mlp.dropouts() or not outputs_in_domain(mlp):
        return None
    return scalar_code(mlp, samples)


def _mask_drawer(compiled: Compiled, seed: int | None) -> Callable[[int], dict[str, np.ndarray]] | None:
    """A fresh dropout mask each call, as dropout trains (reproducible from ``seed``); None without dropout."""
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    layers = compiled.mlp.dropouts()
    if not layers:
        return None

    def draw(samples: int) -> dict[str, np.ndarray]:
        return {d.mask_name: (rng.random((samples, d.width_in)) >= float(d.p)).astype(np.float64) for d in layers}

    return draw


def _diverged(step: int, what: str, kept: Params | None, losses: list[float]) -> None:
    """Raise :class:`TrainingDiverged`, keeping ``kept``: the last parameters with a finite loss.

    ``losses`` ends with ``kept``'s loss (it is empty when the initial loss is not finite).
    """
    if kept is None or not losses:
        raise TrainingDiverged(f"{what} at the initial parameters; nothing to train", TrainResult({}, [], math.nan, 0), 0)
    taken = len(losses) - 1
    result = TrainResult(kept, losses[:-1], losses[-1], taken)
    raise TrainingDiverged(
        f"training diverged at step {step}: {what}; stopped and kept the last parameters with a finite "
        f"loss ({taken} steps in, loss {losses[-1]:.6g}); try a smaller learning rate",
        result,
        step,
    )
