"""Karpathy's micrograd 0.1.0 running workload A: the baseline the issue's targets were measured on.

The issue's "580 ms a step of workload A in micrograd's Value graph" is that
code; this project's Value path is a faster drop-in superset, so the ratio
"compiled vs the Value path" is reported against both. The original code is
not copied here: it is loaded from ``tests/reference_micrograd.py`` (Karpathy's
engine.py + nn.py, MIT License, Copyright (c) 2020 Andrej Karpathy), the
reference the compatibility tests already use. ``Step`` runs the moons demo's
loss (hinge + alpha * sum(p*p)) and SGD update on the workload's weights.
"""
import importlib.util
from pathlib import Path

import numpy as np

_REF = Path(__file__).resolve().parent.parent / "tests" / "reference_micrograd.py"


def _load():
    spec = importlib.util.spec_from_file_location("reference_micrograd", _REF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ref = _load()
Value, MLP = _ref.Value, _ref.MLP


class Step:
    """One step of micrograd's moons demo (hinge + alpha * sum(p*p), SGD) on the workload's weights."""

    def __init__(self, wl):
        self.wl = wl
        self.model = MLP(wl.sizes[0], list(wl.sizes[1:]))
        for layer, (W, b) in zip(self.model.layers, wl.weights):
            for j, neuron in enumerate(layer.neurons):
                for i, w in enumerate(neuron.w):
                    w.data = float(W[j, i])
                neuron.b.data = float(b[j])
        self.X, self.y = wl.X.tolist(), wl.y.tolist()

    def loss(self):
        inputs = [list(map(Value, xrow)) for xrow in self.X]
        scores = list(map(self.model, inputs))
        losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(self.y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = self.wl.l2 * sum((p*p for p in self.model.parameters()))
        return data_loss + reg_loss

    def __call__(self):
        total_loss = self.loss()
        self.model.zero_grad()
        total_loss.backward()
        for p in self.model.parameters():
            p.data -= self.wl.lr * p.grad
        return total_loss.data

    def loss_and_grad(self):
        total_loss = self.loss()
        self.model.zero_grad()
        total_loss.backward()
        return total_loss.data, self._arrays("grad")

    def current_weights(self):
        return self._arrays("data")

    def _arrays(self, attr):
        return [(np.array([[getattr(w, attr) for w in n.w] for n in layer.neurons], dtype=float),
                 np.array([getattr(n.b, attr) for n in layer.neurons], dtype=float)) for layer in self.model.layers]
