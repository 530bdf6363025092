"""Numba compilation in one place: the op table made jittable, and a cache that degrades gracefully.

``jit(**options)`` is ``numba.njit`` with ``cache=True`` and ``error_model='numpy'``
(IEEE results, no Python exceptions inside kernels). When no cache directory is
writable (a read-only install, a non-root user) Numba refuses ``cache=True`` at
decoration time; we then compile in memory and warn once. Point
``NUMBA_CACHE_DIR`` at a writable folder to keep compiled kernels across runs.

Importing this module registers the op table's functions with Numba
(``register_jitable``), so kernels can call ``ops.mul``, ``ops.tanh_back`` ...
directly: they stay plain Python functions for the Value path.
"""
from __future__ import annotations

import warnings

import numba
from numba.extending import register_jitable

from micrograd import ops

for _fn in ops.HELPERS + tuple(f for op in ops.OPS for f in (op.forward, op.backward)):
    register_jitable(_fn)

_warned = False


def jit(**options):
    """Decorator: numba.njit(cache=True, error_model='numpy', **options), or without cache if it cannot be written."""
    options.setdefault("error_model", "numpy")

    def decorate(fn):
        global _warned
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as e:  # "cannot cache function ...: no locator available"
            if not _warned:
                warnings.warn(f"micrograd: Numba cannot write its cache ({e}); compiling in memory. "
                              f"Set NUMBA_CACHE_DIR to a writable folder to keep kernels between runs.",
                              RuntimeWarning, stacklevel=2)
                _warned = True
            return numba.njit(cache=False, **options)(fn)

    return decorate
