"""A pytest plugin: how long Numba compiles in the test process (every top-level compilation: micrograd's kernels).

    NUMBA_CACHE_DIR=$(mktemp -d) python -m pytest -q -p bench.studies.suite_kernels

With an empty cache this is the cold compile time of every kernel the suite needs (the
``start.suite`` target); with a filled one, what still compiles. Prints one line at the end:
``numba compiled N functions in S s (top level, this process)``. Tests that start their own
Python processes compile there (against the same cache): those seconds are not in the figure.
"""

from __future__ import annotations

import time

from numba.core import event

LINE = "numba compiled {count} functions in {seconds:.1f} s (top level, this process)"


class CompileTimer(event.Listener):
    """Sums the wall time of top-level "numba:compile" events (a callee's compile is inside its caller's)."""

    def __init__(self) -> None:
        self.depth, self.count, self.seconds, self._t0 = 0, 0, 0.0, 0.0

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


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(LINE.format(count=TIMER.count, seconds=TIMER.seconds))
