"""PyTorch eager float64: the MLP training step as a PyTorch user writes it (a baseline and an oracle).

``nn.Sequential`` of ``nn.Linear`` + ``nn.ReLU``, the loss written out
(``relu(1 - y*s).mean()`` for hinge, ``F.cross_entropy`` for cross-entropy) plus
``l2 * sum(p.pow(2).sum())``, ``loss.backward()`` and ``torch.optim.SGD``.

Contract: ``Step(wl)()`` does one full training step in place, ``Step(wl).loss_and_grad()``
returns (loss, grads) at the current weights. Import only where torch
is installed (``available()`` says).
"""

from __future__ import annotations

import importlib

from bench.workloads import Weights, Workload


def available() -> bool:
    try:
        importlib.import_module("torch")
    except ImportError:
        return False
    return True


class Step:
    """One PyTorch eager float64 training step on the workload's own copy of the weights."""

    def __init__(self, wl: Workload):
        import torch
        from torch import nn

        self.torch, self.wl = torch, wl
        layers = []
        for layer, (W, b) in enumerate(wl.weights):
            lin = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if layer < len(wl.weights) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.params = list(self.model.parameters())
        self.X = torch.from_numpy(wl.X)
        self.y = torch.from_numpy(wl.y)
        self.opt = torch.optim.SGD(self.params, lr=wl.lr)

    def loss(self):
        torch, wl = self.torch, self.wl
        z = self.model(self.X)
        if wl.loss == "hinge":
            value = torch.relu(1.0 - self.y * z[:, 0]).mean()
        else:
            value = torch.nn.functional.cross_entropy(z, self.y)
        if wl.l2:
            value = value + wl.l2 * sum((p * p).sum() for p in self.params)
        return value

    def __call__(self) -> float:
        self.opt.zero_grad()
        value = self.loss()
        value.backward()
        self.opt.step()
        return value.item()

    def loss_and_grad(self):
        self.opt.zero_grad()
        value = self.loss()
        value.backward()
        g = [p.grad.numpy().copy() for p in self.params]
        return value.item(), [(g[2 * layer], g[2 * layer + 1]) for layer in range(len(g) // 2)]

    def current_weights(self) -> Weights:
        w = [p.detach().numpy().copy() for p in self.params]
        return [(w[2 * layer], w[2 * layer + 1]) for layer in range(len(w) // 2)]
