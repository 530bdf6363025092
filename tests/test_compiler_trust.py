"""The compiled path never silently disagrees with the model (issue 8 items 1, 4-8; issue 11 items 1, 12).

The Value path is the oracle: the same model trained the same way on Values.
"""

import copy
import pickle
import random
import sys
import threading

import numpy as np
import pytest
from test_compiler_equivalence import assert_close, value_path
from test_compiler_fit import twin_models, value_loop

import micrograd
from micrograd import losses, nn, optim
from micrograd.compiler import kernels
from micrograd.engine import Value


def moons_like(N=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 2))
    return X, np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)


def outputs_on_values(model, X):
    return np.array([[model([Value(float(v)) for v in x]).data] for x in X])


# ---------------------------------------------------------------- item 1: one state, the model's
def test_fit_with_zero_epochs_keeps_the_models_weights():
    """The issue's reproducer: fit used to start from (and write back) the weights copied at compile()."""
    m = nn.MLP(2, [4, 1], rng=0)
    cm = micrograd.compile(m)
    m.parameters()[0].data = 123.0
    h = cm.fit(np.zeros((4, 2)), np.ones(4), loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.0), epochs=0)
    assert h.shape == (0,)
    assert m.parameters()[0].data == 123.0 and type(m.parameters()[0].data) is float


def test_value_path_training_between_compiled_calls_is_seen_by_every_call():
    X, y = moons_like()
    ref, fast = twin_models(lambda: nn.MLP(2, [5, 1], rng=random.Random(3)))
    cm = micrograd.compile(fast)
    cm(X)  # compile-time weights used once
    opt_ref, opt_fast = optim.SGD(ref.parameters(), lr=0.1), optim.SGD(fast.parameters(), lr=0.1)
    want = value_loop(ref, opt_ref, X, y, "hinge", 0.0, 2, 12, 0)  # two Value-path steps on each twin
    got = value_loop(fast, opt_fast, X, y, "hinge", 0.0, 2, 12, 0)
    assert_close(got, want)
    assert_close(cm(X), outputs_on_values(ref, X), "cm(X) after Value-path steps")
    _, want_loss, want_grads = value_path(ref, ref.parameters(), X, list(y), losses.hinge, 1e-3)
    loss, grads = cm.loss_and_grad(X, y, loss="hinge", l2=1e-3)
    assert_close(loss, want_loss)
    assert_close(grads, want_grads)
    want = value_loop(ref, opt_ref, X, y, "hinge", 1e-3, 3, 5, 1)
    got = cm.fit(X, y, loss="hinge", optimizer=opt_fast, epochs=3, batch_size=5, rng=1, l2=1e-3)
    assert_close(got, want, "fit continues from the Value-path weights")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights after fit")


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: optim.Adam(ps, lr=lambda t: 0.05 / (1 + t)),
    ],
    ids=["sgd-nesterov", "adam-schedule"],
)
def test_user_loop_with_loss_and_grad_and_an_optimizer_matches_the_value_path(make_opt):
    """The README's loop: loss, grads = cm.loss_and_grad(...); opt.step(); opt.zero_grad(), step for step."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(9, 3)), rng.integers(0, 3, 9)
    ref, fast = twin_models(lambda: nn.MLP(3, [6, 3], activation="tanh", rng=random.Random(1)))
    cm = micrograd.compile(fast)
    opt_ref, opt_fast = make_opt(ref.parameters()), make_opt(fast.parameters())
    for step in range(6):
        _, want_loss, want_grads = value_path(ref, ref.parameters(), X, [int(c) for c in y], losses.cross_entropy, 1e-3)
        opt_ref.step()
        loss, grads = cm.loss_and_grad(X, y, loss="cross_entropy", l2=1e-3)
        assert_close([p.grad for p in fast.parameters()], grads, "p.grad is what loss_and_grad returned")
        opt_fast.step()
        opt_fast.zero_grad()
        assert_close(loss, want_loss, f"loss at step {step}")
        assert_close(grads, want_grads, f"grads at step {step}")
        assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], f"weights {step}")
    assert all(p.grad == 0.0 for p in fast.parameters())


def test_loss_and_grad_overwrites_grads_and_fit_leaves_the_last_steps():
    X, y = moons_like()
    m = nn.MLP(2, [3, 1], rng=random.Random(2))
    cm = micrograd.compile(m)
    for p in m.parameters():
        p.grad = 5.0
    _, grads = cm.loss_and_grad(X, y, loss="hinge")
    assert [p.grad for p in m.parameters()] == grads.tolist()
    grads[0] = 99.0  # the returned array is the caller's own
    assert m.parameters()[0].grad != 99.0
    ref = copy.deepcopy(m)
    cm.fit(X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.0), epochs=1, batch_size=5, shuffle=False)
    _, _, want = value_path(ref, ref.parameters(), X[10:], list(y[10:]), losses.hinge)  # last batch: rows 10, 11
    assert_close([p.grad for p in m.parameters()], want, "grads of fit's last step")


def test_float32_model_sees_value_writes_and_returns_trained_weights():
    X, y = moons_like(16)
    m32 = nn.MLP(2, [4, 1], rng=random.Random(5))
    m64 = copy.deepcopy(m32)
    c32, c64 = micrograd.compile(m32, dtype=np.float32), micrograd.compile(m64)
    c32(X)
    for a, b in zip(m32.parameters(), m64.parameters()):
        a.data = b.data = a.data * 0.5 + 0.25  # written on the Value path after a float32 call
    assert c32.theta.dtype == np.float32
    np.testing.assert_allclose(c32(X), c64(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c32(X), outputs_on_values(m64, X), rtol=1e-5, atol=1e-6)
    o32, o64 = optim.Adam(m32.parameters(), lr=0.05), optim.Adam(m64.parameters(), lr=0.05)
    h32 = c32.fit(X, y, loss="hinge", optimizer=o32, epochs=2, batch_size=8)
    h64 = c64.fit(X, y, loss="hinge", optimizer=o64, epochs=2, batch_size=8)
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-6)
    got = np.array([p.data for p in m32.parameters()])
    assert got.tolist() == c32.theta[c32._pos].astype(np.float64).tolist()  # the master took the trained values
    np.testing.assert_allclose(got, [p.data for p in m64.parameters()], rtol=1e-4, atol=1e-5)
    _, g32 = c32.loss_and_grad(X, y, loss="hinge")
    assert [p.grad for p in m32.parameters()] == g32.tolist()


def test_two_compiled_models_of_one_model_both_follow_it():
    X, y = moons_like()
    ref, m = twin_models(lambda: nn.MLP(2, [4, 1], rng=random.Random(7)))
    cm1, cm2 = micrograd.compile(m), micrograd.compile(m)  # cm2 took the parameters: cm1 must notice
    o_ref, o = optim.SGD(ref.parameters(), lr=0.2), optim.SGD(m.parameters(), lr=0.2)
    assert_close(
        cm2.fit(X, y, loss="hinge", optimizer=o, epochs=2), value_loop(ref, o_ref, X, y, "hinge", 0.0, 2, 12, 0)
    )
    assert_close(cm1(X), outputs_on_values(ref, X), "cm1 after cm2 trained")
    assert_close(
        cm1.fit(X, y, loss="hinge", optimizer=o, epochs=2), value_loop(ref, o_ref, X, y, "hinge", 0.0, 2, 12, 0)
    )
    assert_close(cm2(X), outputs_on_values(ref, X), "cm2 after cm1 trained")
    w = m.parameters()[0]  # a function compiled over one of the model's parameters
    cm3 = micrograd.compile(lambda xs: xs[0] * w, n_inputs=1, params=[w])
    w.data = 2.5
    assert cm3(np.array([[2.0]]))[0, 0] == 5.0
    m.parameters()[1].data = -1.0
    ref.parameters()[0].data, ref.parameters()[1].data = 2.5, -1.0
    assert_close(cm1(X), outputs_on_values(ref, X), "cm1 after cm3 took one parameter")
    assert cm3(np.array([[1.0]]))[0, 0] == 2.5


def test_copies_of_a_compiled_models_parameters_are_plain_independent_values(tmp_path):
    m = nn.MLP(2, [3, 1], rng=random.Random(1))
    cm = micrograd.compile(m)
    p = m.parameters()[0]
    p.grad = 0.75
    assert repr(p) == f"Value(data={p.data}, grad=0.75)" and type(p.data) is float and type(p.grad) is float
    for make_twin in (copy.deepcopy, lambda model: pickle.loads(pickle.dumps(model))):
        q = make_twin(m).parameters()[0]
        assert type(q) is Value and (q.data, q.grad) == (p.data, 0.75)
        q.data = 42.0
        assert p.data != 42.0
        p.data += 1.0
        assert q.data == 42.0
    c = copy.copy(p)
    assert type(c) is Value and c.data == p.data
    state = m.state_dict()
    m.save(tmp_path / "w.json")
    for q in m.parameters():
        q.data = 0.0
    assert not cm(np.ones((1, 2))).any()
    m.load(tmp_path / "w.json")
    assert m.state_dict() == state
    fresh = nn.MLP(2, [3, 1], rng=random.Random(9))
    fresh.load_state_dict(state)
    assert_close(cm(np.ones((1, 2))), outputs_on_values(fresh, np.ones((1, 2))), "cm(X) after load")
    for twin in (copy.deepcopy(cm), pickle.loads(pickle.dumps(cm))):  # a copy binds its own copied parameters
        assert twin.params[0] is twin.model.parameters()[0] is not p
        twin.model.parameters()[0].data = -7.0
        assert p.data != -7.0
        assert_close(twin(np.ones((1, 2))), outputs_on_values(twin.model, np.ones((1, 2))), "copied cm")
    assert_close(cm(np.ones((1, 2))), outputs_on_values(fresh, np.ones((1, 2))), "original cm unchanged")


def test_bound_values_refuse_non_numbers():
    m = nn.MLP(1, [1], rng=0)
    micrograd.compile(m)
    with pytest.raises(TypeError, match="real number"):
        m.parameters()[0].data = "1.0"
    m.parameters()[0].data = 3  # an int is stored as a float, like Value(3)
    assert type(m.parameters()[0].data) is float


# ---------------------------------------------------------------- items 4, 5, 6: graphs
def test_a_replaced_backward_on_an_op_node_is_refused_by_name():
    p = Value(2.0)

    def model(xs):
        z = xs[0] * p
        z._backward = lambda: None
        return z.tanh()

    with pytest.raises(ValueError, match=r"op '\*'.*_backward was replaced by hand"):
        micrograd.compile(model, n_inputs=1, params=[p])


def test_a_parameter_listed_twice_is_refused_at_compile():
    p = Value(1.0)
    with pytest.raises(ValueError, match="same Value twice.*positions 0 and 1"):
        micrograd.compile(lambda xs: xs[0] * p, n_inputs=1, params=[p, p])
    with pytest.raises(TypeError, match=r"params\[0\] is 1.0, not a Value"):
        micrograd.compile(lambda xs: xs[0], n_inputs=1, params=[1.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda xs: (xs[0] - xs[1]).log(),
        lambda xs: 1 / (xs[0] - xs[1]),
        lambda xs: (2 * xs[0] - 1).log() + (xs[1] - 0.5) ** -1,
    ],
    ids=["log(x0-x1)", "1/(x0-x1)", "log(2*x0-1)"],
)
def test_tracing_on_placeholders_does_not_decide_compilability(fn):
    X = np.array([[3.0, 1.0], [2.0, 1.5], [0.9, 0.25]])
    cm = micrograd.compile(fn, n_inputs=2, params=[])
    assert_close(cm(X), [[fn([Value(a), Value(b)]).data] for a, b in X])
    with pytest.raises(ValueError, match="log"):  # outside tracing the Value path still refuses
        Value(0.0).log()


# ---------------------------------------------------------------- item 7: threads
def test_one_compiled_model_from_two_threads_gives_the_single_threaded_results():
    """Calls share buffers; without the lock a thread switch between two kernel calls (load, forward) or
    after a kernel (before its gradient is read) mixed two calls' data: 1-24 of 120 results wrong."""
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


# ---------------------------------------------------------------- item 8: arguments
X4, Y4 = np.zeros((4, 2)), np.ones(4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 1.9}, TypeError, "epochs must be an int >= 0, got 1.9"),
        ({"epochs": "2"}, TypeError, "epochs must be an int"),
        ({"epochs": True}, TypeError, "epochs must be an int"),
        ({"epochs": -1}, ValueError, "epochs must be an int >= 0, got -1"),
        ({"batch_size": 2.7}, TypeError, "batch_size must be an int >= 1 or None, got 2.7"),
        ({"batch_size": "2"}, TypeError, "batch_size must be an int"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
        ({"l2": -1e-3}, ValueError, "l2 must be a finite number >= 0"),
        ({"l2": float("nan")}, ValueError, "l2 must be a finite number >= 0, got nan"),
        ({"l2": "0.1"}, TypeError, "l2 must be a real number"),
        ({"rng": random.Random(0)}, TypeError, "rng must be an int seed >= 0, None or a np.random.Generator"),
        ({"rng": -3}, TypeError, "rng must be an int seed >= 0"),
        ({"rng": 1.5}, TypeError, "rng must be"),
        ({"shuffle": "no"}, TypeError, "shuffle must be True or False"),
        ({"shuffle": 0}, TypeError, "shuffle must be True or False"),
        ({"loss": "hinge2"}, ValueError, "unknown loss 'hinge2'"),
        ({"optimizer": None}, ValueError, "fit needs an optimizer"),
    ],
)
def test_fit_refuses_each_bad_argument_by_name(kwargs, error, match):
    m = nn.MLP(2, [3, 1], rng=0)
    cm = micrograd.compile(m)
    before = [p.data for p in m.parameters()]
    args = dict(loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.1), epochs=1)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        cm.fit(X4, Y4, **args)
    assert [p.data for p in m.parameters()] == before


def test_loss_and_grad_and_compile_refuse_bad_arguments():
    m = nn.MLP(2, [3, 1], rng=0)
    cm = micrograd.compile(m)
    for l2, error in ((-1.0, ValueError), (float("inf"), ValueError), ("x", TypeError), (True, TypeError)):
        with pytest.raises(error, match="l2 must be"):
            cm.loss_and_grad(X4, Y4, loss="hinge", l2=l2)
    with pytest.raises(TypeError, match="target_width must be an int >= 1 or None"):
        cm.loss_and_grad(X4, Y4, loss=lambda o, t: o * t, target_width=1.5)
    with pytest.raises(ValueError, match="target_width is for a loss function"):
        cm.loss_and_grad(X4, Y4, loss="hinge", target_width=1)
    with pytest.raises(ValueError, match="target_width=2 but y has 1 columns"):
        cm.loss_and_grad(X4, Y4, loss=lambda o, t: o * t[0], target_width=2)
    for n, error in ((-1, ValueError), (2.0, TypeError), ("2", TypeError)):
        with pytest.raises(error, match="n_inputs must be an int >= 0"):
            micrograd.compile(lambda xs: xs[0], n_inputs=n, params=[])
    q = Value(3.0)  # n_inputs=0: a function of its parameters alone (X has no columns)
    loss, grads = micrograd.compile(lambda xs: q * q, n_inputs=0, params=[q]).loss_and_grad(
        np.zeros((1, 0)), np.zeros(1), loss=lambda o, t: o
    )
    assert (loss, grads.tolist()) == (9.0, [6.0])
    for dtype in (np.float16, "float16", int, "nonsense"):
        with pytest.raises(ValueError, match="dtype must be np.float64 or np.float32"):
            micrograd.compile(m, dtype=dtype)
    with pytest.raises(TypeError, match="model must be an nn.Module or a function"):
        micrograd.compile(3.0, n_inputs=1, params=[])
    with pytest.raises(ValueError, match=r"X has shape \(4,\)"):
        cm(np.zeros(4))


def test_fit_refuses_an_optimizer_without_a_compiled_update():
    class Plain(optim.Optimizer):
        def step(self):
            for p in self.params:
                p.data -= 0.1 * p.grad

    m = nn.MLP(2, [3, 1], rng=0)
    with pytest.raises(TypeError, match="Plain has none.*loss_and_grad"):
        micrograd.compile(m).fit(X4, Y4, optimizer=Plain(m.parameters(), lr=0.1))


# ---------------------------------------------------------------- issue 11 item 1: labels, both paths
def test_hinge_refuses_zero_one_labels_on_both_paths():
    with pytest.raises(ValueError, match=r"hinge expects labels -1 or \+1, got 0; .*2\*y - 1"):
        losses.hinge(Value(0.3), 0)
    cm = micrograd.compile(nn.MLP(2, [3, 1], rng=0))
    with pytest.raises(ValueError, match=r"hinge expects labels -1 or \+1, got 0.0; .*labels='pm1'"):
        cm.loss_and_grad(X4, np.array([0.0, 1.0, 1.0, 0.0]), loss="hinge")


def test_bce_with_logits_refuses_plus_minus_one_labels_on_both_paths():
    with pytest.raises(ValueError, match=r"bce_with_logits expects labels in \[0, 1\].*got -1.*\(y \+ 1\) / 2"):
        losses.bce_with_logits(Value(0.3), -1)
    assert losses.bce_with_logits(Value(0.3), 0.25).data > 0  # probabilities are labels too
    cm = micrograd.compile(nn.MLP(2, [3, 1], rng=0))
    with pytest.raises(ValueError, match=r"bce_with_logits expects labels in \[0, 1\].*got -1.0"):
        cm.loss_and_grad(X4, np.array([-1.0, 1.0, 1.0, -1.0]), loss="bce_with_logits")


def test_cross_entropy_on_one_output_points_to_bce_with_logits_on_both_paths():
    with pytest.raises(ValueError, match="at least 2 outputs.*bce_with_logits with 0/1 labels"):
        losses.cross_entropy(Value(0.3), 0)
    cm = micrograd.compile(nn.MLP(2, [3, 1], rng=0))
    with pytest.raises(ValueError, match="at least 2 outputs.*bce_with_logits with 0/1 labels"):
        cm.loss_and_grad(X4, np.zeros(4), loss="cross_entropy")


@pytest.mark.parametrize("row, match", [([0.5, 0.75], "sums to 1.25"), ([1.5, -0.5], "negative")])
def test_soft_cross_entropy_targets_must_be_distributions_on_both_paths(row, match):
    with pytest.raises(ValueError, match=match):
        losses.cross_entropy([Value(0.1), Value(0.2)], row)
    cm = micrograd.compile(nn.MLP(2, [3, 2], rng=0))
    Y = np.array([[0.3, 0.7], row, [1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="y row 1 .*" + match):
        cm.loss_and_grad(X4, Y, loss="cross_entropy")
    cm.loss_and_grad(X4, np.array([[0.3, 0.7], [0.2, 0.8], [1.0, 0.0], [0.5, 0.5]]), loss="cross_entropy")


# ---------------------------------------------------------------- issue 9 item 3: described, not listed
def test_optimizers_and_losses_describe_themselves_to_the_runtime(monkeypatch):
    assert (optim.KERNEL_SGD, optim.KERNEL_ADAM) == (kernels.SGD, kernels.ADAM)
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


def test_compiled_model_repr_shows_model_size_and_dtype():
    cm = micrograd.compile(nn.MLP(2, [16, 16, 1], rng=0), dtype=np.float32)
    assert repr(cm) == f"<CompiledModel of MLP: 2 -> 1, {len(cm.program)} instructions, 337 parameters, float32>"
    p = Value(1.0)
    assert repr(micrograd.compile(lambda xs: [xs[0] * p, xs[0]], n_inputs=1, params=[p])).startswith(
        "<CompiledModel of test_compiled_model_repr_shows_model_size_and_dtype.<locals>.<lambda>: 1 -> 2, "
    )


def test_the_docs_user_loop_runs():
    """docs/compiled-model-state.md's first code block (the README's loop) runs as written."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "compiled-model-state.md").read_text()
    code = text.split("```python\n")[1].split("```")[0]
    code = code.replace("range(100)", "range(3)")
    env = {}
    exec(compile(code, "compiled-model-state.md", "exec"), env)
    model = env["model"]
    assert model.parameters()[0].data == 0.0 and all(p.grad == 0.0 for p in model.parameters())
