"""What fit's chunks cost (micrograd.training: compiled steps in chunks of ~CHUNK_S, Ctrl-C checked between).

    python -m bench.studies.fit_chunks [--rounds N]

On workload A (moons 2-16-16-1, batch 100, full-batch SGD, as bench/run.py's `fit` row): the step time
in 200-step `fit` calls as fit runs them (a first chunk of FIRST_CHUNK steps, then chunks sized to
CHUNK_S) and in one chunk; 2,000 steps in chunks of one step (what one chunk costs: the Python between
two compiled calls); one `fit(epochs=1)` call; and the chunk size CHUNK_S gives. Rounds interleave the
rows; minima of the rounds (a busy machine only adds), in microseconds. Not a benchmark (bench/run.py is).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(argv) -> None:
    from bench import impls
    from micrograd import optim, training

    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 15
    wl = impls.load("A")
    steps = impls.STEPS_PER_FIT["A"]
    cm, calls, model = impls.compiled("A", wl, epochs=steps)
    opt = optim.SGD(model.parameters(), lr=0.0)  # lr 0: the same weights in every round

    def fit(epochs):
        return cm.fit(wl.X, wl.y, loss=wl.loss, optimizer=opt, epochs=epochs, shuffle=False, l2=wl.l2)

    def with_chunks(first, chunk_s, epochs):
        def run():
            saved = training.FIRST_CHUNK, training.CHUNK_S
            training.FIRST_CHUNK, training.CHUNK_S = first, chunk_s
            try:
                fit(epochs)
            finally:
                training.FIRST_CHUNK, training.CHUNK_S = saved

        return run

    rows = {
        "200-step fit, per step": (lambda: fit(steps), steps, 20),
        "200-step fit in one chunk, per step": (with_chunks(10**9, training.CHUNK_S, steps), steps, 20),
        "chunks of 1 step, per step": (with_chunks(1, 0.0, 2000), 2000, 2),
        "one fit(epochs=1) call": (lambda: fit(1), 1, 400),
    }
    for f, _, _ in rows.values():
        f()
    best = {k: np.inf for k in rows}
    for _ in range(rounds):
        for k, (f, per, reps) in rows.items():
            t = time.perf_counter()
            for _ in range(reps):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / reps / per * 1e6)
    for k, v in best.items():
        print(f"{k:40s} {v:8.2f} us")
    one = best["200-step fit in one chunk, per step"]
    per_chunk = best["chunks of 1 step, per step"] - one
    chunk = int(training.CHUNK_S / (one * 1e-6))
    print(f"one chunk costs {per_chunk:.1f} us; CHUNK_S={training.CHUNK_S} s gives chunks of ~{chunk} steps here: "
          f"{per_chunk / chunk / one:.4%} of a step")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
