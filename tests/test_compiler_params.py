"""The parameter Values a compiled model is bound to (compiler.params, docs/compiled-model-state.md): one
set of weights, the model's. Every call computes with the Values' current data and leaves its results in
them; copies, pickles, a second compiled model and the Value path all see the same state.

The Value path is the oracle: the same model trained the same way on Values.
"""

import copy
import math
import pickle
import random

import numpy as np
import pytest

import micrograd
from micrograd import losses, nn, optim
from micrograd.engine import Value
from tests.value_oracle import assert_close, moons_like, outputs_on_values, twin_models, value_loop, value_path


def test_fit_with_zero_epochs_keeps_the_models_weights():
    """fit starts from the model's weights as they are now, not as they were at compile(), and epochs=0
    writes nothing back."""
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
    assert got.tolist() == c32.theta.astype(np.float64).tolist()  # the master took the trained values
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


def test_a_parameter_listed_twice_is_refused_at_compile():
    p = Value(1.0)
    with pytest.raises(ValueError, match="same Value twice.*positions 0 and 1"):
        micrograd.compile(lambda xs: xs[0] * p, n_inputs=1, params=[p, p])
    with pytest.raises(TypeError, match=r"params\[0\] is 1.0, not a Value"):
        micrograd.compile(lambda xs: xs[0], n_inputs=1, params=[1.0])


def test_a_computed_value_listed_as_a_parameter_is_refused_at_compile():
    """w = a * 2.0 is not a parameter: the Value path gives d/da through w, an optimizer cannot update w."""
    a = Value(0.3)
    w = a * 2.0

    def fn(xs):
        return (w * xs[0] + a).tanh()

    with pytest.raises(ValueError) as e:
        micrograd.compile(fn, n_inputs=1, params=[a, w])
    msg = str(e.value)
    assert "params[1]" in msg and "computed" in msg and "'*'" in msg and "leaf" in msg, msg
    assert "Leave it out of params" in msg, msg
    cm = micrograd.compile(fn, n_inputs=1, params=[a])  # the fix the message names
    _, grads = cm.loss_and_grad(np.array([[0.7]]), np.zeros(1), loss=lambda o, t: o)
    want = (1 - math.tanh(0.6 * 0.7 + 0.3) ** 2) * (2.0 * 0.7 + 1.0)
    assert grads[0] == pytest.approx(want, rel=1e-14)


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


def test_a_compiled_model_over_some_parameters_reads_the_others_where_they_are():
    X, y = moons_like()
    ref, m = twin_models(lambda: nn.MLP(2, [4, 1], rng=random.Random(3)))
    head = m.layers[-1].parameters()
    cm = micrograd.compile(m, params=head)
    cm(X)
    for p, q in (
        (m.layers[0].neurons[1].w[0], ref.layers[0].neurons[1].w[0]),
        (m.layers[0].neurons[2].b, ref.layers[0].neurons[2].b),
    ):
        p.data = q.data = 1.75  # a backbone weight changed after compile(): every call sees it
    assert_close(cm(X), outputs_on_values(ref, X), "outputs after a backbone change")
    loss, grads = cm.loss_and_grad(X, y, loss="hinge")
    _, ref_loss, ref_grads = value_path(ref, ref.parameters(), X, y, losses.hinge)
    assert_close(loss, ref_loss)
    assert_close(grads, ref_grads[-len(head) :], "gradients of the listed parameters")
    before = [p.data for p in m.layers[0].parameters()]
    cm.fit(X, y, loss="hinge", optimizer=optim.SGD(head, lr=0.5, momentum=0.9), epochs=3)
    assert [p.data for p in m.layers[0].parameters()] == before  # only the listed parameters train
    with pytest.raises(ValueError, match="compiled parameters"):
        cm.fit(X, y, optimizer=optim.SGD(m.parameters(), lr=0.1))
    opt = optim.SGD(head, lr=0.1)
    cm.fit(X, y, optimizer=opt)
    opt.params = m.parameters()[: len(head)]  # another list of the same length, after a fit that checked
    with pytest.raises(ValueError, match="compiled parameters"):
        cm.fit(X, y, optimizer=opt)


def test_calls_of_two_compiled_models_of_one_model_from_two_threads_lose_no_step():
    import threading

    X, y = moons_like()
    make = lambda: nn.MLP(2, [8, 1], rng=random.Random(5))  # noqa: E731
    alone, m = make(), make()
    micrograd.compile(alone).fit(X, y, loss="hinge", optimizer=optim.SGD(alone.parameters(), lr=0.1), epochs=400)
    c1, c2 = micrograd.compile(m), micrograd.compile(m)
    errors: list = []

    def reader():
        try:
            for _ in range(200):
                c2(X)
                micrograd.check(m, X, y, loss="hinge")
        except Exception as e:  # pragma: no cover - the assertion below shows it
            errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(40):
        c1.fit(X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.1), epochs=10)
    t.join()
    assert errors == []
    assert [p.data for p in m.parameters()] == [p.data for p in alone.parameters()]


def test_a_shallow_copy_of_a_compiled_model_has_its_own_parameters():
    X, y = moons_like()
    m = nn.MLP(2, [4, 1], rng=random.Random(2))
    cm = micrograd.compile(m)
    twin = copy.copy(cm)
    assert twin.model is not m and all(a is not b for a, b in zip(twin.params, cm.params))
    before = [p.data for p in m.parameters()]
    twin.fit(X, y, loss="hinge", optimizer=optim.SGD(twin.params, lr=0.5), epochs=3)
    assert [p.data for p in m.parameters()] == before
    assert_close(cm(X), outputs_on_values(m, X), "the original after its copy trained")


def test_copies_and_pickles_of_a_trained_784_128_10_carry_no_graph():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 784)), rng.integers(0, 10, 32)
    m = nn.MLP(784, [128, 10], rng=random.Random(0))
    cm = micrograd.compile(m)
    cm.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(m.parameters(), lr=0.01), epochs=2)
    for twin in (copy.deepcopy(cm), pickle.loads(pickle.dumps(cm)), copy.copy(cm)):
        assert_close(twin(X), cm(X), "outputs of the copy")
    assert len(pickle.dumps(cm)) < 3 * len(pickle.dumps(m.state_dict()))  # the weights, not a traced graph


def test_fit_memory_does_not_grow_with_epochs():
    import tracemalloc

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(2000, 2)), np.where(rng.random(2000) > 0.5, 1.0, -1.0)
    m = nn.MLP(2, [2, 1], rng=random.Random(1))
    cm = micrograd.compile(m)
    opt = optim.SGD(m.parameters(), lr=0.01)
    cm.fit(X, y, loss="hinge", optimizer=opt, epochs=1, batch_size=1000)  # compiled before measuring
    tracemalloc.start()
    history = cm.fit(X, y, loss="hinge", optimizer=opt, epochs=20000, batch_size=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(history) == 40000
    assert peak < 8 * 2**20  # blocks of row orders (2 MiB each) and the history, not 20000 epochs of orders (320 MB)


@pytest.mark.parametrize(
    "change",
    ["replace a weight", "replace a layer", "append a neuron", "change an activation", "replace a bias"],
)
def test_every_call_follows_a_model_changed_after_compile(change):
    X, y = moons_like()
    m = nn.MLP(2, [4, 1], rng=random.Random(6))
    cm = micrograd.compile(m)
    cm(X)
    if change == "replace a weight":
        m.layers[0].neurons[0].w[0] = Value(5.0)
    elif change == "replace a layer":
        m.layers[1] = nn.Layer(4, 1, nonlin=False, rng=random.Random(1))
    elif change == "append a neuron":
        m.layers[1].neurons.append(nn.Neuron(4, nonlin=False, rng=random.Random(2)))
    elif change == "change an activation":
        for n in m.layers[0].neurons:
            n.activation = "tanh"
    else:
        m.layers[1].neurons[0].b = Value(-2.0)
    with pytest.warns(RuntimeWarning, match="changed since compile"):
        out = cm(X)

    def on_values(X):
        rows = [m([Value(float(v)) for v in x]) for x in X]
        return np.array([[o.data for o in (r if isinstance(r, list) else [r])] for r in rows])

    assert_close(out, on_values(X), change)
    if change == "append a neuron":
        assert out.shape == (len(X), 2)
    loss, grads = cm.loss_and_grad(X, y if change != "append a neuron" else np.c_[y, y], loss="mse")
    assert len(grads) == len(m.parameters())
    opt = optim.SGD(m.parameters(), lr=0.1)
    cm.fit(X, y if change != "append a neuron" else np.c_[y, y], loss="mse", optimizer=opt, epochs=2)
    assert_close(cm(X), on_values(X), "after fit")


def test_a_model_built_or_called_elsewhere_costs_nothing_and_changes_nothing(recwarn):
    X, _ = moons_like()
    m = nn.MLP(2, [4, 1], rng=random.Random(6))
    cm = micrograd.compile(m)
    cm(X)
    before = nn.mutations()
    other = nn.MLP(2, [8, 8, 1], rng=random.Random(1))  # building a model is not a change
    other([1.0, 2.0])
    assert nn.mutations() == before
    m.layers[0].neurons[0].w[0].data = 3.0  # a weight's value: no structure change, every call sees it anyway
    assert nn.mutations() == before
    assert_close(cm(X), outputs_on_values(m, X), "after a weight's value changed")
    other.layers[0].neurons[0].w[0] = Value(1.0)  # another model's change: one check of ours, nothing recompiled
    assert_close(cm(X), outputs_on_values(m, X), "after another model changed")
    assert not [w for w in recwarn if "changed since compile" in str(w.message)]
    assert cm._seen == nn.mutations()
