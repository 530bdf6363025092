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


def machine() -> Dict[str, str]:
    import numba
    import numpy as np
    info = {"cpu": f"{cpu_model()} ({_flags()})", "cores": str(os.cpu_count()),
            "python": platform.python_version(), "numpy": np.__version__, "numpy BLAS": _blas(),
            "numba": numba.__version__, "os": f"{platform.system()} {platform.release()}"}
    try:
        import torch
        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads, "\
                        f"MKL {'yes' if torch.backends.mkl.is_available() else 'no'})"
    except ImportError:
        info["torch"] = "not installed"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_CORETYPE",
                "NUMBA_CACHE_DIR"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    return info


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
