"""Argument checks of the compiled path (compiler.arguments): every bad argument of compile, cm(X),
loss_and_grad and fit is refused by name and leaves the model as it was; label rules hold on both paths."""

import random
import re

import numpy as np
import pytest

import micrograd
from micrograd import losses, nn, optim
from micrograd.engine import Value

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


@pytest.mark.parametrize(
    "module, width",
    [
        (nn.MLP(3, [2, 1], rng=0), 3),
        (nn.MLP(3, [2, 1], rng=0).layers[0], 3),
        (nn.Layer(4, 1, rng=0), 4),
        (nn.Neuron(2, activation="tanh", rng=0), 2),
        (nn.Neuron(0, rng=0), 0),  # a function of its parameters alone
        (nn.MLP(0, [2], rng=0), 0),
    ],
    ids=["MLP", "its first layer", "a layer of one neuron", "Neuron", "Neuron of no inputs", "MLP of no inputs"],
)
def test_compile_infers_the_input_width_of_every_nn_module(module, width):
    for p in module.parameters():  # biases away from 0, so a bias-only output is not trivially 0
        p.data += 0.5
    cm = micrograd.compile(module)
    assert cm.n_inputs == width
    X = np.random.default_rng(0).normal(size=(3, width))
    want = []
    for x in X:
        out = module([float(v) for v in x])
        want.append([o.data for o in out] if isinstance(out, list) else [out.data])
    np.testing.assert_allclose(cm(X), want, rtol=1e-13, atol=1e-15)


def test_fit_refuses_an_optimizer_without_a_compiled_update():
    class Plain(optim.Optimizer):
        def step(self):
            for p in self.params:
                p.data -= 0.1 * p.grad

    m = nn.MLP(2, [3, 1], rng=0)
    with pytest.raises(TypeError, match="Plain has none.*loss_and_grad"):
        micrograd.compile(m).fit(X4, Y4, optimizer=Plain(m.parameters(), lr=0.1))


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


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("loss", sorted(losses.REGISTRY))
def test_labels_as_a_float64_vector_are_taken_as_the_full_checks_take_them(loss, n_outputs):
    from micrograd.compiler import arguments

    y = np.array([1.0, 0.0, 1.0, 2.0])
    try:  # the same labels as a list: the checks that convert them
        want = arguments.targets(y.tolist(), 4, loss, n_outputs, None, np.dtype(np.float64))
    except ValueError as e:
        with pytest.raises(ValueError, match=re.escape(str(e))):
            arguments.targets(y, 4, loss, n_outputs, None, np.dtype(np.float64))
        return
    Y, width = arguments.targets(y, 4, loss, n_outputs, None, np.dtype(np.float64))
    assert width == want[1] and Y.shape == want[0].shape and Y.tolist() == want[0].tolist()
    assert Y.base is y  # a view, not a copy
