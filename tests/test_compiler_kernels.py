"""The kernels: every op of the table has a forward and a backward branch (generated into opkernels.py, see
tests/test_compiler_gen_opkernels.py) that calls the table's functions; unknown opcodes are reported; the
runtime passes the kernels the argument types they pass each other."""

import numpy as np
import pytest

from micrograd import ops
from micrograd.compiler import kernels
from micrograd.compiler.gen_opkernels import COMMAND
from tests.op_cases import CASES

MISSING = "no {} branch for {}: run " + COMMAND


def U(*offsets):
    """Offsets as the kernels pass them (unsigned, see kernels.vec_forward)."""
    return [np.uint64(o) for o in offsets]


def sample(case, n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(*case.x, n)
    y = rng.uniform(*case.y, n) if case.arity == 2 else np.zeros(n)
    keep = [case.valid(a, b, case.arg) for a, b in zip(x, y)]
    return x[keep], y[keep]


def test_every_op_has_a_case():
    assert sorted(CASES) == sorted(op.name for op in ops.OPS)


@pytest.mark.parametrize("op", ops.OPS, ids=lambda op: op.name)
def test_every_op_runs_the_table_functions_in_the_kernels(op):
    case = CASES[op.name]
    x, y = sample(case)
    m = len(x)
    V = np.concatenate([x, y, np.full(m, -12345.0)])  # slots: x at 0, y at m, out at 2m
    assert kernels.vec_forward(op.code, V, *U(0, m, 2 * m, m), case.arg), MISSING.format("forward", op.name)
    want = [op.forward(a, b, case.arg) for a, b in zip(x, y)]
    np.testing.assert_allclose(V[2 * m :], want, rtol=1e-15, atol=0)
    gout = np.linspace(0.5, 2.0, m)
    G = np.concatenate([np.full(m, 0.25), np.full(m, -0.5), gout])
    assert kernels.vec_backward(op.code, V, G, *U(0, m, 2 * m, m), case.arg), MISSING.format("backward", op.name)
    d = np.array([op.backward(a, b, case.arg, o) for a, b, o in zip(x, y, V[2 * m :])])
    np.testing.assert_allclose(G[:m], 0.25 + d[:, 0] * gout, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(G[m : 2 * m], -0.5 + (d[:, 1] * gout if op.arity == 2 else 0.0), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("op", ops.OPS, ids=lambda op: op.name)
def test_every_op_runs_the_table_functions_in_the_scalar_path(op):
    # the one-element path (scalar graphs on one example) has its own branch per op
    case = CASES[op.name]
    for a, b in zip(*sample(case, n=8, seed=1)):
        out, known = kernels.scalar_forward(op.code, a, b, case.arg)
        assert known, MISSING.format("scalar forward", op.name)
        assert out == op.forward(a, b, case.arg) or (np.isnan(out) and np.isnan(op.forward(a, b, case.arg)))
        dx, dy, known = kernels.scalar_backward(op.code, a, b, case.arg, out)
        assert known, MISSING.format("scalar backward", op.name)
        want = op.backward(a, b, case.arg, out)
        assert dx == want[0] and (op.arity == 1 or dy == want[1])


def test_unknown_opcodes_are_refused_not_zero():
    assert not kernels.scalar_forward(len(ops.OPS) + 5, 1.0, 2.0, 0.0)[1]
    assert not kernels.scalar_backward(-3, 1.0, 2.0, 0.0, 3.0)[2]
    V, G = np.ones(3), np.zeros(3)
    assert not kernels.vec_forward(len(ops.OPS) + 5, V, *U(0, 1, 2, 1), 0.0)
    assert not kernels.vec_backward(-3, V, G, *U(0, 1, 2, 1), 0.0)
    assert V[2] == 1.0 and not G.any()


def test_python_calls_pass_the_types_the_kernels_pass_each_other(monkeypatch):
    # Numba compiles a kernel once per distinct argument types. The runtime's calls must pass what the
    # kernels pass their callees (fit -> loss_and_grad -> load/forward, fit -> update): plain tuples, not
    # NamedTuples (4 us of dispatch each), and the same optimizer field types for SGD and Adam; otherwise
    # cm.loss_and_grad or cm(X) would compile a second copy of what fit already compiled.
    import random

    from numba import typeof, types

    import micrograd
    from micrograd import nn, optim

    seen: dict = {}
    m = nn.MLP(2, [4, 1], rng=random.Random(0))
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.sign(X[:, 0])
    # compile (or load) the real kernels first: compiled after the patch, fit would see the Python wrappers
    micrograd.compile(m).fit(X, y, optimizer=optim.SGD(m.parameters(), lr=0.0), epochs=1)

    def recording(name, kernel):
        def record(*args):
            seen.setdefault(name, []).append([typeof(a) for a in args])
            return kernel(*args)

        return record

    for name in ("fit", "loss_and_grad", "load", "forward", "update"):
        monkeypatch.setattr(kernels, name, recording(name, getattr(kernels, name)))
    cm = micrograd.compile(m)
    cm.fit(X, y, optimizer=optim.SGD(m.parameters(), lr=0.1, momentum=0.9), epochs=2, batch_size=3)
    cm.fit(X, y, optimizer=optim.Adam(m.parameters(), lr=0.01, weight_decay=0), epochs=1)
    cm.loss_and_grad(X, y, l2=1e-3)
    cm(X)
    every = [t for calls in seen.values() for args in calls for t in args]
    assert not [t for t in every if isinstance(t, (types.NamedTuple, types.NamedUniTuple))]
    fits, (lg,) = seen["fit"], seen["loss_and_grad"]
    assert len(fits) >= 2 and all(f == fits[0] for f in fits)  # SGD and Adam, every chunk of steps
    code, leaves, theta, X_t, Y_t, order, _, opt, plan, _, buffers, gtheta = fits[0]
    assert plan == typeof(tuple(kernels.Plan(0, 1, 0, 3, 0.0, 0.0)))
    assert lg == [code, leaves, theta, X_t, Y_t, order, types.float64, types.float64, buffers[0], buffers[1], gtheta]
    assert seen["forward"][0][0] == code and seen["load"][0][4] == leaves
    assert order == typeof(np.arange(3)[0:2])  # fit passes its callees slices of `order`
