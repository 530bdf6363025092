"""Where a compiled step's time goes, next to the hand-fused kernel, in one process, interleaved.

    python -m bench.studies.step_profile [ABC] [--rounds N]

For each workload: the hand-fused step and forward, the compiled ``fit`` per step, one
``fit(epochs=1)`` call, ``loss_and_grad`` and ``cm(X)`` per call, and the compiled kernel called as
the runtime calls it (``_run`` in each mode, no argument checks; FIT also for one step, as
``fit(epochs=1)`` runs it). Rounds interleave every row so they share the machine's load; medians in
microseconds, and each row's ratio to the hand-fused step. Not a benchmark (bench/run.py is): a
profile to compare changes back to back.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timer(f, budget=0.02):
    f()
    t = time.perf_counter()
    f()
    reps = max(1, int(budget / max(time.perf_counter() - t, 1e-7)))

    def once():
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        return (time.perf_counter() - t0) / reps

    return once


def rows(name: str) -> dict:
    import micrograd
    from bench.references import handfused
    from bench.workloads import BUILDERS, build_model
    from micrograd import optim
    from micrograd.compiler.codegen import FIT, FORWARD, GRAD

    wl = BUILDERS[name]()
    hand = handfused.Kernel(wl)
    model = build_model(wl)
    cm = micrograd.compile(model)
    opt = optim.SGD(model.parameters(), lr=wl.lr)
    X, y, N = wl.X, wl.y, wl.batch
    steps = {"A": 200, "B": 100, "C": 20}[name]

    def fit():
        cm.fit(X, y, loss=wl.loss, optimizer=opt, epochs=steps, batch_size=N, shuffle=False, l2=wl.l2)

    fit()
    cm(X)
    cm.loss_and_grad(X, y, loss=wl.loss, l2=wl.l2)
    prog = cm.training_program(wl.loss)
    Y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(N, -1))
    plans = {mode: next(p for k, p in cm._plans.items() if k[0] == id(pr) and k[3] == train and k[4] == upd)
             for mode, pr, train, upd in ((FORWARD, cm.program, False, None), (GRAD, prog, True, None),
                                          (FIT, prog, True, "sgd"))}  # fmt: skip
    out = np.empty((N, cm.n_outputs))
    hs = np.empty((2, steps))
    hs[0] = wl.lr
    st = opt.kernel_state(16)

    def raw(mode, p, s1):  # the kernel call as the runtime makes it (BLAS threads included), no argument checks
        plan, Yk = plans[mode], (Y if mode else X[:, :0])
        hist, state = (hs, st) if mode == FIT else (cm._hs, cm._st)
        return lambda: cm._run(plan, mode, p, X, Yk, cm._no_order, out, hist, state, 0, s1, N, 0, 0, 0)

    return {
        "hand step": (timer(hand.step), 1),
        "hand forward": (timer(hand.forward), 1),
        "fit per step": (timer(fit), steps),
        "fit(epochs=1)": (
            timer(lambda: cm.fit(X, y, loss=wl.loss, optimizer=opt, epochs=1, batch_size=N, shuffle=False, l2=wl.l2)),
            1,
        ),  # fmt: skip
        "loss_and_grad": (timer(lambda: cm.loss_and_grad(X, y, loss=wl.loss, l2=wl.l2)), 1),
        "cm(X)": (timer(lambda: cm(X)), 1),
        "kernel FIT per step": (timer(raw(FIT, prog, steps)), steps),
        "kernel FIT, one step": (timer(raw(FIT, prog, 1)), 1),
        "kernel GRAD": (timer(raw(GRAD, prog, 1)), 1),
        "kernel FORWARD": (timer(raw(FORWARD, cm.program, 1)), 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="?", default="ABC")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    for name in args.workloads:
        timed = rows(name)
        seen: dict = {k: [] for k in timed}
        for _ in range(args.rounds):
            for k, (once, per) in timed.items():
                seen[k].append(once() / per)
        med = {k: float(np.median(v)) * 1e6 for k, v in seen.items()}
        hand = med["hand step"]
        print(f"{name}:")
        for k, v in med.items():
            print(f"  {k:22s} {v:10.1f} us  {v / hand:5.2f}x hand step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
