"""A pytest plugin: how long Numba compiles in the test process (every top-level compilation: micrograd's kernels).

    NUMBA_CACHE_DIR=$(mktemp -d) python -m pytest -q -p bench.studies.suite_kernels

With an empty cache this is the cold compile time of every kernel the suite needs (the
``start.suite`` target); with a filled one, what still compiles. Prints one line at the end:
``numba compiled N functions in S s (top level, this process), G s of it in the collector``. Tests
that start their own Python processes compile there (against the same cache): those seconds are not
in the figure.
"""

from __future__ import annotations

import gc
import time

from numba.core import event

LINE = (
    "numba compiled {count} functions in {seconds:.2f} s (top level, this process), {gc:.2f} s of it in the collector"
)


class CompileTimer(event.Listener):
    """Sums the wall time of top-level "numba:compile" events (a callee's compile is inside its caller's)."""

    def __init__(self) -> None:
        self.depth, self.count, self.seconds, self._t0 = 0, 0, 0.0, 0.0
        self.gc_seconds, self._gc_t0 = 0.0, 0.0

    def collector(self, phase, info) -> None:
        """gc.callbacks: the collector's time while something compiles."""
        if self.depth == 0:
            return
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_t0

    def on_start(self, event) -> None:
        if self.depth == 0:
            self._t0 = time.perf_counter()
        self.depth += 1

    def on_end(self, event) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self._t0
            self.count += 1


TIMER = CompileTimer()


def pytest_configure(config) -> None:
    event.register("numba:compile", TIMER)
    gc.callbacks.append(TIMER.collector)


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(LINE.format(count=TIMER.count, seconds=TIMER.seconds, gc=TIMER.gc_seconds))
