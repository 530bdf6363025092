"""Value graphs as a whole: random expression graphs built by hypothesis from the op table
(shared sub-expressions, x*x, diamonds, constants on either side) against central differences;
a 200,000-node chain; a node used many times; micrograd-style custom ops."""

import copy
import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd import engine
from micrograd.engine import Value, topological_order
from tests.op_cases import CASES
from tests.system import require

OPNAMES = sorted(CASES)
SMOOTH = "tanh"  # what an op becomes where it would leave its domain, hit a kink or blow up
INFIX = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "powv": lambda a, b: a**b,
}


def _safe(name, a, b):
    """True when op `name` on data a (and b) is well inside its domain and away from kinks."""
    case = CASES[name]
    if case.kinks and abs(a) < 0.05:
        return False
    if name in ("log", "powv") and a < 0.2:
        return False
    if name == "div" and abs(b) < 0.2:
        return False
    if name == "powv" and abs(b) > 3:
        return False
    if name == "exp" and a > 5:
        return False
    return True


def run_program(leaves, steps, plan=None):
    """Evaluate the program; the first run (plan=None) fixes which steps must be replaced by tanh
    so every later run (perturbed leaves) builds the very same graph. Returns (nodes, plan)."""
    nodes = [Value(x) for x in leaves]
    decided = []
    for k, (name, i, j, side, c) in enumerate(steps):
        a = nodes[i % len(nodes)]
        b = nodes[j % len(nodes)]  # may be a itself (x*x) or any earlier node (diamonds)
        case = CASES[name]
        if case.arity == 1 or side == "both" or name not in INFIX:
            ok = _safe(name, a.data, b.data) if plan is None else plan[k]
            out = case.build(a, b, case.arg) if ok else getattr(a, SMOOTH)()
        else:  # a plain number on one side exercises the reflected operators
            c = abs(c) + 0.5 if name == "powv" else c
            left, right = (c, a) if side == "left" else (a, c)
            ok = (
                _safe(name, left if side == "left" else a.data, right if side == "right" else a.data)
                if plan is None
                else plan[k]
            )
            out = INFIX[name](left, right) if ok else getattr(a, SMOOTH)()
        if plan is None and ok and not abs(out.data) < 1e4:  # keep every intermediate moderate
            ok = False
            out = getattr(a, SMOOTH)()
        decided.append(ok)
        nodes.append(out)
    return nodes, decided


step = st.tuples(
    st.sampled_from(OPNAMES),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.sampled_from(["both", "left", "right"]),
    st.floats(-2.0, 2.0),
)


@settings(max_examples=300)
@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=4), st.lists(step, min_size=1, max_size=14))
def test_random_graphs_backward_matches_central_differences(leaves, steps):
    nodes, plan = run_program(leaves, steps)
    root = sum(nodes[-3:])  # several outputs feed the root: more sharing
    root.backward()
    eps = 1e-6
    scale = max(abs(n.data) for n in nodes) + abs(root.data)

    def f(xs):
        ns, _ = run_program(xs, steps, plan)
        return sum(ns[-3:]).data

    for i, leaf in enumerate(nodes[: len(leaves)]):
        up, down = list(leaves), list(leaves)
        up[i] += eps
        down[i] -= eps
        numeric = (f(up) - f(down)) / (2 * eps)
        assert abs(leaf.grad - numeric) <= 1e-4 * abs(numeric) + 1e-6 + 1e-13 * scale / eps, (
            i,
            leaf.grad,
            numeric,
            steps,
        )


@pytest.mark.slow
def test_deep_chain_of_200000_nodes_backpropagates():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = (y * 1.0) + 0.0  # two nodes per step, plus the constants' leaves
    y.backward()
    assert x.grad == 1.0
    assert len(topological_order([y])) > 200_000


def test_node_used_many_times_accumulates():
    x = Value(1.5)
    y = sum((x * x for _ in range(1000)), Value(0.0)) + x * 3.0  # 1000 x^2 + 3x
    y.backward()
    assert x.grad == 2000 * 1.5 + 3.0
    z = Value(2.0)
    w = z * z * z  # x*x keeps both operands
    w.backward()
    assert z.grad == 12.0


def test_diamond_and_reused_subexpression():
    a = Value(0.3)
    b = a.tanh()
    c = b * b + b.exp() - b / (b + 1.0)  # b feeds three paths
    c.backward()
    t = math.tanh(0.3)
    dc_db = 2 * t + math.exp(t) - 1.0 / (t + 1.0) ** 2
    assert abs(a.grad - dc_db * (1 - t * t)) < 1e-15


def test_backward_twice_accumulates_like_micrograd_and_warns_once(monkeypatch):
    monkeypatch.setattr(engine, "_warned_backward_again", False)
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    c.backward()
    with pytest.warns(RuntimeWarning) as record:
        c.backward()
        c.backward()
    assert (a.grad, b.grad) == (-9.0, 6.0)  # micrograd's numbers: every backward adds its gradients
    assert len(record) == 1, [str(w.message) for w in record]
    msg = str(record[0].message)
    assert "zero_grad()" in msg and "again" in msg
    assert record[0].filename == __file__  # the warning points at the caller's line


def test_backward_twice_over_a_deeper_graph_counts_the_inner_gradients_again(monkeypatch):
    """The case the warning is for: inner nodes keep their gradients, so a second backward() adds 2x."""
    monkeypatch.setattr(engine, "_warned_backward_again", False)
    x = Value(3.0)
    h = x * 2.0
    y = h * h  # dy/dx = 8x = 24
    y.backward()
    assert x.grad == 24.0
    with pytest.warns(RuntimeWarning, match=r"zero_grad\(\)"):
        y.backward()
    assert x.grad == 24.0 + 48.0  # micrograd: h.grad was 12, becomes 24, and all of it flows to x again


def test_fresh_graphs_over_the_same_leaves_accumulate_without_a_warning(monkeypatch):
    """Accumulating the gradients of several graphs (one per example) is a legitimate pattern."""
    import warnings

    monkeypatch.setattr(engine, "_warned_backward_again", False)
    w = Value(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (1.0, 2.0, 3.0):
            (w * x).tanh().backward()
        Value(1.0).backward()  # a leaf: nothing to accumulate twice
        Value(1.0).backward()
    assert w.grad == pytest.approx(sum(x * (1 - math.tanh(0.5 * x) ** 2) for x in (1.0, 2.0, 3.0)), rel=1e-15)


def test_micrograd_style_custom_op_with_hand_written_backward():
    def cube(v):  # written the way micrograd's engine writes its ops
        out = Value(v.data**3, (v,), "cube")

        def _backward():
            v.grad += 3 * v.data**2 * out.grad

        out._backward = _backward
        return out

    x = Value(1.5)
    y = cube(x.tanh()) * 2.0
    y.backward()
    t = math.tanh(1.5)
    assert abs(x.grad - 2.0 * 3 * t * t * (1 - t * t)) < 1e-15
    assert y._prev and cube(x)._op == "cube" and cube(x)._prev == {x}


def test_numbers_on_either_side():
    v = Value(4.0)
    assert ((2 - v).data, (2 / v).data, (2 ** Value(3)).data, (3 + v).data, (3 * v).data) == (-2.0, 0.5, 8.0, 7.0, 12.0)


# ---------------------------------------------------------------- one IEEE rule (ops.py's contract)
INF = math.inf
# (build from leaves, leaves' data, closed-form output, closed-form leaf grads)
IEEE_CASES = {
    "x**0 at 0": (lambda x: x**0, [0.0], 1.0, [0.0]),  # PyTorch: 0, not 0 * 0**-1 = NaN
    "x**0 at 3": (lambda x: x**0, [3.0], 1.0, [0.0]),
    "x**400 at 10": (lambda x: x**400, [10.0], INF, [INF]),  # forward and backward overflow
    "x**401 at -10": (lambda x: x**401, [-10.0], -INF, [INF]),  # an odd power keeps the sign
    "x**400 at -10": (lambda x: x**400, [-10.0], INF, [-INF]),
    "x**-400 at 1e-2": (lambda x: x**-400, [1e-2], INF, [-INF]),
    "x**0.5 at 0": (lambda x: x**0.5, [0.0], 0.0, [INF]),  # infinite slope at a valid point
    "x**y at 10, 400": (lambda x, y: x**y, [10.0, 400.0], INF, [INF, INF]),
    "x**y at 0.5, -2000": (lambda x, y: x**y, [0.5, -2000.0], INF, [-INF, -INF]),
    "exp(1000)": (lambda x: x.exp(), [1000.0], INF, [INF]),
    "3 / 1e-200": (lambda x, y: x / y, [3.0, 1e-200], 3e200, [1e200, -INF]),  # y*y underflows to 0
}


@pytest.mark.parametrize("name", IEEE_CASES)
def test_one_ieee_rule_forward_and_backward(name):
    build, data, out, grads = IEEE_CASES[name]
    leaves = [Value(d) for d in data]
    y = build(*leaves)
    assert y.data == out
    y.backward()  # never raises: overflow gives +-inf as exp does
    assert [v.grad for v in leaves] == grads


@pytest.mark.system
@pytest.mark.parametrize("name", IEEE_CASES)
def test_one_ieee_rule_matches_pytorch_float64(name):
    torch = require("torch")
    build, data, _, _ = IEEE_CASES[name]
    leaves = [Value(d) for d in data]
    y = build(*leaves)
    y.backward()
    ts = [torch.tensor(d, dtype=torch.float64, requires_grad=True) for d in data]
    ty = build(*ts) if name != "exp(1000)" else ts[0].exp()
    ty.backward()
    assert y.data == ty.item()
    assert [v.grad for v in leaves] == [t.grad.item() for t in ts]


@pytest.mark.parametrize("name", IEEE_CASES)
def test_the_compiled_path_follows_the_same_rule(name):
    """The kernels are IEEE already (Numba, error_model='numpy'): the Value path must agree with them."""
    import numpy as np

    import micrograd

    build, data, out, grads = IEEE_CASES[name]
    params = [Value(d) for d in data]
    cm = micrograd.compile(lambda xs: [build(*params) + xs[0] * 0.0], n_inputs=1, params=params)
    pred = cm(np.zeros((1, 1)))
    assert float(np.asarray(pred).ravel()[0]) == out or (math.isnan(out) and math.isnan(pred))
    _, g = cm.loss_and_grad(np.zeros((1, 1)), np.zeros(1), loss=lambda o, t: o)  # one output: one Value
    assert list(np.asarray(g, dtype=float).ravel()) == grads


def test_domain_errors_still_raise_in_the_forward():
    for expr, error in [
        (lambda: Value(0.0).log(), ValueError),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError),
        (lambda: Value(0.0) ** -1, ValueError),
        (lambda: Value(-2.0) ** 0.5, ValueError),
        (lambda: Value(-2.0) ** Value(2.0), ValueError),
    ]:
        with pytest.raises(error):
            expr()


def test_the_value_path_never_loads_numba():
    """The IEEE fallback is plain Python; Numba belongs to the compiled path."""
    import subprocess
    import sys

    code = (
        "import sys; from micrograd.engine import Value\n"
        "x = Value(10.0); y = x ** 400 + x ** Value(400.0) + (x * 1e300) / Value(1e-200); y.backward()\n"
        "assert y.data == float('inf') and x.grad == float('inf'), (y.data, x.grad)\n"
        "print('numba' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_ieee_pow_agrees_with_numpy_power():
    """micrograd.ieee.ieee_pow against NumPy's float64 power (IEEE 754 / C99) where math.pow raises."""
    import numpy as np

    from micrograd.ieee import ieee_pow

    cases = [
        (10.0, 400.0),
        (-10.0, 401.0),
        (-10.0, 400.0),
        (0.5, -2000.0),
        (-0.5, -2001.0),
        (0.0, -1.0),
        (-0.0, -1.0),
        (-0.0, -2.0),
        (0.0, -0.5),
        (-2.0, 0.5),
        (2.0, 10.0),
        (1e-300, -2.0),
    ]
    with np.errstate(all="ignore"):
        for x, y in cases:
            want = float(np.power(np.float64(x), np.float64(y)))
            got = ieee_pow(x, y)
            assert got == want or (math.isnan(got) and math.isnan(want)), (x, y, got, want)
            assert math.copysign(1.0, got) == math.copysign(1.0, want) or math.isnan(want), (x, y)


def test_float_of_a_value_is_its_data():
    v = Value(2.0) * Value(1.5)
    assert float(v) == 3.0 and type(float(v)) is float
    assert math.isclose(float(Value(-0.25).tanh()), math.tanh(-0.25), rel_tol=0, abs_tol=0)


# ---------------------------------------------------------------- copies and pickles of graphs
def _chain(n):
    x = Value(0.5, label="x")
    y = x
    for _ in range(n):
        y = (y * 1.0) + 0.0
    return x, y


@pytest.mark.slow
@pytest.mark.parametrize(
    "copy_of", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))], ids=["deepcopy", "pickle"]
)
def test_a_chain_100000_deep_copies_without_recursion(copy_of):
    x, y = _chain(100_000)
    z = copy_of(y)
    nodes = topological_order([z])
    assert len(nodes) == len(topological_order([y])) and z.data == y.data
    assert not {id(v) for v in nodes} & {id(v) for v in topological_order([y])}  # every node is new
    z.backward()  # the copy is a working graph of its own
    assert nodes[0].label == "x" and nodes[0].grad == 1.0 and x.grad == 0.0


def _same_graph(a, b):
    """a and b: graphs of the same shape, ops, data and grads, with no node in common."""
    na, nb = topological_order([a]), topological_order([b])
    assert len(na) == len(nb) and not {id(v) for v in na} & {id(v) for v in nb}
    for u, v in zip(na, nb):
        assert (u.data, u.grad, u._code, u._arg, u._op, u.label) == (v.data, v.grad, v._code, v._arg, v._op, v.label)
        assert [na.index(c) for c in u._children] == [nb.index(c) for c in v._children]


@pytest.mark.parametrize(
    "copy_of", [copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))], ids=["deepcopy", "pickle"]
)
def test_copies_keep_shared_nodes_operand_order_and_grads(copy_of):
    a, b = Value(2.0, label="a"), Value(-3.0)
    h = (a * b).tanh()
    out = h * h + h.exp() - a**2 + b.prelu(Value(0.25)) + a * a  # h and a shared, x*x keeps both operands
    out.backward()
    twin = copy_of(out)
    _same_graph(out, twin)
    h2, out2 = copy_of([h, out])  # copied together: the leaves stay shared (a, b, the slope)
    leaves = {id(v) for v in topological_order([h2]) if not v._children}
    assert len(leaves) == 2 and leaves <= {id(v) for v in topological_order([out2])}


def test_deepcopy_keeps_every_shared_node_shared():
    a = Value(2.0)
    h = (a * 3.0).tanh()
    out = h * h + h.exp()
    h2, out2 = copy.deepcopy([h, out])
    assert any(v is h2 for v in topological_order([out2])) and not any(v is h for v in topological_order([out2]))


def test_a_shallow_copy_of_a_node_shares_its_operands():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    d = copy.copy(c)
    assert d is not c and d._children == (a, b) and d._children[0] is a and (d.data, d._op) == (6.0, "*")
