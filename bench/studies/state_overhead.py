"""Per-call Python work of cm(X) / loss_and_grad / fit on the moons workload, kernels stubbed out (no Numba).

For instruction counts, which a busy machine does not change (two runs, the difference / 200):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m bench.studies.state_overhead lg 201
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m bench.studies.state_overhead lg 1

(``lg``, ``call`` or ``fit``). docs/compiled-model-state.md quotes what the one-state design (parameters
bound to the compiled vector, argument checks, the lock) costs per call.
"""

import random
import sys
import types

stub = types.ModuleType("micrograd.compiler.kernels")  # every kernel a no-op that reports success
stub.SGD, stub.ADAM = 0, 1
stub.fit = stub.forward = lambda *a: -1
stub.load = stub.update = lambda *a: None
stub.step_chunks = lambda *a: (0.0, -1)
stub.batch_bounds = lambda s, N, bs: (0, bs)
sys.modules["micrograd.compiler.kernels"] = stub

import micrograd  # noqa: E402 - after the stub
from micrograd import nn, optim  # noqa: E402
from micrograd.compiler import threads  # noqa: E402
from micrograd.data import make_moons  # noqa: E402

threads.limit_blas_threads = lambda: None
X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
model = nn.MLP(2, [16, 16, 1], rng=random.Random(1337))
cm = micrograd.compile(model)
opt = optim.SGD(model.parameters(), lr=0.0)
calls = {
    "lg": lambda: cm.loss_and_grad(X, y, "hinge", 1e-4),
    "call": lambda: cm(X),
    "fit": lambda: cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, shuffle=False, l2=1e-4),
}
for fn in calls.values():  # build programs and buffers first
    fn()
what, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    calls[what]()
