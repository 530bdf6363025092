"""Graphs for the diagrams: micrograd's tanh neuron, a deep sigmoid network, two graphs that Graphviz lays
out slowly (one input read by every op: a Horner polynomial, x*x*...*x), and an MLP's loss over a batch,
as big as you ask (the backprop stepper's size measurements).

Used by the README images (docs/images/make_images.py), the tests and anyone
who wants something to draw. Every Value a reader should find is labelled.
"""

from __future__ import annotations

import random

from micrograd.engine import Value


def tanh_neuron() -> Value:
    """o = tanh(x1*w1 + x2*w2 + b) with micrograd's numbers (o = 0.7071, do/dn = 0.5)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def deep_sigmoid(depth: int = 8, width: int = 2, seed: int = 0) -> Value:
    """depth fully connected sigmoid layers of `width` units, summed: the gradient fades toward the inputs.

    Weights uniform(-1, 1) from random.Random(seed); inputs x0.., activations h<layer>.<unit>, output out.
    """
    rng = random.Random(seed)
    h = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(width)]
    for layer in range(1, depth + 1):
        h = [sum((Value(rng.uniform(-1, 1)) * x for x in h), Value(0.0)).sigmoid() for _ in range(width)]
        for j, v in enumerate(h):
            v.label = f"h{layer}.{j}"
    out = sum(h)
    out.label = "out"
    return out


def horner(degree: int) -> Value:
    """p(x) = (...((x + 0)x + 1)x + ...) + degree-1 at x = 0.5, by Horner's rule: x feeds every product."""
    x, p = Value(0.5, label="x"), Value(1.0)
    for k in range(degree):
        p = p * x + Value(float(k))
    return p


def power_chain(factors: int) -> Value:
    """x*x*...*x with ``factors`` factors (x = 1.001): x feeds every product."""
    x = Value(1.001, label="x")
    p = x
    for _ in range(factors - 1):
        p = p * x
    return p


def mlp_hinge(samples: int, hidden: tuple[int, ...] = (4,), seed: int = 0) -> Value:
    """micrograd's demo loss, the mean hinge of MLP(2, [*hidden, 1]) over ``samples`` random points. With
    the default layer: 36 Values a sample and 20 more, so 4 samples make 164, 41 make 1,496, 416 make 14,996."""
    from micrograd import losses, nn

    rng = random.Random(seed)
    model = nn.MLP(2, [*hidden, 1], rng=rng)
    X = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(samples)]
    y = [rng.choice((-1.0, 1.0)) for _ in range(samples)]
    loss = losses.batch_loss(losses.hinge, [model(x) for x in X], y)
    loss.label = "loss"
    return loss
