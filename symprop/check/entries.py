"""Which parameter entries finite differences check: all of them, or a seeded random sample of each tensor.

Each entry costs two evaluations of the loss, so checking every entry of a
network with many parameters costs a forward pass per parameter scalar (an
MNIST-size [784, 100, 10] net has 79,510 of them). As CS231n's sparse gradient
check does, a network with more than :data:`SPARSE_ABOVE` parameter scalars is
checked on :data:`SPARSE_ENTRIES` entries of each tensor, drawn with a fixed
seed (the same every run), and the report says so; ``entries="all"`` (``check
--entries all``) checks every one. A bug in a layer's gradient shows in any
sample of its entries: a missing factor, a transposed matrix or a forgotten sum
is wrong almost everywhere. A check against your own gradients compares every
entry (it costs nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import SympropError

__all__ = ["Entries", "choose_entries", "read_entries", "SPARSE_ABOVE", "SPARSE_ENTRIES", "SPARSE_SEED"]

#: A network with more parameter scalars than this is checked on a sample of each tensor's entries.
SPARSE_ABOVE = 10_000
#: How many entries of each tensor such a check takes (a tensor with fewer is checked whole).
SPARSE_ENTRIES = 100
#: The seed of the draw, so that a check takes the same entries every run.
SPARSE_SEED = 0


@dataclass(frozen=True)
class Entries:
    """The entries a check compares.

    Attributes:
        chosen: per parameter, the indices checked, in index order; None means every entry.
        checked: how many entries are checked in all.
        total: how many parameter entries there are.
        per_tensor: the size of each tensor's sample (None when every entry is checked).
    """

    chosen: dict[str, list[tuple[int, ...]]] | None
    checked: int
    total: int
    per_tensor: int | None = None

    def of(self, name: str, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The indices of parameter ``name`` to check."""
        if self.chosen is None:
            return list(np.ndindex(*shape))
        return self.chosen[name]

    def to_dict(self) -> dict[str, int | None]:
        return {"checked": self.checked, "total": self.total, "per_tensor": self.per_tensor}


def read_entries(entries: object) -> int | str:
    """``"auto"``, ``"all"`` or a whole number >= 1 (text from the command line is read too).

    Raises:
        SympropError: anything else, naming the choices.
    """
    if isinstance(entries, str) and entries.strip().isdigit():
        entries = int(entries.strip())
    if entries in ("auto", "all"):
        return entries  # type: ignore[return-value]
    if isinstance(entries, bool) or not isinstance(entries, (int, np.integer)) or entries < 1:
        raise SympropError(f"entries: expected 'all', 'auto' or a whole number >= 1 per tensor, got {entries!r}")
    return int(entries)


def choose_entries(shapes: Mapping[str, tuple[int, ...]], entries: int | str = "auto") -> Entries:
    """The entries to check of parameters shaped ``shapes``: all, or a seeded sample of each tensor.

    ``"auto"``: all of them for at most :data:`SPARSE_ABOVE` parameter scalars,
    else :data:`SPARSE_ENTRIES` of each tensor; ``"all"``; or ``n`` of each tensor.
    """
    entries = read_entries(entries)
    sizes = {name: int(np.prod(shape, dtype=np.int64)) for name, shape in shapes.items()}
    total = sum(sizes.values())
    if entries == "all" or (entries == "auto" and total <= SPARSE_ABOVE):
        return Entries(None, total, total)
    per = SPARSE_ENTRIES if entries == "auto" else int(entries)
    if all(size <= per for size in sizes.values()):
        return Entries(None, total, total)
    rng = np.random.default_rng(SPARSE_SEED)
    chosen: dict[str, list[tuple[int, ...]]] = {}
    for name, shape in shapes.items():
        if sizes[name] <= per:
            chosen[name] = list(np.ndindex(*shape))
            continue
        flat = np.sort(rng.choice(sizes[name], size=per, replace=False))
        chosen[name] = [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]
    return Entries(chosen, sum(len(v) for v in chosen.values()), total, per)
