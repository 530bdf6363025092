"""gradcheck: passes on correct derivatives, catches a hand-written wrong one, restores its inputs."""

import math

import pytest

import micrograd
from micrograd.engine import Value
from micrograd.gradcheck import GradcheckResult, gradcheck


def buggy_square(v):
    """A micrograd-style custom op whose _backward forgets the factor 2."""
    out = Value(v.data**2, (v,), "square")

    def _backward():
        v.grad += v.data * out.grad  # wrong: should be 2 * v.data

    out._backward = _backward
    return out


def test_correct_gradients_pass():
    r = micrograd.gradcheck(lambda a, b, c: (a * b).tanh() + c.log() * a**2 - b / c, [0.7, -1.3, 2.1])
    assert isinstance(r, GradcheckResult) and r.passed and bool(r) and r.mismatches == []
    a, b, c = 0.7, -1.3, 2.1
    t = math.tanh(a * b)
    assert r.analytic == pytest.approx(
        [(1 - t * t) * b + 2 * a * math.log(c), (1 - t * t) * a - 1 / c, a * a / c + b / c**2], rel=1e-14
    )


def test_a_wrong_derivative_is_caught_and_reported():
    r = gradcheck(lambda a, b: buggy_square(a) * b + b, [1.5, 2.0])
    assert not r.passed and r.mismatches == [0]
    assert r.numeric[0] == pytest.approx(2 * 1.5 * 2.0, rel=1e-8) and r.analytic[0] == 1.5 * 2.0
    text = str(r)
    assert "FAILED at inputs [0]" in text and "NO" in text.splitlines()[1]


def test_inputs_are_restored_and_numbers_accepted():
    x = Value(0.4)
    x.grad = 7.0
    r = gradcheck(lambda a, b: a.exp() * b, [x, 3.0])
    assert r.passed and x.data == 0.4 and x.grad == 7.0
    assert r.inputs == [0.4, 3.0]


def test_undefined_neighbourhood_and_non_value_results():
    r = gradcheck(lambda a: a.log(), [1e-7])  # x - eps <= 0: no central difference there
    assert not r.passed and math.isnan(r.numeric[0])
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda a: 3.0, [1.0])
