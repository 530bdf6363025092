"""One-shot measurements, each in a fresh process: compile and start-up time, memory, trace + lower.

    python bench/probes.py PROBE --json OUT [--only ABCD] [--sizes 784-128-10,...]

``run.py`` starts each probe in its own process (a fresh interpreter, so
imports, caches and memory start from nothing) and picks the
``NUMBA_CACHE_DIR``: an empty folder for a cold probe, the same folder again
for the warm one. Probes use the compiled path's public API only
(``compile``, ``cm(X)``, ``cm.loss_and_grad``, ``cm.fit``).

- ``start``: a new user's first run: ``import micrograd``, build the moons
  model (2-16-16-1) and data, then time ``compile(model)`` plus its first
  ``fit`` (one epoch, full batch). What the process prints is kept by the parent.
- ``kernels``: the first call of every entry point (``fit``, ``loss_and_grad``,
  ``cm(X)``) on every workload, float64 and float32 (``--dtypes``), in that order. Each is
  timed on a model compiled twice: the first call on the twin (a second
  ``compile`` of the same model, after the first) lowers its training program
  and allocates as the first did, but finds the kernels already in memory, so
  ``first - twin`` is the kernel compile (cold cache) or cache load (warm).
- ``memory``: resident memory of a 784-128-10 through building, ``compile()``
  and the first ``fit`` (each stage's peak too), measured after a tiny model with
  the same kernel features (relu, cross_entropy, SGD) has run, so Numba's runtime
  and the kernel are already loaded; ``beyond_the_model`` is what ``compile()`` and
  the first ``fit`` hold. ``memory-numpy`` the same for NumPy by hand.
- ``trace``: ``compile()`` (trace + lower) of MLPs of the given sizes: time,
  resident and peak memory, graph nodes (every Value of the traced graph:
  inputs, parameters, ops) per second and bytes per node.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench import measure

TRACE_SIZES = ("784-128-10", "784-512-10", "784-512-512-10")


def start() -> dict:
    t0 = time.perf_counter()
    import micrograd
    from micrograd import data, nn, optim

    import_s = time.perf_counter() - t0
    X, y = data.make_moons(100, noise=0.1, rng=np.random.default_rng(1))
    y = np.where(y > 0, 1.0, -1.0)
    model = nn.MLP(2, [16, 16, 1], rng=0)
    t0 = time.perf_counter()
    cm = micrograd.compile(model)
    t1 = time.perf_counter()
    cm.fit(X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=0.05), epochs=1, l2=1e-4)
    t2 = time.perf_counter()
    return {"import_s": import_s, "compile_s": t1 - t0, "first_fit_s": t2 - t1, "total_s": t2 - t0}


def _first(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def kernels(names: str, dtypes=("float64", "float32")) -> dict:
    from bench import impls

    t0 = time.perf_counter()
    importlib.import_module("numba")
    importlib.import_module("micrograd.compiler")

    out = {"import_s": time.perf_counter() - t0, "rows": []}
    for name in names:
        wl = impls.load(name)
        for dtype in map(np.dtype, dtypes):
            _, calls, _ = impls.compiled(name, wl, dtype)
            _, twin, _ = impls.compiled(name, wl, dtype)
            for entry in calls:
                first = _first(calls[entry])
                again = _first(twin[entry])
                out["rows"].append(
                    {
                        "workload": name,
                        "dtype": np.dtype(dtype).name,
                        "entry": entry,
                        "first_s": first,
                        "twin_s": again,
                        "kernels_s": max(first - again, 0.0),
                    }
                )
    return out


def _warm_runtime(micrograd, nn, optim) -> None:
    """Load Numba's runtime and workload C's kernel: a tiny MLP with relu, cross_entropy, fit with SGD."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32).astype(np.int64)
    tiny = nn.MLP(4, [5, 3], rng=0)
    cm = micrograd.compile(tiny)
    cm.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(tiny.parameters(), lr=0.01), epochs=1, batch_size=16,
           shuffle=False)  # fmt: skip


def memory() -> dict:
    import micrograd
    from bench.workloads import BUILDERS, build_model
    from micrograd import nn, optim

    wl = BUILDERS["C"]()
    _warm_runtime(micrograd, nn, optim)
    gc.collect()
    stages = {"imports, arrays and the runtime": measure.rss_bytes()}
    model = build_model(wl)
    gc.collect()
    stages["after building the model"] = measure.rss_bytes()
    peak_ok = measure.reset_peak()
    cm = micrograd.compile(model)
    gc.collect()
    stages["after compile()"] = measure.rss_bytes()
    peaks = {"compile()": measure.peak_bytes()}
    measure.reset_peak()
    cm.fit(
        wl.X,
        wl.y,
        loss=wl.loss,
        optimizer=optim.SGD(model.parameters(), lr=wl.lr),
        epochs=1,
        batch_size=wl.batch,
        shuffle=False,
    )
    gc.collect()
    stages["after the first fit"] = measure.rss_bytes()
    peaks["the first fit"] = measure.peak_bytes()
    base = stages["after building the model"]
    return {
        "stages": stages,
        "peaks": peaks,
        "peak_is_this_stage": peak_ok,
        "beyond_the_model": stages["after the first fit"] - base,
        "peak_beyond_the_model": max(peaks.values()) - base,
        "peak": measure.peak_bytes(),
        "n_params": wl.n_params,
    }


def memory_numpy() -> dict:
    from bench.references import numpy_ref
    from bench.workloads import BUILDERS

    wl = BUILDERS["C"]()
    gc.collect()
    stages = {"imports and arrays": measure.rss_bytes()}
    step = numpy_ref.Step(wl)
    stages["after building the model"] = measure.rss_bytes()
    step()
    stages["after the first step"] = measure.rss_bytes()
    return {"stages": stages, "peak": measure.peak_bytes(), "n_params": wl.n_params}


def trace(sizes: str) -> dict:
    import micrograd
    import micrograd.compiler
    from micrograd import nn
    from micrograd.engine import Value, topological_order

    dims = [int(s) for s in sizes.split("-")]
    model = nn.MLP(dims[0], dims[1:], rng=0)
    micrograd.compile(nn.MLP(2, [2, 1], rng=0))  # a first compile's one-time work (imports), not timed
    gc.collect()
    before = measure.rss_bytes()
    peak_ok = measure.reset_peak()
    t0 = time.perf_counter()
    cm = micrograd.compile(model)
    seconds = time.perf_counter() - t0
    after, peak = measure.rss_bytes(), measure.peak_bytes()
    del cm
    gc.collect()
    outputs = model([Value(0.5) for _ in range(dims[0])])
    nodes = len(topological_order(outputs if isinstance(outputs, list) else [outputs]))
    return {
        "sizes": sizes,
        "seconds": seconds,
        "nodes": nodes,
        "nodes_per_s": nodes / seconds,
        "retained_bytes": after - before,
        "peak_bytes": peak - before,
        "peak_is_this_stage": peak_ok,
        "bytes_per_node": (peak - before) / nodes,
        "n_params": len(model.parameters()),
    }


def suite() -> dict:
    """The test suite with the plugin bench/studies/suite_kernels.py in this process's NUMBA_CACHE_DIR (the
    caller gives an empty one): the seconds its process spent compiling, cold."""
    import re
    import subprocess

    root = Path(__file__).resolve().parent.parent
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "bench.studies.suite_kernels", "-m", "not system", "tests"],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    found = re.search(r"numba compiled (\d+) functions in ([\d.]+) s .*?([\d.]+) s of it in the collector", r.stdout)
    if not found:
        raise RuntimeError(f"the suite did not report its compile time (exit {r.returncode}): {r.stdout[-2000:]}")
    return {"functions": int(found.group(1)), "compile_s": float(found.group(2)), "collector_s": float(found.group(3)),
            "suite_s": time.perf_counter() - t0,
            "exit": r.returncode}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/probes.py", description=__doc__.split("\n")[0])
    p.add_argument("probe", choices=("start", "kernels", "memory", "memory-numpy", "trace", "suite"))
    p.add_argument("--json", type=Path, required=True, help="where to write the result")
    p.add_argument("--only", default="ABCD", help="workloads of the kernels probe")
    p.add_argument("--dtypes", default="float64,float32", help="dtypes of the kernels probe")
    p.add_argument("--sizes", default="784-128-10", help="the trace probe's MLP, e.g. 784-512-10")
    args = p.parse_args(argv)
    run = {
        "start": start,
        "kernels": lambda: kernels(args.only, args.dtypes.split(",")),
        "suite": suite,
        "memory": memory,
        "memory-numpy": memory_numpy,
        "trace": lambda: trace(args.sizes),
    }[args.probe]
    args.json.write_text(json.dumps(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
