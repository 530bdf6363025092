"""The implementations under test, by name, each behind one small interface.

``make(impl, workload_name, path) -> runner`` loads the workload saved at
``path`` and returns a runner with:

    runner.step()           one full training step (A-C: forward, loss, backward,
                            SGD update; D: forward + backward), in place
    runner.loss_and_grad()  (loss, grads) at the current weights, no update;
                            grads as [(dW, db), ...] (A-C) or an array over the
                            graph's leaves/parameters (D)
    runner.weights()        the current weights (A-C), to check one timed step
                            against the NumPy oracle's update

Implementations: ``value`` (this package's Value graph), ``karpathy`` (the
original micrograd 0.1.0, workload A only), ``numpy`` (hand-written),
``torch`` (PyTorch eager float64), ``compiled`` and ``compiled32``
(``micrograd.compile``, float64 / float32). ``AVAILABLE`` says which apply to
which workload.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import randgraph
from bench.workloads import Workload

IMPLS = ("value", "numpy", "torch", "compiled", "compiled32")
AVAILABLE = {"A": ("karpathy",) + IMPLS, "B": IMPLS, "C": ("numpy", "torch", "compiled", "compiled32"),
             "D": ("value", "torch", "compiled", "compiled32")}
VALUE_B_SUBSET = 8  # the Value path on B is timed on 8 examples and scaled to 128 (it is linear in the batch)


def make(impl: str, name: str, path: Path):
    if name == "D":
        g = randgraph.Graph.load(path)
        return {"value": ValueGraph, "torch": TorchGraph, "compiled": CompiledGraph,
                "compiled32": lambda g: CompiledGraph(g, np.float32)}[impl](g)
    wl = Workload.load(path)
    if impl == "value":
        from bench import value_ref
        if name == "B":
            wl = wl.subset(VALUE_B_SUBSET)
        return Adapter(value_ref.Step(wl))
    if impl == "karpathy":
        from bench import karpathy_micrograd
        return Adapter(karpathy_micrograd.Step(wl))
    if impl == "numpy":
        from bench import numpy_ref
        step = numpy_ref.Step(wl)
        return Adapter(step, lambda: numpy_ref.loss_and_grad(step.weights, wl.X, wl.y, wl.loss, wl.l2))
    if impl == "torch":
        from bench import torch_ref
        return Adapter(torch_ref.Step(wl))
    from bench import compiled_ref
    return compiled_ref.Step(wl, np.float32 if impl == "compiled32" else np.float64)


def preload(impl: str) -> None:
    """Import what the implementation needs, so a worker can read its memory after imports."""
    import micrograd.nn  # noqa: F401
    if impl == "torch":
        import torch  # noqa: F401
    elif impl.startswith("compiled"):
        from bench import compiled_ref  # noqa: F401


def scale(impl: str, name: str, batch: int) -> float:
    """Factor from the timed step to the reported one (the Value path on B runs on a subset)."""
    return batch / VALUE_B_SUBSET if (impl, name) == ("value", "B") else 1.0


class Adapter:
    """A reference Step object seen through the runner interface."""

    def __init__(self, obj, loss_and_grad=None):
        self.obj = obj
        self.step = obj.__call__
        self.loss_and_grad = loss_and_grad or obj.loss_and_grad
        self.weights = obj.current_weights


# ------------------------------------------------------------ workload D: the random scalar graph
class ValueGraph:
    """Forward (building the Value graph, as the Value path always does) and backward."""

    def __init__(self, g: randgraph.Graph):
        from micrograd.engine import Value
        self.g = g
        self.leaves = [Value(v) for v in g.leaves.tolist()]

    def step(self):
        for v in self.leaves:
            v.grad = 0.0
        out = randgraph.value_forward(self.g, self.leaves)
        out.backward()
        return out

    def loss_and_grad(self):
        out = self.step()
        return out.data, np.array([v.grad for v in self.leaves])


class TorchGraph:
    """The same expression on PyTorch float64 scalar tensors: eager autograd's per-op cost."""

    def __init__(self, g: randgraph.Graph):
        import torch
        self.g, self.table = g, randgraph._torch_table()
        self.leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in g.leaves.tolist()]

    def step(self):
        for t in self.leaves:
            t.grad = None
        out = randgraph.replay(self.g, self.leaves, self.table)
        out.backward()
        return out

    def loss_and_grad(self):
        out = self.step()
        return out.item(), np.array([0.0 if t.grad is None else t.grad.item() for t in self.leaves])


def CompiledGraph(g: randgraph.Graph, dtype=np.float64):
    from bench import compiled_ref
    return compiled_ref.Graph(g, dtype)
