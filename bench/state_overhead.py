"""Per-call Python work of cm(X) / loss_and_grad / fit with the kernels stubbed out (no Numba), for callgrind:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/state_overhead.py lg 201   # minus ... lg 1

docs/compiled-model-state.md quotes the difference / 200 before and after the one-state design.
"""
import sys, types, random
import numpy as np
stub = types.ModuleType("micrograd.compiler.kernels")
stub.SGD, stub.ADAM = 0, 1
stub.fit = lambda *a: -1
stub.load = lambda *a: None
stub.forward = lambda *a: -1
stub.step_chunks = lambda *a: (0.0, -1)
stub.update = lambda *a: None
stub.batch_bounds = lambda s, N, bs: (0, bs)
sys.modules["micrograd.compiler.kernels"] = stub
import micrograd
from micrograd.compiler import runtime
runtime.limit_blas_threads = lambda: None
runtime._blas_limited = True
from micrograd import nn, optim
from micrograd.data import make_moons
X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
m = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
cm = micrograd.compile(m)
opt = optim.SGD(m.parameters(), lr=0.0)
what, n = sys.argv[1], int(sys.argv[2])
cm.loss_and_grad(X, y, "hinge", 1e-4); cm(X); cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, shuffle=False, l2=1e-4)
for _ in range(n):
    if what == "lg": cm.loss_and_grad(X, y, "hinge", 1e-4)
    elif what == "call": cm(X)
    else: cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, shuffle=False, l2=1e-4)
