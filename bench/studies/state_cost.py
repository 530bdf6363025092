"""What the one-state rule costs (docs/compiled-model-state.md): run on a quiet machine.

    python -m bench.studies.state_cost                 # or: --callgrind N OP (instruction counts)

Prints, with timeit (best of 7 repeats, per operation):
- the lock every compiled call takes (uncontended ``with threading.Lock()``) and the stale test;
- ``p.data`` / ``p.grad += g`` / ``w * x`` on a plain parameter Value and on a bound one;
- a Value-path training step of micrograd's moons MLP 2-16-16-1 on 16 examples, plain and bound;
- ``cm.loss_and_grad`` and ``cm.fit(epochs=1)`` per call on the moons workload (batch 100, hinge + L2).
"""

from __future__ import annotations

import random
import sys
import threading
import timeit

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.engine import Value


def best(fn, number: int) -> float:
    """Seconds per call: the best of 7 repeats of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number


def value_step(model, X, y):
    opt = optim.SGD(model.parameters(), lr=0.0)

    def step():
        total = losses.batch_loss(losses.hinge, [model([Value(float(v)) for v in x]) for x in X], list(y))
        model.zero_grad()
        total.backward()
        opt.step()

    return step


def main() -> None:
    rows = []
    lock = threading.Lock()

    def locked():
        with lock:
            pass

    rows.append(("with lock: pass (uncontended)", best(locked, 200_000)))
    X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
    plain = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
    bound = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
    cm = micrograd.compile(bound)
    b = cm._binding
    rows.append(("stale test (if b.stale)", best(lambda: b.stale, 200_000)))
    x = Value(0.5)
    for name, model in (("plain", plain), ("bound", bound)):
        w = model.parameters()[0]

        def add_grad(w=w):
            w.grad += 0.5

        rows.append((f"p.data, {name}", best(lambda w=w: w.data, 200_000)))
        rows.append((f"p.grad += g, {name}", best(add_grad, 200_000)))
        rows.append((f"w * x, {name}", best(lambda w=w: w * x, 100_000)))
        rows.append((f"Value-path step 2-16-16-1 x 16, {name}", best(value_step(model, X[:16], y[:16]), 3)))
    opt = optim.SGD(bound.parameters(), lr=0.0)
    cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, l2=1e-4)  # compile the kernels first
    rows.append(("cm.loss_and_grad, moons batch 100", best(lambda: cm.loss_and_grad(X, y, "hinge", 1e-4), 2_000)))
    rows.append(
        (
            "cm.fit(epochs=1), moons batch 100",
            best(lambda: cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, shuffle=False, l2=1e-4), 2_000),
        )
    )
    rows.append(("cm(X), moons batch 100", best(lambda: cm(X), 2_000)))
    for name, sec in rows:
        print(f"{name:45s} {sec * 1e9:12.0f} ns")


def callgrind(n: int) -> None:
    """n iterations of one operation (argv: --callgrind N OP), for instruction counts under valgrind."""
    op = sys.argv[3]
    model = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
    if op.endswith("bound"):
        micrograd.compile(model)
    X, y = make_moons(16, noise=0.1, rng=0, labels="pm1")
    lock = threading.Lock()
    step = value_step(model, X, y)
    for _ in range(n):
        if op == "lock":
            with lock:
                pass
        else:
            step()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--callgrind":
        callgrind(int(sys.argv[2]))
    else:
        main()
