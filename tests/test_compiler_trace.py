"""Tracing (compiler.trace): a node the compiler cannot run is refused by name at compile, and the
placeholder data a model is traced with never decides whether a valid graph compiles."""

import numpy as np
import pytest

import micrograd
from micrograd.engine import Value
from tests.value_oracle import assert_close


def test_a_replaced_backward_on_an_op_node_is_refused_by_name():
    p = Value(2.0)

    def model(xs):
        z = xs[0] * p
        z._backward = lambda: None
        return z.tanh()

    with pytest.raises(ValueError, match=r"op '\*'.*_backward was replaced by hand"):
        micrograd.compile(model, n_inputs=1, params=[p])


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
