"""The implementations under test, by key: what one timed call does, on which workloads, on how many threads.

``IMPLS[key]`` is an ``Impl``; ``build(key, workload) -> Runner`` first sets the
row's thread settings (``setup_threads``), then builds the implementation and
makes one untimed call (JIT compile or cache load, first allocations). A Runner has:

    call()           the timed call (``inner_loops`` steps of it in one call for the compiled ``fit``)
    inner_loops      steps per call (pyperf divides by it); scale: factor to the full batch (1.0 but for
                     the Value path on B, timed on 8 examples)
    kind             'step' (forward, loss, backward, SGD update), 'lag' (loss and gradients, no
                     update) or 'fwd' (outputs of the batch): what validate.py checks
    loss_and_grad()  (loss, grads) at the current weights; weights() after a step; outputs() for 'fwd'
    wl               the workload it runs (A-C) or the graph (D)

Thread settings: ``torch*`` rows call ``torch.set_num_threads(n)``; ``hand*`` rows limit every BLAS
(threadpoolctl; Numba's ``np.dot`` calls SciPy's OpenBLAS) to n threads; ``numpy`` and the Value
path keep NumPy's default BLAS threads (one per core); compiled rows keep micrograd's defaults
(MICROGRAD_BLAS_THREADS threads for big products, 1 for mid-sized ones, set per kernel call:
``compiler.blas``).
Every worker records what its process actually ran with (``measure.threads``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bench import randgraph
from bench.workloads import BUILDERS, build_model, flat_to_arrays, model_arrays

STEPS_PER_FIT = {"A": 200, "B": 100, "C": 20}  # compiled fit: steps in one timed call (keeps its per-call cost small)
VALUE_B_SUBSET = 8  # the Value path on B is timed on 8 examples and scaled to 128 (it is linear in the batch)


class Impl(NamedTuple):
    label: str
    workloads: str
    kind: str
    threads: str  # what the row sets (the worker also records what its process ran with)


IMPLS = {
    "value": Impl("Value path", "ABD", "step", "pure Python, 1 thread"),
    "numpy": Impl("NumPy by hand", "ABC", "step", "NumPy's BLAS at its default (one thread per core)"),
    "torch1": Impl("PyTorch eager f64, 1 thread", "ABCD", "step", "torch.set_num_threads(1)"),
    "torch2": Impl("PyTorch eager f64, 2 threads", "ABC", "step", "torch.set_num_threads(2)"),
    "hand1": Impl("hand-fused kernel, BLAS 1 thread", "ABC", "step", "BLAS 1 thread (threadpoolctl)"),
    "hand2": Impl("hand-fused kernel, BLAS 2 threads", "ABC", "step", "BLAS 2 threads (threadpoolctl)"),
    "handfwd1": Impl("hand-fused forward, BLAS 1 thread", "ABC", "fwd", "BLAS 1 thread (threadpoolctl)"),
    "handfwd2": Impl("hand-fused forward, BLAS 2 threads", "C", "fwd", "BLAS 2 threads (threadpoolctl)"),
    "fit": Impl("compiled `fit`, per step", "ABC", "step", "micrograd defaults"),
    "fit1": Impl("compiled `fit(epochs=1)`, per call", "A", "step", "micrograd defaults"),
    "lag": Impl("compiled `loss_and_grad`, per call", "ABCD", "lag", "micrograd defaults"),
    "fwd": Impl("compiled `cm(X)`, per call", "ABCD", "fwd", "micrograd defaults"),
    "fit32": Impl("compiled f32 `fit`, per step", "ABC", "step", "micrograd defaults"),
    "lag32": Impl("compiled f32 `loss_and_grad`, per call", "D", "lag", "micrograd defaults"),
}
ORDER = tuple(IMPLS)


def tasks(names: str, keys=ORDER) -> list:
    """[(workload, impl key), ...] in the order they run."""
    return [(w, k) for w in names for k in keys if w in IMPLS[k].workloads]


def inner_loops(name: str, key: str) -> int:
    return STEPS_PER_FIT[name] if key in ("fit", "fit32") else 1


def setup_threads(key: str) -> None:
    """The row's thread settings, before its libraries run (see the module docstring)."""
    if key.startswith("torch"):
        import torch

        torch.set_num_threads(int(key[-1]))
    elif key.startswith("hand"):
        from threadpoolctl import threadpool_limits

        importlib.import_module("scipy.linalg.cython_blas")  # loads the BLAS that Numba's np.dot calls

        global _limits
        _limits = threadpool_limits(int(key[-1]), user_api="blas")  # kept: the limit holds while it lives


_limits = None


def load(name: str):
    """Workload `name`, rebuilt from its seed (the same arrays in every process)."""
    return randgraph.generate() if name == "D" else BUILDERS[name]()


def build(key: str, name: str, wl=None, threads: bool = True, warm: bool = True):
    """The runner of implementation `key` on workload `name` (after one untimed call, unless warm=False).

    threads=False leaves this process's thread settings alone (validation runs every row in one process)."""
    if threads:
        setup_threads(key)
    wl = load(name) if wl is None else wl
    runner = (_graph_runner if name == "D" else _mlp_runner)(key, name, wl)
    runner.kind, runner.inner_loops = IMPLS[key].kind, inner_loops(name, key)
    runner.scale = getattr(runner, "scale", 1.0)
    if warm:
        runner.call()
    return runner


class Runner:
    """Attributes set by the builders below; see the module docstring."""

    def __init__(
        self, wl, call: Callable, loss_and_grad: Callable = None, weights: Callable = None, outputs: Callable = None
    ):
        self.wl, self.call = wl, call
        self.loss_and_grad, self.weights, self.outputs = loss_and_grad, weights, outputs


def _mlp_runner(key: str, name: str, wl) -> Runner:
    if key == "value":
        from bench.references import value_ref

        sub = wl.subset(VALUE_B_SUBSET) if name == "B" else wl
        s = value_ref.Step(sub)
        r = Runner(sub, s, s.loss_and_grad, s.current_weights)
        r.scale = wl.batch / sub.batch
        return r
    if key == "numpy":
        from bench.references import numpy_ref

        s = numpy_ref.Step(wl)
        return Runner(
            wl,
            s,
            lambda: numpy_ref.loss_and_grad(s.weights, wl.X, wl.y, wl.loss, wl.l2),
            s.current_weights,
            lambda: numpy_ref.forward(s.weights, wl.X),
        )
    if key.startswith("torch"):
        from bench.references import torch_ref

        s = torch_ref.Step(wl)
        return Runner(wl, s, s.loss_and_grad, s.current_weights)
    if key.startswith("hand"):
        from bench.references import handfused

        k = handfused.Kernel(wl)
        fwd = key.startswith("handfwd")
        return Runner(wl, k.forward if fwd else k.step, k.loss_and_grad, k.weights, lambda: k.forward().copy())
    return _compiled(key, name, wl)


def compiled(name: str, wl, dtype=np.float64, epochs: int = 1):
    """(cm, {'fit': ..., 'lag': ..., 'fwd': ...}, model or params) through the public API only.

    fit: ``epochs`` full-batch SGD steps in one call (A-C); lag: ``cm.loss_and_grad``; fwd: ``cm(X)``.
    D compiles ``fn(xs) = the random graph over its parameter leaves`` with ``n_inputs=0``: one example,
    no input columns (every leaf is a parameter), and the graph's output as the per-example 'loss'."""
    import micrograd
    from micrograd import optim

    if name == "D":
        from micrograd.engine import Value

        params = [Value(v) for v in wl.leaves.tolist()]
        cm = micrograd.compile(lambda xs: randgraph.value_forward(wl, params), n_inputs=0, params=params, dtype=dtype)
        X, y = np.zeros((1, 0)), np.zeros(1)
        return cm, {"lag": lambda: cm.loss_and_grad(X, y, loss=_identity), "fwd": lambda: cm(X)}, params
    model = build_model(wl)
    cm = micrograd.compile(model, dtype=dtype)
    opt = optim.SGD(model.parameters(), lr=wl.lr)
    X, y, N = wl.X, wl.y, wl.batch
    return (
        cm,
        {
            "fit": lambda: cm.fit(
                X, y, loss=wl.loss, optimizer=opt, epochs=epochs, batch_size=N, shuffle=False, l2=wl.l2
            ),
            "lag": lambda: cm.loss_and_grad(X, y, loss=wl.loss, l2=wl.l2),
            "fwd": lambda: cm(X),
        },
        model,
    )


def _compiled(key: str, name: str, wl) -> Runner:
    cm, calls, model = compiled(name, wl, np.float32 if key.endswith("32") else np.float64, inner_loops(name, key))
    kind = IMPLS[key].kind
    call = calls["fit" if kind == "step" else kind]
    if name == "D":

        def lag():
            loss, grads = calls["lag"]()
            return loss, np.asarray(grads)

        return Runner(wl, call, lag, outputs=calls["fwd"])

    def loss_and_grad():
        loss, grads = calls["lag"]()
        return loss, flat_to_arrays(grads, model)

    return Runner(wl, call, loss_and_grad, lambda: model_arrays(model, "data"), calls["fwd"])


def _identity(out, target):
    """Workload D's per-example 'loss': the graph's output itself."""
    return out[0] if isinstance(out, (list, tuple)) else out


def _graph_runner(key: str, name: str, g) -> Runner:
    if key == "value":
        from micrograd.engine import Value

        leaves = [Value(v) for v in g.leaves.tolist()]

        def step():
            for v in leaves:
                v.grad = 0.0
            out = randgraph.value_forward(g, leaves)
            out.backward()
            return out

        return Runner(g, step, lambda: (step().data, np.array([v.grad for v in leaves])))
    if key == "torch1":
        import torch

        leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in g.leaves.tolist()]

        def tstep():
            for t in leaves:
                t.grad = None
            out = randgraph.torch_replay(g, leaves)
            out.backward()
            return out

        return Runner(
            g, tstep, lambda: (tstep().item(), np.array([0.0 if t.grad is None else t.grad.item() for t in leaves]))
        )
    return _compiled(key, name, g)
