"""The Value path: one training step exactly as micrograd's moons demo writes it.

A fresh graph per step: every example's inputs become Values, the model is
called per example, the per-example losses from ``micrograd.losses`` are
averaged (``sum(losses) * (1/N)``, micrograd's demo), the L2 term
``losses.l2(params, alpha)`` added, then ``zero_grad``, ``backward()`` and
``optim.SGD.step()``.

Contract: ``Step(wl)()`` does one step in place and returns the loss;
``Step(wl).loss_and_grad()`` returns the loss and gradients as (W, b) arrays
without updating.
"""

from __future__ import annotations

from bench.workloads import Weights, Workload, build_model, model_arrays


class Step:
    """One Value-path training step on a micrograd nn.MLP holding the workload's weights."""

    def __init__(self, wl: Workload):
        from micrograd import losses, optim

        self.wl, self.losses = wl, losses
        self.model = build_model(wl)
        self.params = self.model.parameters()
        self.opt = optim.SGD(self.params, lr=wl.lr)
        self.X = wl.X.tolist()
        self.y = wl.y.tolist()

    def loss(self):
        wl, losses = self.wl, self.losses
        total = losses.batch_loss(losses.BY_NAME[wl.loss], [self.model(x) for x in self.X], self.y)
        if wl.l2:
            total = total + losses.l2(self.params, wl.l2)
        return total

    def __call__(self) -> float:
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        self.opt.step()
        return total.data

    def loss_and_grad(self):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        return total.data, model_arrays(self.model, "grad")

    def current_weights(self) -> Weights:
        return model_arrays(self.model, "data")
