"""What runs in a child process: one implementation timed on one workload, or the compile probe.

Each timing runs in its own process (``run.py --worker IMPL --workload W``):
PyTorch's and OpenBLAS's/Numba's thread pools fight over the 2 cores when they
share a process (PERF_NOTES: 8x slower). The worker loads the workload from
the ``.npz`` the parent wrote, builds the runner (timed: for the compiled path
that is trace + lower), calls one step (first call: kernel compile or load),
resets the peak-memory counter, times the steps and writes a JSON result.

The compile probe (``run.py --probe``) runs in a process whose
``NUMBA_CACHE_DIR`` the parent points at a fresh folder (cold) and then again
at the same folder (warm); it times importing the compiler, trace + lower of
each workload's model and each compiled entry point's first call.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from bench import impls, measure

FULL = dict(repeats=15, min_sample_s=0.02, budget_s=4.0, warmup=3)
QUICK = dict(repeats=3, min_sample_s=0.002, budget_s=0.3, warmup=1)
PARTS = dict(repeats=7, min_sample_s=0.01, budget_s=1.0, warmup=2)  # the breakdown: context, not targets


def run_worker(impl: str, name: str, tmp: Path, quick: bool) -> dict:
    settings = QUICK if quick else FULL
    impls.preload(impl)
    rss_import = measure.rss_kb()
    t0 = time.perf_counter()
    runner = impls.make(impl, name, tmp / f"{name}.npz")
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    runner.step()
    first_s = time.perf_counter() - t0
    pools = measure.threads()
    rss_before = measure.rss_kb()
    peak_reset = measure.reset_peak()
    result = measure.time_step(runner.step, **settings)
    k = getattr(runner, "steps_per_call", 1)  # compiled fit: K steps per call
    for key in ("median_s", "min_s"):
        result[key] /= k
    result["samples_s"] = [s / k for s in result["samples_s"]]
    result["steps_per_call"] = k
    result.update(impl=impl, workload=name, setup_s=setup_s, first_call_s=first_s, rss_import_kb=rss_import,
                  rss_before_kb=rss_before, threads=pools,
                  peak_kb=measure.peak_kb(), peak_is_steps_only=peak_reset)
    if hasattr(runner, "trace_lower_s"):
        result["trace_lower_s"] = runner.trace_lower_s
        result["program"] = runner.summary()
    parts = getattr(runner, "breakdown", lambda: {})()
    if parts:
        part_settings = QUICK if quick else PARTS
        result["breakdown_s"] = {label: measure.time_step(fn, **part_settings)["median_s"]
                                 for label, fn in parts.items()}
    return result


def run_probe(tmp: Path, names: str) -> dict:
    """Cold or warm compile times (which one depends on the NUMBA_CACHE_DIR the parent set)."""
    out = {}
    import numba  # noqa: F401 - not part of the compiler's import time
    t0 = time.perf_counter()
    import micrograd.compiler.runtime  # noqa: F401 - the compiler and its kernels (decorated, not compiled)
    out["import_s"] = time.perf_counter() - t0
    from micrograd import nn
    t0 = time.perf_counter()
    micrograd.compiler.compile(nn.MLP(1, [1], rng=0))  # a tiny model: the first compile's one-time work
    out["first_compile_overhead_s"] = time.perf_counter() - t0
    for name in names:
        for impl in ("compiled", "compiled32"):
            runner = impls.make(impl, name, tmp / f"{name}.npz")
            entry = {"trace_lower_s": runner.trace_lower_s, "first_calls_s": {}}
            calls = {"timed step": runner.step, **runner.breakdown()}
            for label, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                first = time.perf_counter() - t0
                t0 = time.perf_counter()
                fn()
                # the first call's compile/load time, less what a warm call costs
                entry["first_calls_s"][label] = max(first - (time.perf_counter() - t0), 0.0)
            out[f"{impl}:{name}"] = entry
    return out


def write(result: dict, path: Path) -> None:
    path.write_text(json.dumps(result))
