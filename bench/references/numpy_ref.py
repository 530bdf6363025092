"""Hand-written NumPy forward, backward and SGD update of an MLP: a baseline and an independent oracle.

Written from the math, not from micrograd's code: layer l computes
``z = h @ W.T + b`` (ReLU on hidden layers, linear output), the loss is the mean
per-example loss plus ``l2 * sum(p*p)``; the backward pass is the textbook one
(dL/dz for the loss, then ``dW = dz.T @ h``, ``db = sum(dz)``, ``dh = dz @ W``,
masked by ``z > 0`` through a ReLU). ReLU's derivative at 0 is 0, as micrograd's.

Contract: ``loss_and_grad(weights, X, y, loss, l2) -> (loss, grads)`` with grads
shaped like weights; ``forward(weights, X)`` the (N, nout) outputs; ``Step(workload)()`` does one full
training step in place.
"""

from __future__ import annotations

import numpy as np

from bench.workloads import Weights, Workload, copy_weights


def _loss_and_dz(z: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its derivative w.r.t. the last layer's output z (N, nout)."""
    n = z.shape[0]
    if loss == "hinge":  # mean(relu(1 - y * score))
        margin = 1.0 - y * z[:, 0]
        active = margin > 0.0
        dz = np.where(active, -y, 0.0)[:, None] / n
        return float(np.where(active, margin, 0.0).sum() / n), dz
    if loss == "cross_entropy":  # mean(logsumexp(z) - z[y])
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        lse = m[:, 0] + np.log(s[:, 0])
        dz = e / s
        dz[rows, y] -= 1.0
        dz /= n
        return float((lse - z[rows, y]).sum() / n), dz
    raise ValueError(f"unknown loss {loss!r}: use 'hinge' or 'cross_entropy'")


def forward(weights: Weights, X: np.ndarray) -> np.ndarray:
    """(N, nout) outputs of the MLP for the rows of X."""
    h = X
    for layer, (W, b) in enumerate(weights):
        z = h @ W.T + b
        h = np.maximum(z, 0.0) if layer < len(weights) - 1 else z
    return h


def loss_and_grad(weights: Weights, X: np.ndarray, y: np.ndarray, loss: str, l2: float):
    """(loss, [(dW, db), ...]) of the workload's batch loss at these weights."""
    hs, zs = [X], []
    last = len(weights) - 1
    for layer, (W, b) in enumerate(weights):
        z = hs[-1] @ W.T + b  # (N, nout)
        zs.append(z)
        hs.append(np.maximum(z, 0.0) if layer < last else z)
    value, dz = _loss_and_dz(zs[-1], y, loss)
    grads = [None] * len(weights)
    for layer in range(last, -1, -1):
        W, b = weights[layer]
        dW = dz.T @ hs[layer]  # (nout, nin)
        db = dz.sum(axis=0)  # (nout,)
        if l2:
            dW += (2.0 * l2) * W
            db += (2.0 * l2) * b
        grads[layer] = (dW, db)
        if layer > 0:
            dz = (dz @ W) * (zs[layer - 1] > 0.0)  # (N, nin) through the ReLU
    if l2:
        value += l2 * sum(float((W * W).sum() + (b * b).sum()) for W, b in weights)
    return value, grads


class Step:
    """One full training step of the workload (forward, loss, backward, SGD update) on its own weights."""

    def __init__(self, wl: Workload):
        self.wl = wl
        self.weights = copy_weights(wl.weights)

    def __call__(self) -> float:
        wl = self.wl
        value, grads = loss_and_grad(self.weights, wl.X, wl.y, wl.loss, wl.l2)
        for (W, b), (dW, db) in zip(self.weights, grads):
            W -= wl.lr * dW
            b -= wl.lr * db
        return value

    def current_weights(self) -> Weights:
        return self.weights
