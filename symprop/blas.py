"""One BLAS thread for a small network's step: OpenBLAS's threads cost more than they save there.

numpy hands each matrix product to its BLAS. OpenBLAS splits a product over
its threads once it has about 2.6e5 multiply-adds (``m*k*n``), a threshold
made for idle many-core machines: on two cores, or when another process holds
one of them, the halves of a small product wait for each other. On a busy
2-core machine, one step of the [64, 32, 10] net (256 samples) took 1-2 ms on
OpenBLAS's two threads and 0.3 ms on one; a [784, 100, 10] step with 64
samples, ten times the work a product, still gains from the second thread
when the machine is idle.

So the compiled functions (:func:`symprop.compile`) run on one thread when
their largest product is below :data:`SMALL` multiply-adds, and give the
thread count back when they return (numpy's own calls elsewhere keep it). The
count is set with OpenBLAS's ``openblas_set_num_threads``, under the names
numpy's wheels give it, in the library numpy loaded: environment variables
such as ``OPENBLAS_NUM_THREADS`` are read only when numpy is first imported.
With any other BLAS (MKL, Apple's Accelerate) nothing is changed. While a
small step runs, BLAS calls from other Python threads get one thread too.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any, Callable

__all__ = ["SMALL", "LOW", "openblas_threads", "one_thread_when_small"]

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


def one_thread_when_small(function: Callable[..., Any], widest: int) -> Callable[..., Any]:
    """``function(params, x, ...)`` run on one BLAS thread when ``len(x) * widest`` is below :data:`SMALL`.

    ``widest`` is the largest ``n_in * n_out`` of the network's linear layers, so
    ``len(x) * widest`` is the multiply-adds of its largest product.
    """
    controls = openblas_threads()
    if controls is None:
        return function
    get, put = controls

    @functools.wraps(function)
    def run(params: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            work = len(x) * widest
        except TypeError:
            work = 0
        if not LOW <= work < SMALL:
            return function(params, x, *args, **kwargs)
        before = get()
        if before <= 1:
            return function(params, x, *args, **kwargs)
        put(1)
        try:
            return function(params, x, *args, **kwargs)
        finally:
            put(before)

    return run
