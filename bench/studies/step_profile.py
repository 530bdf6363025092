"""Where a compiled step's time goes, next to the hand-fused kernel, in one process, interleaved.

    python -m bench.studies.step_profile [ABC] [--rounds N]

For each workload: the hand-fused step (BLAS 1 and 2 threads), the compiled ``fit`` per step,
``loss_and_grad`` and ``cm(X)`` per call, the hand-fused forward, and the compiled pieces alone:
``load`` (the input's transposition into the (slots, batch) layout), ``forward``, and ``loss_and_grad``
minus ``forward`` (loss + backward + L2). Rounds interleave every row (A B C A B C ...) so that they share
the machine's load; medians in microseconds. Not a benchmark (bench/run.py is): a profile to compare
changes back to back. Thread settings as the compiled path has them (micrograd/compiler/threads.py).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def blas_threads(n: int) -> None:
    """SciPy's BLAS (the one Numba's np.dot calls) on n threads; set around a timed block, not per call."""
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and "numpy" not in lib.filepath:
            lib.set_num_threads(n)


def timer(f, budget=0.02, threads=None):
    f()
    t = time.perf_counter()
    f()
    reps = max(1, int(budget / max(time.perf_counter() - t, 1e-7)))

    def once():
        if threads:
            blas_threads(threads)
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        dt = (time.perf_counter() - t0) / reps
        if threads:
            blas_threads(1)  # the compiled path's default (MICROGRAD_BLAS_THREADS)
        return dt

    return once


def rows(name: str) -> dict:
    from bench import impls
    from bench.references import handfused
    from micrograd.compiler import arguments, kernels

    wl = impls.load(name)
    steps = impls.STEPS_PER_FIT[name]
    cm, calls, model = impls.compiled(name, wl, epochs=steps)
    hand = handfused.Kernel(wl)
    prog = cm.training_program(wl.loss)
    X = np.ascontiguousarray(wl.X, np.float64)
    Y, _ = arguments.targets(wl.y, X.shape[0], wl.loss, cm.n_outputs, None, cm.dtype)
    rowsidx = np.arange(X.shape[0])
    code, leaves = prog.kernel_args
    V, G, gt = cm._buffers_for(prog, X.shape[0])
    calls["lag"]()

    out = {
        "hand step, BLAS 1": hand.step,
        "hand step, BLAS 2": (hand.step, 1, 2),
        "fit per step": (lambda: calls["fit"](), steps),
        "loss_and_grad": calls["lag"],
        "hand forward": hand.forward,
        "cm(X)": calls["fwd"],
        "kernel load": lambda: kernels.load(V, X, Y, rowsidx, leaves, cm.theta),
        "kernel load+forward": lambda: (
            kernels.load(V, X, Y, rowsidx, leaves, cm.theta),
            kernels.forward(code, cm.theta, V),
        ),
        "kernel loss_and_grad": lambda: kernels.loss_and_grad(
            code, leaves, cm.theta, X, Y, rowsidx, 1.0 / len(rowsidx), wl.l2, V, G, gt
        ),
        "kernel loss_and_grad, BLAS 2": (
            lambda: kernels.loss_and_grad(code, leaves, cm.theta, X, Y, rowsidx, 1.0 / len(rowsidx), wl.l2, V, G, gt),
            1,
            2,
        ),
    }
    if cm.chunks(prog, X.shape[0]) > 1:  # the parallel step fit runs for big layers (batch chunks, prange)
        out["step_chunks"] = lambda: cm._step(prog, X, Y, rowsidx, wl.l2)
    return {k: (v + (None,) * (3 - len(v)) if isinstance(v, tuple) else (v, 1, None)) for k, v in out.items()}


def main(argv) -> None:
    names = next((a for a in argv if not a.startswith("-")), "ABC")
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 9
    for name in names:
        rs = rows(name)
        timers = {k: (timer(f, threads=n), per) for k, (f, per, n) in rs.items()}
        vals = {k: [] for k in rs}
        for _ in range(rounds):
            for k, (t, per) in timers.items():
                vals[k].append(t() / per)
        med = {k: float(np.median(v)) * 1e6 for k, v in vals.items()}
        print(f"{name}: " + "  ".join(f"{k} {v:.1f}" for k, v in med.items()), flush=True)
        print(
            f"{name}: fit/hand1 {med['fit per step'] / med['hand step, BLAS 1']:.2f}  "
            f"fit/best-hand {med['fit per step'] / min(med['hand step, BLAS 1'], med['hand step, BLAS 2']):.2f}  "
            f"lag/best-hand {med['loss_and_grad'] / min(med['hand step, BLAS 1'], med['hand step, BLAS 2']):.2f}  "
            f"cm(X)-hand fwd {med['cm(X)'] - med['hand forward']:.1f} us  "
            f"backward+loss {med['kernel loss_and_grad'] - med['kernel load+forward']:.1f} us",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
