"""Tracing (compiler.trace): a node the compiler cannot run is refused by name at compile, the
placeholder data a model is traced with never decides whether a valid graph compiles, the walk gives
engine.topological_order's order (iteratively), and nothing keeps the traced graph after compile."""

import gc
import random

import numpy as np
import pytest

import micrograd
from micrograd import nn
from micrograd.compiler import trace
from micrograd.engine import Value, topological_order
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


def _random_graph(rng: random.Random) -> list:
    """Roots of a random graph: shared operands, x*x, deep stretches, constants, and nodes built by hand
    micrograd-style with one to four operands."""
    nodes = [Value(rng.random()) for _ in range(rng.randint(1, 6))]
    for _ in range(rng.randint(0, 60)):

        def pick():
            return rng.choice(nodes[-8:] if rng.random() < 0.5 else nodes)

        k = rng.random()
        if k < 0.4:
            v = pick() * pick()
        elif k < 0.6:
            v = pick() + pick()
        elif k < 0.8:
            v = pick().tanh()
        elif k < 0.9:
            v = Value(1.0, tuple(pick() for _ in range(rng.randint(1, 4))), "custom")
        else:
            v = pick() + rng.random()
        nodes.append(v)
    return [rng.choice(nodes) for _ in range(rng.randint(1, 4))]


def test_walk_gives_the_topological_order_and_the_operand_positions():
    rng = random.Random(0)
    for _ in range(300):
        roots = _random_graph(rng)
        nodes, pos, a, b = trace.walk(roots)
        assert [id(v) for v in nodes] == [id(v) for v in topological_order(roots)]
        assert all(pos[v] == i for i, v in enumerate(nodes))
        first = [pos[v._children[0]] if v._children else -1 for v in nodes]
        second = [pos[v._children[1]] if len(v._children) > 1 else -1 for v in nodes]
        assert a.tolist() == first and b.tolist() == second


def test_graph_columns_count_uses_and_classify_leaves():
    x, p, q = Value(0.5), Value(2.0), Value(3.0)
    y = x * p
    z = y * y + q  # y read twice, q once, the constant 1.0 once
    g = trace.Graph([z, y], [x], [], [p, q, p])  # p listed twice: its first listing wins
    code, uses = g.code.tolist(), g.uses.tolist()
    at = {name: code.index(kind) for name, kind in (("x", trace.INPUT), ("p", trace.PARAM))}
    assert g.leaf[at["p"]] == 0 and uses[at["p"]] == 1 and g.inputs == [at["x"]]
    assert uses[g.roots[1]] == 3  # y: two operand references and one root
    assert g.n_params == 3 and len(g) == 6


@pytest.mark.slow
def test_a_chain_200000_deep_compiles():
    def chain(xs):
        v = xs[0]
        for i in range(200_000):
            v = v.tanh() if i % 2 else v * 0.5
        return v

    cm = micrograd.compile(chain, n_inputs=1, params=[])
    assert cm.program.counts() == {"mul": 100_000, "tanh": 100_000}


def _live_values() -> int:
    gc.collect()
    return sum(issubclass(type(o), Value) for o in gc.get_objects())  # type(): a dead weak proxy raises on isinstance


def test_compile_keeps_no_reference_to_the_traced_graph():
    model = nn.MLP(6, [5, 3], rng=0)
    model([1.0] * 6)  # a real call: what diagrams draw, kept by the modules' _last_io
    io, layer_io = model._last_io, model.layers[1]._last_io
    before = _live_values()
    cm = micrograd.compile(model)
    cm.training_program(lambda out, y: (out[0] - y[0]) ** 2, 1)  # a loss built from Values: traced again
    assert _live_values() == before  # the model's own Values only, none of the two traced graphs
    assert model._last_io is io and model.layers[1]._last_io is layer_io
