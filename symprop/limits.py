"""How much work symprop takes on before it refuses, in one place.

Each bound is a named constant computed from an estimate of the work, so
that it can be raised when the work gets cheaper: the exact path (SymPy, one
chain-rule step at a time) is bounded by steps, numpy arrays by bytes. A
problem past a bound is refused *before* the work starts, with one line that
names the bound and what to do instead (:class:`~symprop.errors.LimitError`).
The bounds of one exact evaluation (the size of an exact number, of the local
derivatives) are measured on the SymPy expressions themselves, in :mod:`symprop.bounds`.
"""

from __future__ import annotations

__all__ = [
    "EXACT_SECONDS_PER_STEP",
    "EXACT_TIME_BUDGET",
    "MAX_EXACT_STEPS",
    "MATRIX_SECONDS_PER_ENTRY",
    "MATRIX_ENTRIES_PER_COLUMN",
    "MAX_MATRIX_ENTRIES",
    "MAX_PARAMETERS",
    "MAX_TRAINING_BYTES",
    "MAX_TRAINING_STEPS",
    "MAX_SPEC_INTEGER_BITS",
    "gigabytes",
]

#: What one chain-rule step of the exact backward pass costs, building and
#: evaluating its node included, at the most: measured on one core (SymPy,
#: float inputs) 0.5 ms per step one sample at a time, 1.5 ms for a whole
#: batch's graph or a layer 4,000 wide, about 1 ms for chains of formula nodes.
EXACT_SECONDS_PER_STEP = 1.5e-3
#: How long the exact path may be expected to run before it is refused.
EXACT_TIME_BUDGET = 30.0
#: The most chain-rule steps one exact backward pass (or one check) may take: 20,000.
MAX_EXACT_STEPS = round(EXACT_TIME_BUDGET / EXACT_SECONDS_PER_STEP)

#: What one entry of the matrix view costs, computed and printed: a SymPy
#: multiply-add of values (per sample, its Jacobians ``n_l x n_l`` and products
#: with ``W``): 10-30 µs.
MATRIX_SECONDS_PER_ENTRY = 2e-5
#: What each sample's column costs in each layer besides its entries, in entries
#: (building its Jacobian, slicing, printing): a [2, 3, 1] view of 1,000 samples
#: takes about 8 s, almost all of it this.
MATRIX_ENTRIES_PER_COLUMN = 200
#: The most such entries one matrix view may compute: 1,500,000.
MAX_MATRIX_ENTRIES = round(EXACT_TIME_BUDGET / MATRIX_SECONDS_PER_ENTRY)

#: The most parameter scalars a network may have: 10 million float64 are 80 MB,
#: and the exact path stops far below that; training with numpy does not.
MAX_PARAMETERS = 10_000_000
#: The most float64 memory a training run may need (parameters, gradients,
#: optimizer state and every layer's activations for the whole batch).
MAX_TRAINING_BYTES = 2 * 1024**3
#: The most steps one training run may take: a million steps of the smallest
#: network take about a minute, and the loss history holds one number per step.
MAX_TRAINING_STEPS = 1_000_000

#: Integers in spec files, as literals in formulas: at most 400 bits (about 120 digits).
MAX_SPEC_INTEGER_BITS = 400


def gigabytes(count: float) -> str:
    """A byte count for messages: ``"75 GB"``, ``"1.2 GB"``, ``"80 MB"``."""
    if count >= 10e9:
        return f"{count / 1e9:,.0f} GB"
    if count >= 1e9:
        return f"{count / 1e9:.1f} GB"
    return f"{count / 1e6:,.0f} MB" if count >= 10e6 else f"{max(count / 1e6, 0.1):.1f} MB"
