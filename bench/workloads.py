"""The benchmark's workloads as plain arrays: data, starting weights and training settings.

A workload is an MLP training step (A, B, C) or a random scalar graph (D, see
``bench/randgraph.py``). Every implementation starts from the same arrays, so
their losses and gradients can be compared number for number:

- ``weights``: one ``(W, b)`` per layer, ``W`` of shape (nout, nin) and ``b`` of
  shape (nout,), float64. Row j of W and b[j] are neuron j's ``w`` and ``b`` in
  micrograd's ``nn.MLP``; ReLU on hidden layers, linear output.
- ``X`` (N, nin) float64, ``y``: (N,) of -1/+1 for hinge, (N,) int64 class
  indices for cross-entropy.
- The loss is the mean over examples of the per-example loss, plus
  ``l2 * sum(p*p)`` over every parameter (biases included, as micrograd's demo).
- One step is forward, loss, backward, and plain SGD ``p -= lr * grad``.

Each builder is deterministic (seeded), so a timing worker in another process
rebuilds exactly the arrays the parent validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Weights = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Workload:
    name: str  # 'A', 'B', 'C' ('D' lives in randgraph.py)
    title: str  # one line for the report
    sizes: list[int]  # [nin, hidden..., nout]
    loss: str  # 'hinge' | 'cross_entropy'
    l2: float
    lr: float
    X: np.ndarray
    y: np.ndarray
    weights: Weights = field(repr=False)

    @property
    def batch(self) -> int:
        return self.X.shape[0]

    @property
    def n_params(self) -> int:
        return sum(W.size + b.size for W, b in self.weights)

    def subset(self, n: int) -> Workload:
        """The same workload on the first n examples (to estimate a slow path from a few)."""
        return Workload(
            self.name,
            self.title,
            self.sizes,
            self.loss,
            self.l2,
            self.lr,
            self.X[:n].copy(),
            self.y[:n].copy(),
            copy_weights(self.weights),
        )


def copy_weights(weights: Weights) -> Weights:
    return [(W.copy(), b.copy()) for W, b in weights]


def init_weights(sizes: list[int], rng: np.random.Generator, scaled: bool) -> Weights:
    """Uniform(-1, 1) as micrograd's Neuron does; divided by sqrt(nin) when scaled (wide layers)."""
    weights = []
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        s = 1.0 / np.sqrt(nin) if scaled else 1.0
        weights.append((rng.uniform(-s, s, (nout, nin)), rng.uniform(-s, s, nout)))
    return weights


def moons(seed: int = 1) -> Workload:
    """(A) micrograd's demo: MLP 2-16-16-1 on 100 moons, hinge + 1e-4 L2, SGD."""
    from micrograd import data

    rng = np.random.default_rng(seed)
    X, y = data.make_moons(100, noise=0.1, rng=rng)
    X = np.asarray(X, dtype=np.float64)
    y = np.where(np.asarray(y) > 0, 1.0, -1.0)  # 0/1 or -1/+1 in, -1/+1 out
    sizes = [2, 16, 16, 1]
    return Workload(
        "A",
        "moons: MLP 2-16-16-1, 100 examples, hinge + 1e-4 L2, SGD",
        sizes,
        "hinge",
        1e-4,
        0.05,
        X,
        y,
        init_weights(sizes, rng, scaled=False),
    )


def digits(seed: int = 2, batch: int = 128) -> Workload:
    """(B) the 8x8 digits: MLP 64-64-10, one batch of 128, softmax cross-entropy, SGD."""
    from micrograd import data

    rng = np.random.default_rng(seed)
    X, y = data.load_digits()
    X = np.asarray(X, dtype=np.float64)
    if X.max() > 1.0:  # pixel intensities 0..16: scale to 0..1 as a learner would
        X = X / X.max()
    pick = rng.permutation(len(X))[:batch]
    sizes = [64, 64, 10]
    return Workload(
        "B",
        f"digits: MLP 64-64-10, batch {batch}, softmax cross-entropy, SGD",
        sizes,
        "cross_entropy",
        0.0,
        0.05,
        X[pick].copy(),
        np.asarray(y)[pick].astype(np.int64),
        init_weights(sizes, rng, scaled=True),
    )


def random_mnist_shape(seed: int = 3, batch: int = 256) -> Workload:
    """(C) MNIST's shape on random data: MLP 784-128-10, batch 256, cross-entropy, SGD."""
    rng = np.random.default_rng(seed)
    sizes = [784, 128, 10]
    X = rng.standard_normal((batch, 784))
    y = rng.integers(0, 10, batch).astype(np.int64)
    return Workload(
        "C",
        f"MLP 784-128-10, batch {batch}, cross-entropy, random data, SGD",
        sizes,
        "cross_entropy",
        0.0,
        0.01,
        X,
        y,
        init_weights(sizes, rng, scaled=True),
    )


BUILDERS = {"A": moons, "B": digits, "C": random_mnist_shape}


# ------------------------------------------------------------ micrograd models from the arrays
def build_model(wl: Workload):
    """micrograd's nn.MLP with the workload's sizes, its Values set to the workload's weights."""
    from micrograd import nn

    model = nn.MLP(wl.sizes[0], wl.sizes[1:])
    set_model_weights(model, wl.weights)
    return model


def set_model_weights(model, weights: Weights) -> None:
    """Write (W, b) arrays into the model's neurons (micrograd's layers[l].neurons[j].w / .b)."""
    if len(model.layers) != len(weights):
        raise ValueError(f"model has {len(model.layers)} layers, weights {len(weights)}")
    for layer, (W, b) in zip(model.layers, weights):
        if len(layer.neurons) != W.shape[0] or len(layer.neurons[0].w) != W.shape[1]:
            raise ValueError(f"layer of {len(layer.neurons)}x{len(layer.neurons[0].w)} neurons, weights {W.shape}")
        for j, neuron in enumerate(layer.neurons):
            for i, w in enumerate(neuron.w):
                w.data = float(W[j, i])
            neuron.b.data = float(b[j])


def model_arrays(model, attr: str = "data") -> Weights:
    """The model's weights (attr='data') or gradients (attr='grad') as (W, b) arrays."""
    out = []
    for layer in model.layers:
        W = np.array([[getattr(w, attr) for w in n.w] for n in layer.neurons])
        b = np.array([getattr(n.b, attr) for n in layer.neurons])
        out.append((W, b))
    return out


def flat_to_arrays(flat, model) -> Weights:
    """A flat list in model.parameters() order -> (W, b) arrays, by identity of the Values."""
    index = {id(p): k for k, p in enumerate(model.parameters())}
    flat = np.asarray(flat, dtype=np.float64)
    out = []
    for layer in model.layers:
        W = np.array([[flat[index[id(w)]] for w in n.w] for n in layer.neurons])
        b = np.array([flat[index[id(n.b)]] for n in layer.neurons])
        out.append((W, b))
    return out
