"""Measuring: step timing (warm-up, calibrated inner loop, median of repeats), memory and the machine.

``time_step(step, ...)`` never reports the first call (it compiles, allocates,
fills caches): it warms up, calibrates how many steps one sample needs to
last ``min_sample_s`` (so timer overhead is negligible even for a 10 us step),
then takes ``repeats`` samples within ``budget_s`` and returns their median.

Memory is read from ``/proc/self/status``: ``VmHWM`` (peak resident set) is
reset before the timed steps by writing 5 to ``/proc/self/clear_refs``, so
the peak seen afterwards belongs to the steps, not to imports or setup. Where
that file is not writable, ``ru_maxrss`` (the process's lifetime peak) is used
and flagged.
"""
from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List


def time_step(step: Callable[[], object], repeats: int, min_sample_s: float, budget_s: float,
              warmup: int = 3) -> Dict:
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    step()
    one = time.perf_counter() - t0
    inner = max(1, int(min_sample_s / max(one, 1e-9)))
    repeats = max(3, min(repeats, int(budget_s / max(one * inner, 1e-9))))
    samples: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(inner):
            step()
        samples.append((time.perf_counter_ns() - t0) * 1e-9 / inner)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "samples_s": samples,
            "inner": inner, "repeats": repeats}


# ------------------------------------------------------------ memory
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def rss_kb() -> int:
    return _status_kb("VmRSS")


def reset_peak() -> bool:
    """Reset the peak-RSS counter (Linux); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_kb() -> int:
    hwm = _status_kb("VmHWM")
    return hwm if hwm > 0 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ------------------------------------------------------------ the machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    import numpy as np
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older numpy: the report just says unknown
        return "unknown"


def _flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
        return "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    except (OSError, StopIteration):
        return "?"


def _code_version() -> str:
    """The git commit of the micrograd being measured (and whether its tree had uncommitted edits)."""
    import subprocess
    import micrograd
    root = os.path.dirname(os.path.dirname(os.path.abspath(micrograd.__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "micrograd"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "", ""
    return f"{micrograd.__version__} from {root}" + (f", commit {head}" if head else "") + (
        " + uncommitted edits" if dirty else "")


def machine() -> Dict[str, str]:
    import numba
    import numpy as np
    info = {"micrograd": _code_version(), "cpu": f"{cpu_model()} ({_flags()})", "cores": str(os.cpu_count()),
            "python": platform.python_version(), "numpy": np.__version__, "numpy BLAS": _blas(),
            "numba": numba.__version__, "os": f"{platform.system()} {platform.release()}"}
    try:
        import torch
        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads, "\
                        f"MKL {'yes' if torch.backends.mkl.is_available() else 'no'})"
    except ImportError:
        info["torch"] = "not installed"
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                "OPENBLAS_CORETYPE", "NUMBA_CACHE_DIR", "MICROGRAD_BLAS_THREADS", "MICROGRAD_PARALLEL"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    return info


def _cpu_busy_s() -> float:
    """CPU-seconds all cores spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores were busy over the next `seconds`: the load of the other processes."""
    b1 = _cpu_busy_s()
    time.sleep(seconds)
    return (_cpu_busy_s() - b1) / seconds


class Interference:
    """Cores kept busy by processes other than our children while a child ran (context manager).

    Machine busy CPU-time (/proc/stat) minus our children's CPU-time (getrusage), over the wall time:
    0 means the child had the machine to itself; 1 means another process held a whole core."""

    def __enter__(self):
        self.t, self.busy = time.perf_counter(), _cpu_busy_s()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.child = ru.ru_utime + ru.ru_stime
        return self

    def __exit__(self, *exc):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = max(time.perf_counter() - self.t, 1e-9)
        others = (_cpu_busy_s() - self.busy) - (ru.ru_utime + ru.ru_stime - self.child)
        self.cores = max(others / wall, 0.0)
        return False


def wait_quiet(max_wait_s: float, busy_limit: float = 0.25, say=print) -> float:
    """Wait (up to max_wait_s) until other processes keep fewer than busy_limit cores busy; returns the last reading."""
    deadline = time.monotonic() + max_wait_s
    busy = busy_cores()
    while busy > busy_limit and time.monotonic() < deadline:
        say(f"machine busy ({busy:.2f} cores in use by others), waiting")
        time.sleep(8.0)
        busy = busy_cores()
    return busy


def threads() -> str:
    """The thread pools loaded in this process and their sizes (threadpoolctl; torch's intra-op pool)."""
    out = []
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            where = os.path.basename(os.path.dirname(lib["filepath"])).replace(".libs", "")
            out.append(f"{lib['internal_api']} ({where}) {lib['num_threads']}")
    except ImportError:
        out.append("threadpoolctl not installed")
    import sys
    if "torch" in sys.modules:
        out.append(f"torch intra-op {sys.modules['torch'].get_num_threads()}")
    return ", ".join(out)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
