"""The compiled path (``micrograd.compile``) behind the runner interface of ``bench/impls.py``.

Trace + lower (``trace_lower_s``) is ``micrograd.compile`` plus lowering the
training program (model + loss), which the runtime would otherwise do on the
first ``fit``/``loss_and_grad`` call; so a first call's extra time is kernel
compile or cache load alone.

What is timed as "one training step" (A-C): ``cm.fit(X, y, epochs=K,
batch_size=N, shuffle=False)`` with ``micrograd.optim.SGD`` trains K full-batch
steps in one call, forward, loss, backward and update all in compiled code;
the step time is the call's time divided by K. ``fit``'s per-call Python work
(checking arrays, building the learning-rate array, writing the weights back
into the model's Values) is real but paid once per call, not per step, so K is
chosen large enough (``STEPS_PER_CALL``) that it stays a small share; the
breakdown reports it separately (``fit, 1 step``), with a forward pass alone
(``cm(X)``) and a forward + backward (``cm.loss_and_grad``).

D (forward + backward of one example): ``cm.loss_and_grad(X, y, loss=identity)``
on the random graph compiled with ``micrograd.compile(fn, n_inputs=0, params)``.
"""
from __future__ import annotations

import time

import numpy as np

import micrograd
import micrograd.compiler.runtime  # noqa: F401 - imported here, so trace + lower timings exclude imports
from micrograd import optim
from micrograd.engine import Value

from bench import randgraph
from bench.workloads import Weights, Workload, build_model, flat_to_arrays

STEPS_PER_CALL = {"A": 200, "B": 100, "C": 20}


class Step:
    """Training steps of the workload's MLP through micrograd.compile(model, dtype)."""

    def __init__(self, wl: Workload, dtype=np.float64):
        self.wl = wl
        self.model = build_model(wl)
        t0 = time.perf_counter()
        self.cm = micrograd.compile(self.model, dtype=dtype)
        self.cm.training_program(wl.loss)  # model + loss, lowered now (else on the first fit call)
        self.trace_lower_s = time.perf_counter() - t0
        self.opt = optim.SGD(self.model.parameters(), lr=wl.lr)
        self.k = STEPS_PER_CALL[wl.name]
        self.X, self.y = wl.X, wl.y

    def fit(self, k: int):
        return self.cm.fit(self.X, self.y, loss=self.wl.loss, optimizer=self.opt, epochs=k,
                           batch_size=len(self.X), shuffle=False, l2=self.wl.l2)

    def step(self):
        """K steps in one fit call (the worker divides by steps_per_call)."""
        return self.fit(self.k)

    @property
    def steps_per_call(self) -> int:
        return self.k

    def loss_and_grad(self):
        loss, grads = self.cm.loss_and_grad(self.X, self.y, loss=self.wl.loss, l2=self.wl.l2)
        return loss, flat_to_arrays(grads, self.model)

    def weights(self) -> Weights:
        """After one call of step() with k forced to 1 (validate sets it), the model's Values hold theta."""
        self.cm.sync_to_model()
        return flat_to_arrays([p.data for p in self.model.parameters()], self.model)

    def summary(self) -> str:
        return _summary(self.cm.training_program(self.wl.loss), len(self.X), self.cm.dtype.itemsize)

    def breakdown(self) -> dict:
        wl, cm = self.wl, self.cm
        return {"forward cm(X)": lambda: cm(self.X),
                "forward+backward cm.loss_and_grad": lambda: cm.loss_and_grad(self.X, self.y, loss=wl.loss, l2=wl.l2),
                "fit, 1 step (one call)": lambda: self.fit(1)}


def _identity(out, target):
    """The per-example 'loss' of workload D: the graph's output itself."""
    return out if isinstance(out, Value) else out[0]


class Graph:
    """Forward + backward of the random graph of workload D through micrograd.compile(fn, n_inputs=0, params)."""

    steps_per_call = 1

    def __init__(self, g: randgraph.Graph, dtype=np.float64):
        self.g = g
        self.params = [Value(v) for v in g.leaves.tolist()]
        t0 = time.perf_counter()
        self.cm = micrograd.compile(lambda xs: randgraph.value_forward(g, self.params), n_inputs=0,
                                    params=self.params, dtype=dtype)
        self.cm.training_program(_identity)
        self.trace_lower_s = time.perf_counter() - t0
        self.X = np.zeros((1, 0))  # one example, no input columns: every leaf is a parameter
        self.y = np.zeros(1)

    def step(self):
        return self.cm.loss_and_grad(self.X, self.y, loss=_identity)

    def loss_and_grad(self):
        loss, grads = self.step()
        return loss, np.asarray(grads)

    def summary(self) -> str:
        return _summary(self.cm.training_program(_identity), 1, self.cm.dtype.itemsize)

    def breakdown(self) -> dict:
        return {"forward cm(X)": lambda: self.cm(self.X)}


def _summary(prog, batch: int, itemsize: int) -> str:
    """What the timed program runs: instructions by kind, and its value + gradient buffers at this batch."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(prog.counts().items(), key=lambda kv: -kv[1]))
    mib = 2 * prog.n_slots * batch * itemsize / 2**20
    return f"{len(prog)} instructions ({counts}); {prog.n_slots} slots x batch {batch}: {mib:.2f} MiB of buffers"
