"""The compiled path's threads: SciPy's BLAS (what Numba's ``np.dot`` calls) and the parallel batch chunks.

Contract:
- ``limit_blas_threads()``, once before the first kernel runs: SciPy's BLAS on one thread (found through
  threadpoolctl; NumPy's own BLAS is left alone). ``blas_threads_for(work)`` then gives it ``BLAS_THREADS``
  threads for a batch of at least ``PARALLEL_WORK`` dense multiply-adds and one thread otherwise: a ctypes
  call when the count changes, nothing when it does not.
- ``chunks(dense_work, batch)``: how many batch chunks a step runs in parallel, ``CHUNKS`` or 1. Chunks run
  only with ``MICROGRAD_PARALLEL=1`` and only for big dense layers; ``passive_openmp()`` comes before the
  first parallel kernel.
- Switches: ``MICROGRAD_BLAS_THREADS`` (default 2 on 2 or more cores, else 1; 0 leaves SciPy's BLAS as it
  is; on a machine busy with other work, 1 is steadier) and ``MICROGRAD_PARALLEL=1``.

The measurements behind every constant here: docs/benchmarks.md, "Tuning decisions".
"""

from __future__ import annotations

import importlib
import os

CHUNKS = 2  # batch chunks in parallel; fixed, so results do not depend on the thread count
# The numbers behind these three: docs/benchmarks.md, "Tuning decisions".
PARALLEL_WORK = 1 << 22  # dense multiply-adds per batch from which more threads pay
PARALLEL = os.environ.get("MICROGRAD_PARALLEL", "0") == "1"  # batch chunks: off by default
BLAS_THREADS = int(os.environ.get("MICROGRAD_BLAS_THREADS", "2" if (os.cpu_count() or 1) >= 2 else "1"))
CHUNKS_MIN_BATCH = 64  # smaller batches are never cut into chunks

_blas_limited = False
_blas_libs: list = []  # SciPy's BLAS controllers (threadpoolctl), found once
_blas_now = [0]  # the thread count they run with now


def limit_blas_threads() -> None:
    """SciPy's BLAS on one thread from now on, until ``blas_threads_for`` says otherwise (see the module
    docstring). Does nothing after the first call, with ``MICROGRAD_BLAS_THREADS=0``, or without
    SciPy or threadpoolctl."""
    global _blas_limited
    if _blas_limited:
        return
    _blas_limited = True
    if BLAS_THREADS <= 0:
        return
    try:
        importlib.import_module("scipy.linalg.cython_blas")  # loads the BLAS Numba's np.dot calls
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    _blas_libs[:] = [
        lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas" and "numpy" not in lib.filepath
    ]
    blas_threads_for(0)


def blas_threads_for(work: int) -> None:
    """BLAS_THREADS threads for a batch of ``work`` dense multiply-adds from PARALLEL_WORK on, else 1."""
    n = BLAS_THREADS if work >= PARALLEL_WORK else 1
    if _blas_libs and n != _blas_now[0]:
        for lib in _blas_libs:
            lib.set_num_threads(n)
        _blas_now[0] = n


def chunks(dense_work: int, batch: int) -> int:
    """How many batch chunks run in parallel for a program of ``dense_work`` multiply-adds per example."""
    return CHUNKS if PARALLEL and batch >= CHUNKS_MIN_BATCH and dense_work * batch >= PARALLEL_WORK else 1


def passive_openmp() -> None:
    """Numba's OpenMP threads wait passively instead of spinning at barriers (docs/benchmarks.md, Tuning
    decisions: OMP_WAIT_POLICY). Called just before a parallel kernel first starts OpenMP, so small models
    leave the process environment alone; a value the user set wins."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
