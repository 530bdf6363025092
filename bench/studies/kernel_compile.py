"""How long a kernel takes to compile from an empty cache, by its features: each in a fresh process.

    python -m bench.studies.kernel_compile [--repeat N] [SET ...]

SET is ``moons`` (relu, loss:hinge, train, sgd), ``full`` (every feature) or a comma-separated list of
features (``python -m micrograd.compiler.codegen nothing`` names them). Each process, with an empty
``NUMBA_CACHE_DIR``, runs a small MLP's forward through a kernel holding the set (its own needs and the
set) and prints the seconds of that first call, how many of them CPython's cyclic collector took (and
in how many full passes), then the slowest functions Numba compiled inside it: ``run`` and its callees
(``forward_op``, ``forward_scalars``, the losses, ...), each with its own time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

SETS = {"moons": "relu,loss:hinge,train,sgd", "full": "FULL"}


def child(features: str) -> None:
    import gc
    import random

    import numpy as np
    from numba.core import event

    import micrograd
    from micrograd import nn
    from micrograd.compiler import codegen

    times: list = []

    class Timer(event.Listener):
        def __init__(self):
            self.started: list = []

        def on_start(self, ev):
            self.started.append(time.perf_counter())

        def on_end(self, ev):
            fn = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
            times.append((time.perf_counter() - self.started.pop(), getattr(fn, "__name__", "?")))

    event.register("numba:compile", Timer())
    collected = [0.0, 0, 0.0]  # seconds collecting, full passes, when the pass running began

    def collector(phase, info):
        if phase == "start":
            collected[2] = time.perf_counter()
        else:
            collected[0] += time.perf_counter() - collected[2]
            collected[1] += info["generation"] == 2

    gc.callbacks.append(collector)
    extra = codegen.FULL if features == "FULL" else frozenset(features.split(","))
    needs = codegen.features
    codegen.features = lambda *a, **k: needs(*a, **k) | extra  # every kernel of this process holds the set
    cm = micrograd.compile(nn.MLP(2, [4, 1], rng=random.Random(0)))
    t0 = time.perf_counter()
    cm(np.zeros((3, 2)))
    top = ", ".join(f"{name} {s:.2f}" for s, name in sorted(times, reverse=True)[:6])
    seconds = time.perf_counter() - t0
    print(f"{seconds:.2f} s, collector {collected[0]:.2f} s in {collected[1]} full passes  ({top})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.studies.kernel_compile", description=__doc__.split("\n")[0])
    p.add_argument("sets", nargs="*", default=["moons", "full"])
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for name in args.sets:
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
                command = [sys.executable, "-m", "bench.studies.kernel_compile", "--child", SETS.get(name, name)]
                r = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
                print(f"{name}: {r.stdout.strip() or r.stderr.strip()[-500:]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
