"""The lowering: golden program, determinism, fusion of hand-written networks, gathers, validation, errors.

Regenerate the golden file after an intended lowering change with
    MICROGRAD_REGEN_GOLDEN=1 python -m pytest tests/test_compiler_ir.py -k golden
and review the diff of tests/golden/ like code.
"""

import os
import random
from pathlib import Path

import numpy as np
import pytest

import micrograd
from micrograd import losses, nn, optim
from micrograd.compiler import ir
from micrograd.engine import Value
from tests.value_oracle import assert_close, value_path

GOLDEN = Path(__file__).parent / "golden" / "mlp_2_3_1_hinge.txt"


def test_golden_program_of_a_small_mlp():
    cm = micrograd.compile(nn.MLP(2, [3, 1], rng=random.Random(0)))
    text = str(cm.training_program("hinge")) + "\n"
    if os.environ.get("MICROGRAD_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_same_graph_same_bytes():
    progs = [
        micrograd.compile(nn.MLP(3, [4, 4, 2], activation=act, rng=random.Random(seed))).training_program(
            "cross_entropy"
        )
        for act, seed in (("tanh", 1), ("tanh", 2), ("tanh", 1))
    ]
    assert progs[0].tobytes() == progs[1].tobytes() == progs[2].tobytes()
    other = micrograd.compile(nn.MLP(3, [4, 4, 2], activation="relu")).training_program("cross_entropy")
    assert other.tobytes() != progs[0].tobytes()


def hand_net(rng, left_to_right):
    """A 2-layer net written directly in Values, with its own operand order and layout; its sums added left to
    right, bias first (as a Neuron adds), or grouped otherwise."""
    W1 = [[Value(rng.uniform(-1, 1)) for _ in range(3)] for _ in range(4)]
    b1 = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    W2 = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    b2 = Value(0.3)

    def fn(xs):
        if left_to_right:
            h = [(b + w[0] * xs[0] + xs[1] * w[1] + w[2] * xs[2]).tanh() for w, b in zip(W1, b1)]
            return sum((w * hj for w, hj in zip(W2, h)), b2)
        h = [((b + w[0] * xs[0]) + (xs[1] * w[1] + w[2] * xs[2])).tanh() for w, b in zip(W1, b1)]
        return b2 + sum(w * hj for w, hj in zip(W2, h))

    return fn, [p for row in W1 for p in row] + b1 + W2 + [b2]


@pytest.mark.parametrize(
    "left_to_right, counts",
    [
        (True, {"dense": 2, "tanh": 1}),  # every sum fused, the activation one vector op
        # only the parts added left to right are fused: b + w0*x0, x1*w1 + w2*x2 and the 2nd layer's sum();
        # the adds that join them (4 + 1) and the 4 tanh they feed stay scalar ops
        (False, {"dense": 3, "add": 5, "tanh": 4}),
    ],
    ids=["left to right", "grouped"],
)
def test_hand_written_network_is_fused_and_equal(left_to_right, counts):
    fn, params = hand_net(random.Random(0), left_to_right)
    cm = micrograd.compile(fn, n_inputs=3, params=params)
    assert cm.program.counts() == counts
    X = np.random.default_rng(0).normal(size=(7, 3))
    y = np.random.default_rng(1).normal(size=7)
    ref_out, ref_loss, ref_grads = value_path(fn, params, X, y, lambda o, t: (o - t) ** 2, 0.01)
    assert_close(cm(X), ref_out)
    loss, grads = cm.loss_and_grad(X, y, loss="mse", l2=0.01)
    assert_close(loss, ref_loss)
    assert_close(grads, ref_grads)


# Sums of products whose association decides the result: adding 1 to 1e16 loses it (the spacing of floats there is
# 2), so adding in another order than the one written gives 0 for 1 or 1 for 0. Each: (n_inputs, fn of (w, b, xs),
# the inputs, the bias, the number of DENSE ops the sum may still fuse into: the part added left to right, as the
# fused product adds, bias first).
ASSOCIATIONS = {
    "t0 + (t1 + t2)": (3, lambda w, b, x: w[0] * x[0] + (w[1] * x[1] + w[2] * x[2]), [1.0, 1e16, -1e16], 1.0, 1),
    "(t0 + t1) + b": (2, lambda w, b, x: w[0] * x[0] + w[1] * x[1] + b, [1e16, 1.0], -1e16, 1),
    "b + sum(terms)": (2, lambda w, b, x: b + sum(wi * xi for wi, xi in zip(w, x)), [1e16, -1e16], 1.0, 1),
    "sum(terms) + b": (2, lambda w, b, x: sum(wi * xi for wi, xi in zip(w, x)) + b, [1e16, 1.0], -1e16, 1),
    "(b + t0) + (t1 + t2)": (
        3,
        lambda w, b, x: (b + w[0] * x[0]) + (w[1] * x[1] + w[2] * x[2]),
        [1.0, 1e16, -1e16],
        0.0,
        2,
    ),
    "(t0 + t1) + (t2 + t3)": (
        4,
        lambda w, b, x: (w[0] * x[0] + w[1] * x[1]) + (w[2] * x[2] + w[3] * x[3]),
        [1.0, 1e16, -1e16, 1.0],
        0.0,
        2,
    ),
    # left to right, as the fused product adds: fused whole
    "sum(terms, b), a Neuron's": (
        3,
        lambda w, b, x: sum((wi * xi for wi, xi in zip(w, x)), b),
        [1e16, -1e16, 1.0],
        1.0,
        1,
    ),
    "((t0 + b) + t1) + t2": (
        3,
        lambda w, b, x: w[0] * x[0] + b + w[1] * x[1] + w[2] * x[2],
        [1.0, 1e16, -1e16],
        1.0,
        1,
    ),
    "sum(terms)": (3, lambda w, b, x: sum(wi * xi for wi, xi in zip(w, x)), [1.0, 1e16, -1e16], 0.0, 1),
}


@pytest.mark.parametrize("name", ASSOCIATIONS)
def test_a_sum_fuses_only_in_the_order_it_was_written(name):
    n, expr, x, bias, dense = ASSOCIATIONS[name]
    w, b = [Value(1.0) for _ in range(n)], Value(bias)

    def fn(xs):
        return expr(w, b, xs)

    cm = micrograd.compile(fn, n_inputs=n, params=w + [b])
    assert cm.program.counts().get("dense", 0) == dense, cm.program.counts()
    X = np.array([x])
    want = fn([Value(v) for v in x]).data
    assert cm(X)[0, 0] == want  # exactly: the compiled sum adds in the Value path's order
    report = micrograd.check(fn, X, params=w + [b], n_inputs=n)
    assert report, str(report)


def test_permuted_inputs_go_through_a_gather_and_shared_weights_stay_scalar():
    rng = random.Random(1)
    w = [Value(rng.uniform(-1, 1)) for _ in range(8)]
    shared = Value(0.7)

    def fn(xs):
        h0 = w[0] * xs[0] + w[1] * xs[1]
        h1 = w[2] * xs[0] + w[3] * xs[1]
        # two readers of (h0, h1) in opposite orders: one of them needs a gather; a shared weight stays scalar
        return [w[4] * h1 + w[5] * h0, w[6] * h0 + w[7] * h1, shared * xs[0] + shared * xs[1]]

    cm = micrograd.compile(fn, n_inputs=2, params=w + [shared])
    counts = cm.program.counts()
    assert counts == {"gather": 1, "dense": 3, "mul": 2, "add": 1}
    X = np.random.default_rng(2).normal(size=(7, 2))
    y = np.random.default_rng(3).normal(size=7)

    def loss_fn(o, t):
        return o[0] * t + o[1] * o[2]

    ref_out, ref_loss, ref_grads = value_path(fn, w + [shared], X, y, loss_fn)
    assert_close(cm(X), ref_out)
    loss, grads = cm.loss_and_grad(X, y, loss=loss_fn)
    assert_close(grads, ref_grads)


@pytest.mark.parametrize(
    "field, index, value, message",
    [
        ("a", 1, 9999, "before they are defined"),  # operand out of range
        ("out", 1, 0, "written twice"),  # overwrites an input slot
        ("op", 0, 99, "unknown opcode"),
        ("b", 1, 3, "arity"),  # a unary op with a second operand
        ("p", 0, 10**6, "W block out of range"),
    ],
)
def test_validate_rejects_broken_programs(field, index, value, message):
    prog = micrograd.compile(nn.MLP(2, [3, 1], rng=random.Random(0))).program
    getattr(prog, field)[index] = value
    with pytest.raises(ValueError, match=message):
        ir.validate(prog)


def test_unknown_opcode_at_run_time_is_an_error_not_zero(monkeypatch):
    monkeypatch.setattr("micrograd.compiler.runtime.DEBUG_VALIDATE", False)  # the kernels' own check
    cm = micrograd.compile(nn.MLP(2, [3, 1], rng=random.Random(0)))
    cm.program.op[1] = 77
    with pytest.raises(RuntimeError, match="cannot run instruction 1"):
        cm(np.zeros((2, 2)))


def test_custom_op_is_refused_by_name():
    a = Value(2.0)
    out = Value(a.data * 3, (a,), "triple")

    def _backward():
        a.grad += 3 * out.grad

    out._backward = _backward
    with pytest.raises(ValueError, match="'triple'"):
        micrograd.compile(lambda xs: out + xs[0], n_inputs=1, params=[a])


def test_bad_shapes_and_dtypes_say_what_is_expected():
    cm = micrograd.compile(nn.MLP(3, [2]))
    with pytest.raises(ValueError, match=r"expected \(N, 3\)"):
        cm(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"expected \(N, 3\)"):
        cm(np.zeros(3))
    with pytest.raises(ValueError, match="real numbers"):
        cm(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="4 rows"):
        cm.loss_and_grad(np.zeros((4, 3)), np.zeros(5), loss="cross_entropy")
    with pytest.raises(ValueError, match="class indices"):
        cm.loss_and_grad(np.zeros((4, 3)), np.array([0, 1, 2, 0]), loss="cross_entropy")
    with pytest.raises(ValueError, match="unknown loss"):
        cm.loss_and_grad(np.zeros((4, 3)), np.zeros(4), loss="hinge2")


def test_nan_propagates_row_by_row():
    cm = micrograd.compile(nn.MLP(2, [4, 1], activation="tanh", rng=random.Random(0)))
    X = np.array([[0.5, 1.0], [np.nan, 1.0], [2.0, -1.0]])
    Y = cm(X)
    assert np.isnan(Y[1, 0]) and np.isfinite(Y[[0, 2], 0]).all()


def test_trace_and_lower_of_a_layer_is_fast_and_outputs_any_leaf():
    import time

    model = nn.MLP(200, [64, 10])
    t = time.perf_counter()
    cm = micrograd.compile(model)
    assert time.perf_counter() - t < 2.0  # 13k scalar products: a few microseconds each at most
    assert cm.program.counts() == {"dense": 2, "relu": 1}
    p = Value(1.5)
    cm2 = micrograd.compile(lambda xs: [xs[1], p, 2.0], n_inputs=2, params=[p])
    np.testing.assert_array_equal(cm2(np.array([[3.0, 4.0]])), [[4.0, 1.5, 2.0]])


def test_draw_program_shows_dense_ops_vector_ops_and_the_loss():
    from micrograd.viz import draw_program

    cm = micrograd.compile(nn.MLP(2, [16, 16, 1], rng=random.Random(0)))
    src = draw_program(cm, loss="hinge").source
    assert src.count("shape=box3d") == 3 and "dense 2→16" in src and "W 16×16  p[48:319] every 17" in src
    assert src.count('"relu ×16"') == 2
    assert "i4 -> outputs" in src and "i5 -> loss" in src and "inputs -> i0" in src and "i0 -> i1" in src
    assert "loss hinge" in src and "shape=octagon" in src  # the fused loss: one instruction
    assert f"{cm.training_program('hinge').source_nodes} scalar Value nodes → 6 instructions" in src
    assert "loss" not in draw_program(cm).source


def test_custom_loss_with_a_target_row_and_multi_output_mse():
    rng = random.Random(4)
    model = nn.MLP(3, [4, 2], activation="tanh", rng=rng)
    X = np.random.default_rng(5).normal(size=(7, 3))
    Y = np.random.default_rng(6).normal(size=(7, 2))

    def weighted(out, t):  # a user's loss over a target row of 2
        return 2.0 * (out[0] - t[0]) ** 2 + abs(out[1] - t[1])

    cm = micrograd.compile(model)
    for loss_fn, name in ((weighted, weighted), (lambda o, t: losses.mse(o, t), "mse")):
        ref_out, ref_loss, ref_grads = value_path(model, model.parameters(), X, [list(r) for r in Y], loss_fn, 1e-3)
        loss, grads = cm.loss_and_grad(X, Y, loss=name, l2=1e-3)
        assert_close(loss, ref_loss)
        assert_close(grads, ref_grads)


def test_ready_ops_of_one_kind_run_together_and_stay_equal():
    # built interleaved (tanh, exp, tanh, exp, ...); lowered as runs of one op, which the kernels' dispatch
    # predicts, in a valid order (validate ran in lower) that gives the Value path's results
    def fn(xs):
        pairs = [(x.tanh(), x.exp()) for x in xs]
        return sum(t * e for t, e in pairs)

    cm = micrograd.compile(fn, n_inputs=4, params=[])
    names = [ir.OP_NAMES[c] for c in cm.program.op]
    assert names[:8] == ["tanh"] * 4 + ["exp"] * 4 or names[:8] == ["exp"] * 4 + ["tanh"] * 4
    assert names[8:12] == ["mul"] * 4
    X = np.random.default_rng(2).normal(size=(1, 4))
    assert_close(cm(X), value_path(fn, [], X, np.zeros(1), lambda o, t: o, 0.0)[0])


# ---------------------------------------------------------------- what the loss depends on; the layout
def test_backward_visits_only_what_the_loss_depends_on():
    # exp(800) = inf is an output the loss does not read: backward must not go through it (0 * inf = NaN)
    p = Value(1.0)

    def fn(xs):
        return [(xs[0] * p).exp(), xs[0] * p]

    def loss_fn(o, t):
        return o[1] * t

    X, y = np.array([[800.0]]), np.array([1.0])
    cm = micrograd.compile(fn, n_inputs=1, params=[p])
    _, ref_loss, ref_grads = value_path(fn, [p], X, y, loss_fn)
    loss, grads = cm.loss_and_grad(X, y, loss=loss_fn)
    assert np.isfinite(grads).all()
    assert_close(loss, ref_loss)
    assert_close(grads, ref_grads)
    assert "exp" not in cm.training_program(loss_fn).counts()  # not computed at all
    assert np.isinf(cm(X)[0, 0])  # the model's own output is still there
    cm.fit(X, y, loss=loss_fn, optimizer=optim.SGD([p], lr=0.5))
    assert p.data == 1.0 - 0.5 * ref_grads[0]


def test_unread_rows_of_a_layer_do_not_poison_its_gradients():
    # the loss reads one output of an exp layer whose other outputs overflow: a backward over the whole
    # block would multiply their inf by a zero gradient into the weights of the unread rows
    neurons = [nn.Neuron(2, nonlin=False, rng=random.Random(j)) for j in range(3)]
    for n, w in zip(neurons, (0.001, 1.0, -1.0)):
        n.w[0].data = n.w[1].data = w
    params = [p for n in neurons for p in n.parameters()]

    def fn(xs):
        return [n(xs).exp() for n in neurons]

    def loss_fn(o, t):
        return o[0] * t

    X, y = np.array([[400.0, 400.0], [-400.0, -400.0], [1.0, 2.0]]), np.array([1.0, 2.0, 3.0])
    cm = micrograd.compile(fn, n_inputs=2, params=params)
    assert cm.program.counts() == {"dense": 1, "exp": 1}
    _, ref_loss, ref_grads = value_path(fn, params, X, y, loss_fn)
    loss, grads = cm.loss_and_grad(X, y, loss=loss_fn)
    assert np.isfinite(grads).all() and not ref_grads[3:].any()
    assert_close(loss, ref_loss)
    assert_close(grads, ref_grads)


def _three_outputs(kind):
    """Outputs that are an input, a two-layer chain and a dot of a shifted input: a loss over them fuses
    differently from the forward program."""
    if kind == "values":
        w1, b1, w2, b2, w3, b3 = (Value(v) for v in (0.5, 0.1, -0.3, 0.2, 0.7, -0.4))
        return (
            lambda xs: [xs[0], b2 + w2 * (b1 + w1 * xs[0]).sigmoid(), b3 + w3 * (xs[0] - 1.0)],
            [w1, b1, w2, b2, w3, b3],
        )
    n1 = nn.Neuron(1, activation="sigmoid", rng=random.Random(1))
    n2, n3 = (nn.Neuron(1, nonlin=False, rng=random.Random(j)) for j in (2, 3))
    for n, b in ((n1, 0.1), (n2, 0.2), (n3, -0.4)):
        n.b.data = b
    return lambda xs: [xs[0], n2([n1(xs)]), n3([xs[0] - 1.0])], n1.parameters() + n2.parameters() + n3.parameters()


@pytest.mark.parametrize("kind", ["values", "neurons"])
def test_every_program_reads_the_parameters_in_the_models_order(kind):
    # theta is params in their own order, whatever the loss: a DENSE reads its rows where they are
    fn, params = _three_outputs(kind)
    cm = micrograd.compile(fn, n_inputs=1, params=params)
    X = np.array([[0.5], [-1.5], [2.0]])
    Y = np.random.default_rng(7).normal(size=(3, 3))

    def custom(o, t):  # reads two of the three outputs
        return o[2] * t[0] + o[1] * t[1]

    for loss, ref_loss_fn, width in (("mse", losses.mse, None), (custom, custom, 3)):
        ref_out, ref_loss, ref_grads = value_path(fn, params, X, [list(r) for r in Y], ref_loss_fn, 1e-3)
        loss_value, grads = cm.loss_and_grad(X, Y, loss=loss, l2=1e-3)
        assert_close(loss_value, ref_loss)
        assert_close(grads, ref_grads)
        assert cm.training_program(loss, width).n_params == len(params)
    assert [p.data for p in params] == cm.theta.tolist()
    assert_close(cm(X), ref_out)


def test_a_loss_that_reads_a_weight_keeps_the_gradients():
    # the loss reads a weight in the middle of a layer's W block: that row is no longer a dot product in
    # the training graph, so the layer runs as the rows before and after it
    model = nn.MLP(3, [4, 2], rng=random.Random(3))
    w = model.layers[0].neurons[1].w[2]

    def loss_fn(o, t):
        return (o[0] - t) ** 2 + 0.1 * w * w

    cm = micrograd.compile(model)
    X = np.random.default_rng(8).normal(size=(5, 3))
    y = np.random.default_rng(9).normal(size=5)
    _, ref_loss, ref_grads = value_path(model, model.parameters(), X, y, loss_fn)
    loss, grads = cm.loss_and_grad(X, y, loss=loss_fn)
    assert_close(loss, ref_loss)
    assert_close(grads, ref_grads)
    prog = cm.training_program(loss_fn)
    # the layer runs as the rows before and after that row, and the row's own first two terms (b + w0*x0 + w1*x1)
    assert prog.counts()["dense"] == 4 and cm.program.counts()["dense"] == 2
