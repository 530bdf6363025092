"""Cold compile of the float64 training kernels: the moons MLP 2-16-16-1 from an empty Numba cache.

    python -m bench.studies.cold_compile [REPO ...] [--runs N]

Each run is a fresh process with a fresh ``NUMBA_CACHE_DIR`` and ``PYTHONPATH=REPO``: it compiles the
model, then times one ``fit`` (one epoch, SGD), one ``loss_and_grad`` and one ``cm(X)``, each first call
being almost all JIT time. Several repos run interleaved (A B A B ...), so a before/after comparison
shares the machine's load; both wall and process CPU seconds are printed (CPU time is the steadier on a
busy machine). Run it on a quiet machine for numbers worth quoting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, random, time
t = time.perf_counter(); c = time.process_time()
marks = {}
def mark(name):
    global t, c
    marks[name] = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
import numpy as np
import micrograd
from micrograd import nn, optim
from micrograd.data import make_moons
mark("import")
X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
model = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
cm = micrograd.compile(model)
mark("compile")
cm.fit(X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, l2=1e-4)
mark("fit")
cm.loss_and_grad(X, y, loss="hinge", l2=1e-4)
mark("loss_and_grad")
cm(X)
mark("call")
from micrograd.compiler import kernels
fns = [f for f in vars(kernels).values() if hasattr(f, "signatures")]  # opkernels' are imported there
marks["compiled twice"] = sorted({f.__name__ for f in fns if len(f.signatures) > 1})
print(json.dumps(marks))
"""


def run(repo: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=os.path.abspath(repo))
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True, cwd=cache
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv) -> None:
    runs = 2
    if "--runs" in argv:
        i = argv.index("--runs")
        runs = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    repos = argv or ["."]
    for r in range(runs):
        for repo in repos:
            marks = run(repo)
            kernels = sum(marks[k][0] for k in ("fit", "loss_and_grad", "call"))
            kcpu = sum(marks[k][1] for k in ("fit", "loss_and_grad", "call"))
            twice = marks.pop("compiled twice")
            detail = "  ".join(f"{k} {w:.2f}s/{c:.2f}s" for k, (w, c) in marks.items())
            detail += f"  compiled twice: {twice or 'none'}"
            print(f"run {r + 1} {repo}: kernels {kernels:.2f} s wall, {kcpu:.2f} s cpu  ({detail})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
