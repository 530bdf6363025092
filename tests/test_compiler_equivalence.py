"""The compiled path equals the Value path: random scalar graphs over the whole op table, random MLPs.

The Value path is the oracle: the same function is evaluated example by
example on Values and backpropagated, and the compiled outputs, batch loss and
parameter gradients must agree to 1e-12 relative (float64; an absolute floor of
1e-12 times the largest reference magnitude covers the round-off of sums that
the compiled dense ops associate differently). Batch sizes 1, 7 and 256.
"""

import random

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import losses, nn, ops
from micrograd.engine import Value
from tests.value_oracle import assert_close, value_path

# ---------------------------------------------------------------- random scalar graphs
NAMES = [op.name for op in ops.OPS]


def _apply(name, x, y, arg_pick):
    """The op on operands made safe for its domain (so the Value path never raises)."""
    if name == "div":
        return x / (abs(y) + 0.5)
    if name == "log":
        return (abs(x) + 0.5).log()
    if name == "powv":
        return (abs(x) + 0.5) ** (y.tanh() * 2)
    if name == "pow":
        arg = (2, 3, -1, 0.5)[arg_pick]
        return ((x.tanh() * 3) if arg in (2, 3) else (abs(x) + 0.5)) ** arg
    if name == "exp":
        return (x.tanh() * 5).exp()
    if name == "leaky_relu":
        return x.leaky_relu(0.1)
    if name == "elu":
        return x.elu(1.3)
    if name == "neg":
        return -x
    if name == "abs":
        return abs(x)
    if name in ("add", "sub", "mul"):
        return {"add": x + y, "sub": x - y, "mul": x * y}[name]
    if name in ("prelu", "logaddexp"):
        return getattr(x, name)(y)
    return getattr(x, name)()


def run_recipe(recipe, xs, params, consts):
    pool = list(xs) + list(params)
    for name, i, j, side, arg_pick in recipe:
        x, y = pool[i % len(pool)], pool[j % len(pool)]
        if side == 1:  # constant on the left: c (op) v
            x = Value(consts[i % len(consts)])
        elif side == 2:  # constant on the right: v (op) c
            y = Value(consts[j % len(consts)])
        pool.append(_apply(name, x, y, arg_pick))
    return pool


step = st.tuples(st.sampled_from(NAMES), st.integers(0, 40), st.integers(0, 40), st.integers(0, 2), st.integers(0, 3))


@st.composite
def graphs(draw, max_ops=14):
    n_in = draw(st.integers(1, 3))
    p_vals = draw(st.lists(st.floats(-2, 2), min_size=1, max_size=3))
    consts = draw(st.lists(st.floats(-2, 2), min_size=1, max_size=2))
    recipe = draw(st.lists(step, min_size=1, max_size=max_ops))
    if draw(st.booleans()):  # a deep chain: every step reads the previous result
        recipe = [(n, 10**6, j, s, a) for n, _, j, s, a in recipe]
    extra = draw(st.integers(0, 40))  # a second output: any node, leaves included
    return n_in, p_vals, consts, recipe, extra


def _chain_fix(recipe, n_pool):
    return [(n, (n_pool + k - 1) if i == 10**6 else i, j, s, a) for k, (n, i, j, s, a) in enumerate(recipe)]


def check_graph(spec, batch, seed):
    n_in, p_vals, consts, recipe, extra = spec
    params = [Value(v) for v in p_vals]
    recipe = _chain_fix(recipe, n_in + len(params))

    def fn(xs):
        pool = run_recipe(recipe, xs, params, consts)
        return [pool[-1], pool[extra % len(pool)]]

    def loss_fn(out, t):
        return out[0] * t + out[1]

    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (batch, n_in))
    y = rng.uniform(-2, 2, batch)
    try:
        ref_out, ref_loss, ref_grads = value_path(fn, params, X, y, loss_fn)
    except (ValueError, ZeroDivisionError, OverflowError):
        assume(False)
    assume(np.all(np.isfinite(ref_out)) and np.all(np.abs(ref_out) < 1e100))
    assume(np.all(np.isfinite(ref_grads)) and np.all(np.abs(ref_grads) < 1e100))
    cm = micrograd.compile(fn, n_inputs=n_in, params=params)
    assert_close(cm(X), ref_out, "outputs")
    for call in ("first", "second"):  # the second runs on the workspace the first left behind
        loss, grads = cm.loss_and_grad(X, y, loss=loss_fn)
        assert_close(loss, ref_loss, f"loss, {call} call")
        assert_close(grads, ref_grads, f"grads, {call} call")


def test_a_scalar_graph_gives_its_gradient_on_every_call():
    # 240 one-element instructions run as scalar runs; each tanh's input is read by it alone, so its gradient
    # row must start from zero on every call, not from what the call before left there
    params = [Value(0.1 * (i + 1)) for i in range(10)]

    def fn(xs):
        acc = params[0]
        for i in range(80):
            acc = (acc * params[(i + 1) % 10]).tanh() + params[i % 10]
        return [acc]

    out = fn([])[0]
    out.backward()
    want = [p.grad for p in params]
    cm = micrograd.compile(fn, n_inputs=0, params=params)
    assert cm.program.counts() == {"add": 80, "mul": 80, "tanh": 80}
    X, y = np.zeros((1, 0)), np.zeros(1)

    def itself(out, target):  # the per-example loss: the output (one output: a Value); one program for every call
        return out

    for call in ("first", "second", "third"):
        loss, grads = cm.loss_and_grad(X, y, loss=itself)
        assert_close(loss, out.data, f"loss, {call} call")
        assert_close(grads, want, f"grads, {call} call")


@pytest.mark.slow
@settings(max_examples=1500)
@given(graphs(), st.sampled_from([1, 7]), st.integers(0, 2**32 - 1))
def test_random_graphs_small_batches(spec, batch, seed):
    check_graph(spec, batch, seed)


@pytest.mark.slow
@settings(max_examples=200)
@given(graphs(max_ops=8), st.integers(0, 2**32 - 1))
def test_random_graphs_batch_256(spec, seed):
    check_graph(spec, 256, seed)


# ---------------------------------------------------------------- random MLPs
def mlp_targets(loss, nout, N, rng):
    """(y for the compiled path in PyTorch's convention, targets for the Value path)."""
    if loss == "hinge":
        y = rng.choice([-1.0, 1.0], N)
        return y, list(y)
    if loss == "bce_with_logits":
        y = rng.choice([0.0, 1.0], N)
        return y, list(y)
    if loss == "cross_entropy":
        y = rng.integers(0, nout, N)
        return y, [int(c) for c in y]
    y = rng.normal(size=(N, nout))
    return y, [list(r) if nout > 1 else float(r[0]) for r in y]


@st.composite
def mlps(draw, max_weights=700):
    nin = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.sampled_from([1, 2, 3, 5, 8, 16, 32]), min_size=0, max_size=2))
    loss = draw(st.sampled_from(sorted(losses.BY_NAME)))
    widths = [2, 3, 10] if loss == "cross_entropy" else [1, 2, 3, 10]  # cross_entropy refuses one logit
    nout = 1 if loss in ("hinge", "bce_with_logits") else draw(st.sampled_from(widths))
    sizes = [nin] + hidden + [nout]
    assume(sum(a * b for a, b in zip(sizes, sizes[1:])) <= max_weights)
    activation = draw(st.sampled_from(nn.ACTIVATIONS))
    prelu = draw(st.sampled_from(["neuron", "layer"]))  # a slope per neuron, or one shared by the layer
    return nin, hidden + [nout], activation, loss, draw(st.sampled_from([0.0, 1e-4, 0.1])), prelu


def check_mlp(spec, batch, seed):
    nin, nouts, activation, loss, l2, prelu = spec
    model = nn.MLP(nin, nouts, activation=activation, prelu=prelu, rng=random.Random(seed))
    rng = np.random.default_rng(seed)
    for p in model.parameters():  # nonzero biases and slopes, so every parameter matters
        p.data = float(rng.uniform(-1, 1))
    X = rng.normal(size=(batch, nin))
    y, targets = mlp_targets(loss, nouts[-1], batch, rng)
    ref_out, ref_loss, ref_grads = value_path(model, model.parameters(), X, targets, losses.BY_NAME[loss], l2)
    cm = micrograd.compile(model)
    assert_close(cm(X), ref_out, "outputs")
    got_loss, grads = cm.loss_and_grad(X, y, loss=loss, l2=l2)
    assert_close(got_loss, ref_loss, "loss")
    assert_close(grads, ref_grads, "grads")
    return cm


@settings(max_examples=150)
@given(mlps(), st.sampled_from([1, 7]), st.integers(0, 2**32 - 1))
def test_random_mlps(spec, batch, seed):
    check_mlp(spec, batch, seed)


@settings(max_examples=25)
@given(mlps(max_weights=60), st.integers(0, 2**32 - 1))
def test_random_mlps_batch_256(spec, seed):
    check_mlp(spec, 256, seed)


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
def test_every_activation_is_fused_and_equal(activation):
    cm = check_mlp((3, [5, 1, 4, 2], activation, "cross_entropy", 1e-3, "layer"), 7, 11)  # width-1 layer too
    assert cm.program.counts()["dense"] == 4


def test_big_layers_read_the_inputs_where_they_are_and_match():
    # the first layer multiplies the rows of X directly (batch-major, no copy), and later layers their slots
    cm = check_mlp((40, [32, 3], "relu", "cross_entropy", 1e-3, "neuron"), 64, 3)
    assert cm.program.a[0] == 0 and cm.program.k[0] == 40 and not cm.program.inputs_read


# ---------------------------------------------------------------- NaN and infinities through piecewise ops
SPECIAL_X = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.5, -1.5]


def piecewise_net(name):
    """op(x + b) (prelu: with a slope parameter s): the gradient of b is the op's derivative at x."""
    b, s = Value(0.0), Value(0.25)
    op = ops.BY_NAME[name]
    if op.arity == 2:
        return (lambda xs: getattr(xs[0] + b, name)(s)), [b, s]
    args = {"leaky_relu": (0.1,), "elu": (0.7,)}.get(name, ())
    method = "__abs__" if name == "abs" else name
    return (lambda xs: getattr(xs[0] + b, method)(*args)), [b]


def same(got, want) -> bool:
    return all(g == w or (np.isnan(g) and np.isnan(w)) for g, w in zip(np.ravel(got), np.ravel(want)))


@pytest.mark.parametrize("name", sorted(ops.OPS[c].name for c in ops.PIECEWISE))
def test_piecewise_ops_at_nan_and_infinities_equal_the_value_path(name):
    fn, params = piecewise_net(name)
    cm = micrograd.compile(fn, n_inputs=1, params=params)
    for x in SPECIAL_X:
        X = np.array([[x]])
        for p in params:
            p.grad = 0.0
        out = fn([Value(x)])
        out.backward()
        want = [p.grad for p in params]
        assert same(cm(X), [out.data]), (name, x)
        _, grads = cm.loss_and_grad(X, np.zeros(1), loss=lambda o, t: o)
        assert same(grads, want), (name, x, grads, want)
        if np.isnan(x):
            assert np.isnan(want).all(), (name, want)  # the op table's rule: NaN in, NaN derivatives out
