"""Every op of the table on the Value path: against its closed form (tests/op_cases.py, mpmath),
against central differences on hypothesis inputs (ordinary and huge magnitudes), NaN/inf
propagation, and clear errors on domain violations."""

import inspect
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from micrograd import ops
from micrograd.engine import Value
from tests.op_cases import CASES, same_float

NAMES = sorted(CASES)


def test_every_op_of_the_table_has_a_case():
    table = {op.name: op.arity for op in ops.OPS}
    assert set(table) - set(CASES) == set(), "ops without a test case in tests/op_cases.py"
    assert set(CASES) - set(table) == set(), "test cases for ops that are not in the table"
    assert all(CASES[n].arity == table[n] for n in table)


@pytest.mark.parametrize("name", NAMES)
def test_build_makes_one_node_of_that_op(name):
    case = CASES[name]
    a, b = Value(0.7), Value(1.3)
    out = case.build(a, b, case.arg)
    assert out._code == ops.BY_NAME[name].code
    assert out._children == ((a, b) if case.arity == 2 else (a,))
    if case.arity == 1:
        assert out._arg == case.arg


def _forward_backward(case, x, y):
    a, b = Value(x), Value(y)
    out = case.build(a, b, case.arg)
    out.backward()
    return out.data, a.grad, b.grad


def _inputs(rng_x, rng_y):
    return st.tuples(st.floats(*rng_x, allow_nan=False), st.floats(*rng_y, allow_nan=False))


def _check_closed_form(case, x, y):
    assume(case.valid(x, y, case.arg))
    out, dx, dy = _forward_backward(case, x, y)
    # logaddexp cancels when the result is near 0: its error is relative to the inputs' size
    scale = 4e-16 * max(1.0, abs(x), abs(y)) if case.name == "logaddexp" else 1e-300
    assert same_float(out, case.value(x, y), rel=1e-14, abs_=scale), (x, y, out, case.value(x, y))
    ex, ey = case.grads(x, y)
    # 1 - tanh^2, out + alpha (elu, selu) and out*(1-out) cancel: ~1 ulp of 1 absolute error
    assert same_float(dx, ex, rel=1e-12, abs_=1e-15), ("d/dx", x, y, dx, ex)
    if case.arity == 2:
        assert same_float(dy, ey, rel=1e-12, abs_=1e-15), ("d/dy", x, y, dy, ey)


@pytest.mark.parametrize("name", NAMES)
def test_value_and_derivatives_match_closed_form(name):
    case = CASES[name]
    given(_inputs(case.x, case.y))(lambda xy: _check_closed_form(case, *xy))()


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n].big])
def test_large_magnitudes_match_closed_form(name):
    case = CASES[name]
    given(_inputs(*case.big))(lambda xy: _check_closed_form(case, *xy))()


def central_difference(f, xs, i, eps):
    up, down = list(xs), list(xs)
    up[i] += eps
    down[i] -= eps
    return (f(up) - f(down)) / (2 * eps)


def _check_finite_differences(case, x, y):
    assume(case.valid(x, y, case.arg))
    eps = [1e-6 * max(1.0, abs(x)), 1e-6 * max(1.0, abs(y))]
    assume(all(abs(x - k) > 10 * eps[0] for k in case.kinks))
    out, dx, dy = _forward_backward(case, x, y)

    def f(v):
        return case.build(Value(v[0]), Value(v[1]), case.arg).data

    for i, analytic in enumerate((dx, dy)[: case.arity]):
        if not case.valid(x - eps[0] * (i == 0), y - eps[1] * (i == 1), case.arg):
            continue
        numeric = central_difference(f, [x, y], i, eps[i])
        # truncation ~eps^2 f''' (relative), round-off ~ulp(out)/eps (absolute)
        assert abs(analytic - numeric) <= 1e-5 * abs(numeric) + 1e-8 + 1e-13 * abs(out) / eps[i], (
            case.name,
            i,
            x,
            y,
            analytic,
            numeric,
        )


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    case = CASES[name]
    given(_inputs(case.x, case.y))(lambda xy: _check_finite_differences(case, *xy))()


SPECIAL = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_infinities_follow_ieee(name):
    """NaN propagates (except where the op ignores that operand, e.g. prelu's slope for x > 0), infinities
    give the closed form's limit; no exception forward or backward."""
    case = CASES[name]
    ys = SPECIAL + [0.5] if case.arity == 2 else [0.5]
    for x, y in [(x, y) for x in SPECIAL + [0.5] for y in ys if not (x == 0.5 and y == 0.5)]:
        if not case.valid(x, y, case.arg):
            continue
        expected = case.value(x, y)  # mpmath's limit; NaN where the form is indeterminate
        out = case.build(Value(x), Value(y), case.arg)
        assert same_float(out.data, expected), (x, y, out.data, expected)
        out.backward()


X_FREE = {"add", "sub", "mul", "div", "neg"}  # ops whose d/dx does not read x (1, 1, y, 1/y, -1)
Y_FREE = {"add", "sub"}  # binary ops whose d/dy does not read x


@pytest.mark.parametrize("name", NAMES)
def test_nan_in_nan_out_derivatives_included(name):
    """At x = NaN every op gives NaN, and so does every local derivative that reads x: a piecewise op
    (ops.PIECEWISE: a branch on the sign of x) has no branch to take, so all its derivatives are NaN."""
    case, op = CASES[name], ops.BY_NAME[name]
    out, dx, dy = _forward_backward(case, math.nan, 0.5)
    assert math.isnan(out) or (name == "pow" and case.arg == 0.0)
    assert math.isnan(dx) == (name not in X_FREE), (name, dx)
    if case.arity == 2:
        assert math.isnan(dy) == (name not in Y_FREE), (name, dy)
    if op.code in ops.PIECEWISE:  # the table's functions themselves, for both operands
        d = op.backward(math.nan, 0.5, case.arg, op.forward(math.nan, 0.5, case.arg))
        assert math.isnan(d[0]) and (op.arity == 1 or math.isnan(d[1])), (name, d)


def test_the_piecewise_ops_are_the_ops_that_branch_on_the_sign_of_x():
    """Each op of PIECEWISE changes formula at x = 0 (its closed form has a kink there); no other op does."""
    kinked = {name for name in NAMES if 0.0 in CASES[name].kinks}
    assert {ops.OPS[c].name for c in ops.PIECEWISE} == kinked == {"relu", "abs", "leaky_relu", "prelu", "elu", "selu"}


@pytest.mark.parametrize(
    "expr, error, words",
    [
        (lambda: Value(0.0).log(), ValueError, ["log", "0.0"]),
        (lambda: Value(-2.0).log(), ValueError, ["log", "-2.0"]),
        (lambda: Value(0.0) ** -1, ValueError, ["0.0", "-1"]),
        (lambda: Value(-8.0) ** 0.5, ValueError, ["-8.0", "0.5"]),
        (lambda: Value(3.0) / 0, ZeroDivisionError, ["division", "3.0"]),
        (lambda: 3.0 / Value(0.0), ZeroDivisionError, ["division", "3.0"]),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, ["-2.0", "positive"]),
        (lambda: Value("a"), TypeError, ["'a'", "str"]),
        (lambda: Value(None), TypeError, ["None"]),
        (lambda: Value([1]), TypeError, ["[1]", "list"]),
        (lambda: Value(1.0) ** "2", TypeError, ["'2'"]),
    ],
)
def test_bad_inputs_raise_clear_errors(expr, error, words):
    with pytest.raises(error) as info:
        expr()
    message = str(info.value)
    assert "math domain error" not in message
    for w in words:
        assert w in message, (w, message)


@pytest.mark.parametrize("exponent", [-1, -2, 0.5, 2, 1.5, 0])
def test_pow_with_other_constant_exponents(exponent):
    for x in (0.3, 1.7, 4.0):
        a = Value(x)
        out = a**exponent
        out.backward()
        assert same_float(out.data, x**exponent, rel=1e-15)
        assert same_float(a.grad, exponent * x ** (exponent - 1), rel=1e-14)
        assert out._op == f"**{exponent}"


def test_micrograd_op_symbols():
    a, b = Value(2.0), Value(3.0)
    assert [v._op for v in (a + b, a * b, a**2, a.relu(), a.tanh())] == ["+", "*", "**2", "ReLU", "tanh"]
    assert (a + b)._prev == {a, b} and (a * a)._prev == {a} and (a * a)._children == (a, a)


def test_opcodes_are_explicit_constants_not_globals_update():
    source = inspect.getsource(ops)
    assert "globals()" not in source
    for op in ops.OPS:
        assert getattr(ops, op.name.upper()) == op.code, op.name
    assert "pow" not in vars(ops), "ops.pow would shadow the builtin in `from micrograd.ops import *`"
    assert ops.BY_NAME["pow"].forward is ops.pow_
