"""Numba compilation in one place: the op table made jittable, and a cache that degrades gracefully.

``jit(**options)`` is ``numba.njit`` with ``cache=True`` and ``error_model='numpy'``
(IEEE results, no Python exceptions inside kernels). Every kernel of the
compiled path is made by it, so the cache rules below hold for all of them:

- A cache entry that cannot be read (a truncated or garbage ``.nbi`` index or
  ``.nbc`` data file: a full disk, an interrupted copy) is a cache miss: the
  kernel is recompiled, the bad entry is replaced, and one RuntimeWarning says
  so. Numba itself would raise UnpicklingError / EOFError on every later run.
- When ``NUMBA_CACHE_DIR`` is set but cannot be written, Numba silently caches
  elsewhere (next to the source in ``__pycache__``, or a per-user folder): we
  warn once, naming where the kernels are cached instead.
- When no cache folder is writable at all (a read-only install, a non-root
  user), Numba refuses ``cache=True`` at decoration time; we compile in memory
  and warn once. A cache that fails while being written is treated the same way.

Point ``NUMBA_CACHE_DIR`` at a writable folder to keep compiled kernels across runs.

First run: an entry point made with ``jit(cold_s=N, what=...)`` that Numba has to
compile (not in memory, not in the disk cache) prints one line to ``sys.stderr``
before compiling: "micrograd: compiling the kernel for relu, loss hinge, sgd
(first run), about N s ...".
It is printed, not warned: a warning filter (or the default once-per-place
rule) could hide it, and ``sys.stderr`` is looked up at that moment, so it
shows in a terminal and in a notebook cell (ipykernel replaces sys.stderr).
Callees compiled inside an entry point's compilation say nothing; a cache hit
says nothing. The hook is Numba's "numba:compile" event, which fires on cache
misses only, so a warm run costs nothing.

While an entry point compiles, CPython's collector skips its full (oldest
generation) passes: Numba's compiler keeps hundreds of thousands of objects
alive while it works, and each full pass walks all of them (11 passes, 1.3 s of
a 13 s compile of the kernel with every op). Young generations are collected
as usual; the thresholds are put back when the compilation ends, and the next
full pass frees what the compiler left.

Importing this module registers the op table's functions with Numba
(``register_jitable``), so kernels can call ``ops.mul``, ``ops.tanh_back`` ...
directly: they stay plain Python functions for the Value path.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import warnings

import numba
from numba.core import event as _event
from numba.core.caching import FunctionCache
from numba.core.runtime import rtsys
from numba.extending import register_jitable

from micrograd import ops

for _fn in ops.HELPERS + tuple(f for op in ops.OPS for f in (op.forward, op.backward)):
    register_jitable(_fn)

_warned: set = set()  # what has been said once in this process


def _warn(message: str) -> None:
    """One line on stderr: warn_explicit at line 0 has no source line for warnings to print under it."""
    warnings.warn_explicit(message, RuntimeWarning, "micrograd.compiler.jit", 0)


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        _warn(message)


class RecoveringCache(FunctionCache):
    """Numba's per-function disk cache, except that an unreadable entry is a miss, not a crash.

    Hooks the two calls the dispatcher makes (``load_overload`` before compiling a signature,
    ``save_overload`` after), so it holds for every signature of every kernel.
    """

    def load_overload(self, sig, target_context):
        try:
            # Numba's own load_overload first refreshes the whole target context (importing and registering
            # every implementation module: most of a warm start, docs/benchmarks.md); running compiled code
            # needs only the runtime (NRT). A later compilation refreshes the context as it always does.
            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception as e:  # UnpicklingError, EOFError, ValueError, ... from a damaged file
            _warn(
                f"micrograd: the Numba cache of {self._py_func.__qualname__} in {self.cache_path} "
                f"is damaged ({type(e).__name__}: {e}); recompiling and replacing it"
            )
            self._discard_index_if_unreadable()
            return None  # the dispatcher compiles, then save_overload overwrites the entry

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as e:  # the folder became unwritable (or full) after it was chosen
            _warn_once(
                f"save:{self.cache_path}",
                f"micrograd: cannot write Numba's cache in {self.cache_path} "
                f"({e.strerror or e}); kernels are compiled in memory this run",
            )

    def _discard_index_if_unreadable(self) -> None:
        """A damaged index is replaced by an empty one (saving would read it again and fail); a damaged
        data file needs nothing: saving the recompiled kernel overwrites it under the same name."""
        try:
            self._cache_file._load_index()
        except Exception:
            with contextlib.suppress(OSError):
                self.flush()  # writes an empty index through a temporary file and os.replace


def _cache_dir() -> str:
    """NUMBA_CACHE_DIR as Numba read it ('' when unset; numba.config sets its attributes at run time)."""
    return getattr(numba.config, "CACHE_DIR", "")


def _where_cached(dispatcher) -> None:
    """Warn once when NUMBA_CACHE_DIR is set but Numba chose another folder (it was not writable)."""
    wanted = _cache_dir()
    if not wanted:
        return
    path = dispatcher._cache.cache_path
    if os.path.commonpath([os.path.abspath(wanted), os.path.abspath(path)]) != os.path.abspath(wanted):
        _warn_once(
            "elsewhere",
            f"micrograd: NUMBA_CACHE_DIR={wanted} cannot be written; Numba caches the kernels in {path} instead",
        )


# keyed by the functions themselves, not their ids: a freed function's id is reused by a later one
_entry_points: dict = {}  # py_func -> (seconds its cold compilation takes, what it is for)
_uncached: set = set()  # py_func of kernels compiled in memory (no writable cache folder)


NO_FULL_COLLECTION = 1 << 30  # the oldest generation's threshold while an entry point compiles


class _FirstRunNotice(_event.Listener):
    """Prints the first-run line when an entry point starts compiling at top level, and holds off the
    collector's full passes until it ends (see the docstring)."""

    depth = 0  # nested "numba:compile" events: callees compiled inside a caller's compilation
    thresholds: tuple | None = None  # the collector's, while an entry point compiles

    def on_start(self, event) -> None:
        self.depth += 1
        if self.depth != 1:
            return
        py_func = getattr(event.data.get("dispatcher"), "py_func", None)
        entry = _entry_points.get(py_func)
        if entry is not None:
            seconds, what = entry
            later = (
                "no cache folder is writable, so every run compiles it"
                if py_func in _uncached
                else "Numba caches it for the next runs"
            )
            print(
                f"micrograd: compiling the kernel for {what} (first run), about {seconds:.0f} s ({later})",
                file=sys.stderr,
                flush=True,
            )
            self.thresholds = gc.get_threshold()
            gc.set_threshold(*self.thresholds[:2], NO_FULL_COLLECTION)

    def on_end(self, event) -> None:
        self.depth -= 1
        if self.depth == 0 and self.thresholds is not None:
            gc.set_threshold(*self.thresholds)
            self.thresholds = None


_event.register("numba:compile", _FirstRunNotice())


def jit(cold_s: float | None = None, what: str = "", **options):
    """Decorator: numba.njit(cache=True, error_model='numpy', **options), with the cache rules above.

    ``cold_s``: this is an entry point that takes about that many seconds to compile from an empty
    cache, for ``what``; compiling it at top level prints the first-run line (see the module docstring)."""
    options.setdefault("error_model", "numpy")

    def decorate(fn):
        if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the plain Python function, for debuggers and coverage
            return fn
        if cold_s is not None:
            _entry_points[fn] = (cold_s, what or fn.__qualname__)
        try:
            dispatcher = numba.njit(cache=True, **options)(fn)
        except RuntimeError as e:  # "cannot cache function ...: no locator available"
            why = (
                f"NUMBA_CACHE_DIR={_cache_dir()} cannot be written, nor any folder Numba falls back to"
                if _cache_dir()
                else str(e)
            )
            _warn_once(
                "memory",
                f"micrograd: Numba cannot write its cache ({why}); compiling in memory. "
                f"Set NUMBA_CACHE_DIR to a writable folder to keep kernels between runs.",
            )
            _uncached.add(fn)
            return numba.njit(cache=False, **options)(fn)
        dispatcher._cache = RecoveringCache(dispatcher.py_func)  # what enable_caching() built, made robust
        _where_cached(dispatcher)
        return dispatcher

    return decorate
