"""How many BLAS threads a compiled step uses: one for a small network, the faster count for a big one.

numpy hands each matrix product to its BLAS. OpenBLAS splits a product over
its threads once it has about 2.6e5 multiply-adds (``m*k*n``), a threshold
made for idle many-core machines: on two cores, or when another process holds
one of them, the halves of a small product wait for each other. On a busy
2-core machine, one step of the [64, 32, 10] net (256 samples) took 1-2 ms on
OpenBLAS's two threads and 0.3 ms on one; a [784, 100, 10] step with 64
samples, ten times the work a product, still gains from the second thread
when the machine is idle.

So the compiled functions (:func:`symprop.compile`) run on one thread when
their largest product is below :data:`SMALL` multiply-adds; from there up they
time themselves now and then on one thread and on OpenBLAS's count, and keep
the faster (:class:`_Faster`: on an idle machine the second core pays for a
[784, 100, 10] step, on a busy one it does not). They give the count back when
they return (numpy's own calls elsewhere keep it), and the results are the same
bits either way (OpenBLAS splits a product's rows and columns over its threads,
not the sums that make each entry). The count is set with OpenBLAS's
``openblas_set_num_threads``, under the names numpy's wheels give it, in the
library numpy loaded: environment variables such as ``OPENBLAS_NUM_THREADS``
are read only when numpy is first imported.
With any other BLAS (MKL, Apple's Accelerate) nothing is changed. While a
small step runs, BLAS calls from other Python threads get one thread too.
"""

from __future__ import annotations

import ctypes
import functools
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["SMALL", "LOW", "openblas_threads", "blas_threads_by_size"]

#: Products below this many multiply-adds run on one thread (above it, OpenBLAS's threads may pay).
SMALL = 2**21

#: Below this, OpenBLAS uses one thread anyway (its threshold is 4·65536): nothing to change.
LOW = 2**16

_UNSET: Any = object()
_controls: Any = _UNSET


def _candidates() -> list[Path]:
    """Where numpy's OpenBLAS may be: beside numpy (wheels), or among the libraries loaded (Linux)."""
    import numpy

    here = Path(numpy.__file__).resolve().parent
    found = [p for folder in (here.parent / "numpy.libs", here / ".dylibs") if folder.is_dir()
             for p in sorted(folder.iterdir()) if "openblas" in p.name.lower()]
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text(errors="replace").splitlines():
            path = line.split(maxsplit=5)[-1]
            if "openblas" in Path(path).name.lower() and Path(path) not in found:
                found.append(Path(path))
    return found


def openblas_threads() -> tuple[Callable[[], int], Callable[[int], Any]] | None:
    """``(get, set)`` of the thread count of numpy's OpenBLAS, or None when numpy uses another BLAS."""
    global _controls
    if _controls is not _UNSET:
        return _controls
    _controls = None
    for path in _candidates():
        try:
            library = ctypes.CDLL(str(path))
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", "_64", ""):
                get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
                put = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, put.restype = ctypes.c_int, None
                    put.argtypes = [ctypes.c_int]
                    _controls = (get, put)
                    return _controls
    return _controls


class _Faster:
    """Which of one thread and OpenBLAS's own count runs a big step faster, timed now and then.

    Times are per multiply-add of the largest product, so batches of other sizes
    compare. The count in use is timed at every call (the lower envelope, so
    that a moment's preemption does not count); the other one is timed again
    after :attr:`interval` calls, which doubles (up to 1024) while it stays slower
    and starts again at 4 when it wins. A busy machine makes one thread win; an
    idle one, the threads.
    """

    def __init__(self) -> None:
        self.seconds: dict[bool, float | None] = {True: None, False: None}  # by "one thread?"
        self.one = False
        self.interval = 4
        self.wait = 0
        self.trying = False

    def pick(self) -> bool:
        self.trying = self.seconds[self.one] is not None and self.wait <= 0
        self.wait -= 1
        return self.one != self.trying

    def record(self, one: bool, seconds: float) -> None:
        if not self.trying:
            known = self.seconds[one]
            self.seconds[one] = seconds if known is None or seconds < known else known + 0.1 * (seconds - known)
            return
        if seconds < self.seconds[self.one]:
            self.one, self.interval = one, 4
            self.seconds[one] = seconds
        else:
            self.interval = min(2 * self.interval, 1024)
        self.wait = self.interval


def blas_threads_by_size(function: Callable[..., Any], widest: int) -> Callable[..., Any]:
    """``function(params, x, ...)`` on one BLAS thread when ``len(x) * widest`` is below :data:`SMALL`.

    ``widest`` is the largest ``n_in * n_out`` of the network's linear layers, so
    ``len(x) * widest`` is the multiply-adds of its largest product. From
    :data:`SMALL` up, the step runs on whichever of one thread and OpenBLAS's own
    count was faster when last timed (see :class:`_Faster`).
    """
    controls = openblas_threads()
    if controls is None:
        return function
    get, put = controls
    faster = _Faster()

    @functools.wraps(function)
    def run(params: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            work = len(x) * widest
        except TypeError:
            work = 0
        before = get() if work >= LOW else 1
        if before <= 1:
            return function(params, x, *args, **kwargs)
        big = work >= SMALL
        one = faster.pick() if big else True
        start = time.perf_counter()
        if one:
            put(1)
        try:
            return function(params, x, *args, **kwargs)
        finally:
            if one:
                put(before)
            if big:
                faster.record(one, (time.perf_counter() - start) / work)

    return run
