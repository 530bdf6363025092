"""What a process can say about itself: resident memory, thread pools, and the machine and code it ran.

Memory is read from ``/proc/self/status`` (Linux): ``VmRSS`` now, ``VmHWM`` the
peak, which ``reset_peak`` resets (writing 5 to ``/proc/self/clear_refs``) so a
peak can belong to one stage. Elsewhere ``rss_bytes`` falls back to
``ru_maxrss`` and says so through ``reset_peak() -> False``.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys


def _status_kb(key: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def rss_bytes() -> int:
    kb = _status_kb("VmRSS")
    return 1024 * (kb if kb > 0 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_bytes() -> int:
    kb = _status_kb("VmHWM")
    return 1024 * (kb if kb > 0 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Reset the peak-RSS counter; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def threads() -> str:
    """The thread settings this process runs with: BLAS/OpenMP pools, torch, Numba, micrograd's switches."""
    out = []
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            where = os.path.basename(os.path.dirname(lib["filepath"])).replace(".libs", "")
            out.append(f"{lib['internal_api']} ({where}) {lib['num_threads']}")
    except ImportError:
        out.append("threadpoolctl not installed")
    if "torch" in sys.modules:
        out.append(f"torch intra-op {sys.modules['torch'].get_num_threads()}")
    if "numba" in sys.modules:
        out.append(f"numba {sys.modules['numba'].get_num_threads()}")
    blas = sys.modules.get("micrograd.compiler.blas")
    if blas is not None:
        out.append(f"micrograd BLAS threads for big products {blas.BLAS_THREADS}")
    return ", ".join(out)


# ------------------------------------------------------------ the machine
def _cpu() -> str:
    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == (platform.processor() or platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    fl = line.split()
                    flags = "AVX-512" if "avx512f" in fl else ("AVX2" if "avx2" in fl else "SSE")
    except OSError:
        pass
    return f"{model} ({flags})" if flags else model


def _blas() -> str:
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def code_version(root: str) -> str:
    """The git commit of the checkout at root, and whether micrograd/ or bench/ had uncommitted edits."""
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "micrograd", "bench"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return (head or "unknown") + (" + uncommitted edits" if dirty else "")


def machine(root: str) -> dict[str, str]:
    import numba
    import numpy as np
    import pyperf

    info = {
        "commit": code_version(root),
        "cpu": _cpu(),
        "cores": str(os.cpu_count()),
        "load average (1/5/15 min) at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "numpy": f"{np.__version__} (BLAS: {_blas()})",
        "numba": numba.__version__,
        "pyperf": pyperf.__version__,
        "os": f"{platform.system()} {platform.release()}",
    }
    try:
        import torch

        info["torch"] = f"{torch.__version__} (MKL {'yes' if torch.backends.mkl.is_available() else 'no'})"
    except ImportError:
        info["torch"] = "not installed"
    for var in sorted(os.environ):
        if var.startswith(("OMP_", "OPENBLAS_", "MKL_", "NUMBA_", "MICROGRAD_")):
            info[var] = os.environ[var]
    return info
