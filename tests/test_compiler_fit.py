"""cm.fit equals a Value-path training loop step by step: the moons demo, SGD with momentum, Adam, float32."""

import random

import numpy as np
import pytest

import micrograd
from micrograd import nn, optim
from micrograd.data import make_moons
from tests.value_oracle import assert_close, twin_models, value_loop


@pytest.mark.slow
def test_moons_demo_loss_curve_matches_value_path():
    """micrograd's demo: MLP(2,[16,16,1]) with its 1337 weights, hinge + 1e-4 L2, SGD 1.0 - 0.9k/100, 100
    full-batch steps. 16 of the 100 samples keep the Value path's share of the suite to a few seconds."""
    X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
    X, y = X[:16], y[:16]
    ref, fast = twin_models(lambda: nn.MLP(2, [16, 16, 1], rng=random.Random(1337)))

    def schedule(k):
        return 1.0 - 0.9 * k / 100

    want = value_loop(ref, optim.SGD(ref.parameters(), lr=schedule), X, y, "hinge", 1e-4, 100, 16, 0, False)
    got = micrograd.compile(fast).fit(
        X, y, loss="hinge", optimizer=optim.SGD(fast.parameters(), lr=schedule), epochs=100, shuffle=False, l2=1e-4
    )
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        [p.data for p in fast.parameters()], [p.data for p in ref.parameters()], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda ps: optim.SGD(ps, lr=lambda t: 0.2 / (1 + t), momentum=0.5, nesterov=True),
        lambda ps: optim.Adam(ps, lr=0.05, weight_decay=1e-2),
    ],
    ids=["sgd-momentum", "sgd-nesterov-schedule", "adam"],
)
def test_fit_matches_value_loop_with_minibatches_and_state(make_opt):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    ref, fast = twin_models(lambda: nn.MLP(3, [4, 3], activation="tanh", rng=random.Random(5)))
    opt_ref, opt_fast = make_opt(ref.parameters()), make_opt(fast.parameters())
    want = value_loop(ref, opt_ref, X, y, "cross_entropy", 1e-3, 3, 4, 7)  # batches 4, 4, 2
    cm = micrograd.compile(fast)
    got = cm.fit(X, y, loss="cross_entropy", optimizer=opt_fast, epochs=3, batch_size=4, rng=7, l2=1e-3)
    assert got.shape == (9,)
    assert_close(got, want, "loss history")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights")
    assert opt_fast.t == opt_ref.t == 9
    for name in ("momentum_buffer", "m", "v"):
        if hasattr(opt_ref, name):
            assert_close(getattr(opt_fast, name), getattr(opt_ref, name), name)
    # the state written back lets either path continue where the other stopped
    want2 = value_loop(ref, opt_ref, X, y, "cross_entropy", 0.0, 1, 10, 1)
    got2 = value_loop(fast, opt_fast, X, y, "cross_entropy", 0.0, 1, 10, 1)
    assert_close(got2, want2, "continued on the Value path")


@pytest.mark.slow
def test_float32_close_to_float64():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 4, 64)
    a, b = twin_models(lambda: nn.MLP(5, [8, 4], rng=random.Random(2)))
    c64, c32 = micrograd.compile(a), micrograd.compile(b, dtype=np.float32)
    assert c32.theta.dtype == np.float32
    np.testing.assert_allclose(c32(X), c64(X), rtol=1e-4, atol=1e-5)
    l64, g64 = c64.loss_and_grad(X, y, loss="cross_entropy", l2=1e-3)
    l32, g32 = c32.loss_and_grad(X, y, loss="cross_entropy", l2=1e-3)
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)
    h64 = c64.fit(X, y, "cross_entropy", optim.Adam(a.parameters(), lr=0.01), epochs=2, batch_size=16)
    h32 = c32.fit(X, y, "cross_entropy", optim.Adam(b.parameters(), lr=0.01), epochs=2, batch_size=16)
    np.testing.assert_allclose(h32, h64, rtol=1e-4)


@pytest.mark.slow
def test_blas_runs_on_more_threads_only_for_big_layers(monkeypatch):
    # OpenBLAS threads what is big enough; mid-sized products run on 1 thread, big ones on MICROGRAD_BLAS_THREADS,
    # set by the kernel for the calling thread around each product and put back after it
    import ctypes

    from micrograd.compiler import blas, codegen

    monkeypatch.setattr(blas, "BLAS_THREADS", 2)
    assert blas.threads_for(blas.OPENBLAS_THREADS_FROM - 1) == 0
    assert blas.threads_for(blas.PARALLEL_WORK - 1) == 1
    assert blas.threads_for(blas.PARALLEL_WORK) == 2
    cm = micrograd.compile(nn.MLP(784, [128, 10], rng=random.Random(0)))
    seen, count = [], [3]  # the calling thread's count: 3

    def setter(n):  # a stand-in for openblas_set_num_threads_local: returns the count it replaces
        seen.append(n)
        count[0], old = n, count[0]
        return old

    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(setter)
    cm._ctl[codegen.CTL_BLAS + 2] = ctypes.cast(callback, ctypes.c_void_p).value
    X = np.random.default_rng(0).normal(size=(256, 784))
    out = cm(X)
    assert seen == [2, 3, 2, 3] and count == [3]  # each product on 2 threads, then the caller's 3 again
    on_values = [[o.data for o in cm.model(x.tolist())] for x in X[:2]]
    np.testing.assert_allclose(out[:2], on_values, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "change",
    [
        lambda opt: setattr(opt, "momentum", 0.5),
        lambda opt: setattr(opt, "nesterov", True),
        lambda opt: setattr(opt, "momentum_buffer", [0.25] * len(opt.params)),
    ],
    ids=["momentum", "nesterov", "state-list"],
)
def test_an_optimizer_changed_between_fits_is_read_again(change):
    """fit reads the optimizer's hyper-parameters and state once per change of it (assignments are counted):
    a change between two fits takes effect, as it does for the Value path's step()."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 3, 8)
    ref, fast = twin_models(lambda: nn.MLP(3, [4, 3], rng=random.Random(6)))
    opt_ref, opt_fast = (optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ref, fast))
    cm = micrograd.compile(fast)
    want = value_loop(ref, opt_ref, X, y, "cross_entropy", 0.0, 2, 8, 0)
    got = [cm.fit(X, y, "cross_entropy", opt_fast, 1), cm.fit(X, y, "cross_entropy", opt_fast, 1)]
    change(opt_ref)
    change(opt_fast)
    want = np.append(want, value_loop(ref, opt_ref, X, y, "cross_entropy", 0.0, 1, 8, 0))
    got.append(cm.fit(X, y, "cross_entropy", opt_fast, 1))
    assert_close(np.concatenate(got), want, "loss history")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights")
    assert_close(opt_fast.momentum_buffer, opt_ref.momentum_buffer, "momentum buffers")
