"""Validation before timing: every implementation gives the same loss, gradients and one-step update.

The oracles are independent of the code under test: hand-written NumPy
(``numpy_ref``, itself checked against the Value path and PyTorch) for the MLP
workloads, PyTorch float64 autograd on scalar tensors (the Value path where torch is
missing) for the random graph D. Errors are relative: ``|x - ref| / max|ref|`` over all
entries. A float64 implementation must agree to ``TOL64``, float32 to ``TOL32``.

``validate(workloads, graph, impl_names) -> rows``: one row per (workload,
implementation) with the loss, the errors and ``ok``; the caller refuses to
time an implementation whose row is not ok. The weights after one timed call
(``steps_per_call`` SGD steps; one for most runners) are checked against the
same number of NumPy steps.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from bench import impls, numpy_ref, randgraph
from bench.workloads import Workload

TOL64 = 1e-9
TOL32 = 1e-4


def rel_err(x, ref) -> float:
    x = np.concatenate([np.ravel(a) for a in _flat(x)])
    ref = np.concatenate([np.ravel(a) for a in _flat(ref)])
    return float(np.abs(x - ref).max() / max(np.abs(ref).max(), 1e-300))


def _flat(grads):
    if isinstance(grads, np.ndarray) or np.isscalar(grads):
        return [np.asarray(grads, dtype=np.float64)]
    return [np.asarray(a, dtype=np.float64) for pair in grads for a in (pair if isinstance(pair, tuple) else [pair])]


def _mlp_rows(name: str, wl: Workload, path, names) -> List[Dict]:
    rows = []
    for impl in names:
        ref_wl = wl.subset(impls.VALUE_B_SUBSET) if (impl, name) == ("value", "B") else wl
        ref_loss, ref_grads = numpy_ref.loss_and_grad(ref_wl.weights, ref_wl.X, ref_wl.y, ref_wl.loss, ref_wl.l2)
        try:
            runner = impls.make(impl, name, path)
            loss, grads = runner.loss_and_grad()
            runner.step()  # the timed call: steps_per_call SGD steps
            k = getattr(runner, "steps_per_call", 1)
            ref_step = numpy_ref.Step(ref_wl)
            for _ in range(k):
                ref_step()
            row = dict(loss=float(loss), loss_err=abs(loss - ref_loss) / abs(ref_loss), steps=k,
                       grad_err=rel_err(grads, ref_grads), step_err=rel_err(runner.weights(), ref_step.weights))
        except Exception as e:  # noqa: BLE001 - a broken implementation is reported, not fatal
            row = dict(error=f"{type(e).__name__}: {e}")
        rows.append(_judge(row, name, impl, "numpy (by hand)" + (" on 8 examples" if ref_wl is not wl else "")))
    return rows


def _graph_rows(g: randgraph.Graph, path, names) -> List[Dict]:
    from bench import torch_ref
    if torch_ref.available():
        ref_loss, ref_grads = randgraph.torch_loss_and_grad(g)
        oracle = "PyTorch float64 autograd"
    else:
        ref_loss, ref_grads = impls.ValueGraph(g).loss_and_grad()
        oracle = "Value path"
    rows = []
    for impl in names:
        try:
            runner = impls.make(impl, "D", path)
            loss, grads = runner.loss_and_grad()
            row = dict(loss=float(loss), loss_err=abs(loss - ref_loss) / abs(ref_loss),
                       grad_err=rel_err(grads, ref_grads))
        except Exception as e:  # noqa: BLE001
            row = dict(error=f"{type(e).__name__}: {e}")
        rows.append(_judge(row, "D", impl, oracle))
    return rows


def _judge(row: Dict, name: str, impl: str, oracle: str) -> Dict:
    tol = TOL32 if impl.endswith("32") else TOL64
    errs = [row[k] for k in ("loss_err", "grad_err", "step_err") if k in row]
    row.update(workload=name, impl=impl, oracle=oracle, tol=tol,
               ok="error" not in row and all(np.isfinite(e) and e <= tol for e in errs))
    return row


def validate(paths: Dict[str, object], impl_names: Dict[str, List[str]]) -> List[Dict]:
    rows = []
    for name, path in paths.items():
        if name == "D":
            g = randgraph.Graph.load(path)
            rows += _graph_rows(g, path, impl_names[name])
        else:
            rows += _mlp_rows(name, Workload.load(path), path, impl_names[name])
    return rows
