"""CompiledModel (compiler.runtime): one call at a time from several threads, optimizers and losses that
describe themselves (the runtime names none of them), and its repr."""

import random
import sys
import threading

import numpy as np

import micrograd
from micrograd import losses, nn, optim
from micrograd.compiler import codegen
from micrograd.engine import Value
from tests.value_oracle import assert_close, moons_like, twin_models


def test_one_compiled_model_from_two_threads_gives_the_single_threaded_results():
    """Calls share buffers: a thread switch between two kernel calls (load, forward) or after a kernel
    (before its gradient is read) would mix two calls' data, so each call holds the model's lock."""
    rng = np.random.default_rng(0)
    m = nn.MLP(16, [32, 3], rng=random.Random(0))
    cm = micrograd.compile(m)
    batches = [(rng.normal(size=(512, 16)), rng.integers(0, 3, 512)) for _ in range(4)]
    want = [cm.loss_and_grad(X, y, loss="cross_entropy") for X, y in batches]
    want_out = [cm(X) for X, _ in batches]
    errors, start = [], threading.Barrier(2)

    def worker(k):
        start.wait()
        for _ in range(30):
            for i in range(k, len(batches), 2):
                X, y = batches[i]
                loss, grads = cm.loss_and_grad(X, y, loss="cross_entropy")
                out = cm(X)
                if loss != want[i][0] or not np.array_equal(grads, want[i][1]) or not np.array_equal(out, want_out[i]):
                    errors.append(i)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: after every kernel call
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_optimizers_and_losses_describe_themselves_to_the_runtime(monkeypatch):
    assert (optim.SGD.kernel_update, optim.Adam.kernel_update) == codegen.UPDATES
    import ast
    import inspect

    from micrograd.compiler import runtime

    tree = ast.parse(inspect.getsource(runtime))
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr)
    }
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docstrings}
    assert not names & {"isinstance", "optim", "Adam", "SCALAR_TARGET", "momentum_buffer"}
    assert not strings & {"mse", "cross_entropy", "bce_with_logits"}

    class HeavyBall(optim.SGD):  # a new optimizer: one class, the runtime needs nothing else
        def __init__(self, params, lr):
            super().__init__(params, lr, momentum=0.5)

    monkeypatch.setitem(losses.REGISTRY, "l1ish", losses.NamedLoss(lambda o, t: (o - t).softplus(), losses.PER_OUTPUT))
    X, y = moons_like()
    ref, fast = twin_models(lambda: nn.MLP(2, [3, 1], rng=random.Random(4)))
    o_ref = HeavyBall(ref.parameters(), lr=0.1)
    got = micrograd.compile(fast).fit(X, y, loss="l1ish", optimizer=HeavyBall(fast.parameters(), lr=0.1), epochs=3)
    want = []
    for _ in range(3):
        total = losses.batch_loss(losses.REGISTRY["l1ish"].fn, [ref([Value(float(v)) for v in x]) for x in X], list(y))
        ref.zero_grad()
        total.backward()
        o_ref.step()
        want.append(total.data)
    assert_close(got, want)
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()])


def test_compiled_model_repr_shows_model_size_dtype_and_what_its_kernels_hold():
    cm = micrograd.compile(nn.MLP(2, [16, 16, 1], rng=0), dtype=np.float32)
    head = "<CompiledModel of MLP: 2 -> 1, 5 instructions {'relu': 2, 'dense': 3}, 337 parameters, float32; kernels: "
    assert repr(cm) == head + "none compiled yet>"
    cm.fit(np.zeros((4, 2)), np.ones(4), loss="hinge", optimizer=optim.SGD(cm.params, lr=0.1))
    assert repr(cm) == head + "relu, loss hinge, training (sgd)>"
    cm(np.zeros((2, 2)))
    assert cm.kernels() == "relu, loss hinge, training (sgd); relu"
    p = Value(1.0)
    assert repr(micrograd.compile(lambda xs: [xs[0] * p, xs[0]], n_inputs=1, params=[p])).startswith(
        "<CompiledModel of test_compiled_model_repr_shows_model_size_dtype_and_what_its_kernels_hold.<locals>."
    )
