"""Validation before timing: every implementation gives the oracle's loss, gradients, update and outputs.

The oracles are independent of the code under test: hand-written NumPy
(``numpy_ref``: the textbook backward pass) for the MLP workloads A-C, PyTorch
float64 autograd on scalar tensors (the Value path where torch is missing) for
the random graph D. Errors are relative: ``max|x - ref| / max|ref|`` over all
entries. A float64 implementation must agree to ``TOL64``, float32 to ``TOL32``.

What is checked depends on what the row times (``Runner.kind``):
- 'step': loss and gradients at the starting weights, then the weights after
  one timed call (``inner_loops`` SGD steps) against as many NumPy steps;
- 'lag': loss and gradients; 'fwd': the outputs of the batch (D: the output).

``validate(tasks) -> rows``, one per (workload, implementation), each with
``ok``; ``run.py`` times only the rows that are ok.
"""

from __future__ import annotations

import numpy as np

from bench import impls, randgraph
from bench.references import numpy_ref

TOL64 = 1e-9
TOL32 = 1e-4


def rel_err(x, ref) -> float:
    x = np.concatenate([np.ravel(a) for a in _flat(x)])
    ref = np.concatenate([np.ravel(a) for a in _flat(ref)])
    return float(np.abs(x - ref).max() / max(np.abs(ref).max(), 1e-300))


def _flat(arrays):
    if isinstance(arrays, np.ndarray) or np.isscalar(arrays):
        return [np.asarray(arrays, dtype=np.float64)]
    return [np.asarray(a, dtype=np.float64) for pair in arrays for a in (pair if isinstance(pair, tuple) else [pair])]


def check_mlp(r) -> dict:
    wl = r.wl
    row = {"oracle": "NumPy by hand" + (f" on the same {wl.batch} examples" if r.scale != 1.0 else "")}
    if r.kind == "fwd":
        row["out_err"] = rel_err(r.outputs(), numpy_ref.forward(wl.weights, wl.X))
        return row
    ref_loss, ref_grads = numpy_ref.loss_and_grad(wl.weights, wl.X, wl.y, wl.loss, wl.l2)
    loss, grads = r.loss_and_grad()
    row.update(loss=float(loss), loss_err=abs(loss - ref_loss) / abs(ref_loss), grad_err=rel_err(grads, ref_grads))
    if r.kind == "step":
        r.call()
        ref = numpy_ref.Step(wl)
        for _ in range(r.inner_loops):
            ref()
        row.update(steps=r.inner_loops, step_err=rel_err(r.weights(), ref.weights))
    return row


def graph_oracle(g):
    from bench.references import torch_ref

    if torch_ref.available():
        return randgraph.torch_loss_and_grad(g), "PyTorch float64 autograd"
    return impls.build("value", "D", g).loss_and_grad(), "the Value path"


def check_graph(r, oracle) -> dict:
    (ref_loss, ref_grads), name = oracle
    if r.kind == "fwd":
        out = float(np.ravel(r.outputs())[0])
        return {"oracle": name, "loss": out, "loss_err": abs(out - ref_loss) / abs(ref_loss)}
    loss, grads = r.loss_and_grad()
    return {
        "oracle": name,
        "loss": float(loss),
        "loss_err": abs(loss - ref_loss) / abs(ref_loss),
        "grad_err": rel_err(grads, ref_grads),
    }


def validate(tasks: list[tuple], say=lambda msg: None) -> list[dict]:
    """One row per (workload, impl key) in tasks, in order."""
    rows, cache, oracle = [], {}, None
    for name, key in tasks:
        wl = cache.setdefault(name, impls.load(name))
        try:
            r = impls.build(key, name, wl, threads=False, warm=False)
            if name == "D":
                oracle = oracle or graph_oracle(wl)
                row = check_graph(r, oracle)
            else:
                row = check_mlp(r)
        except Exception as e:
            row = {"error": f"{type(e).__name__}: {e}", "oracle": "—"}
        tol = TOL32 if key.endswith("32") else TOL64
        errs = [row[k] for k in ("loss_err", "grad_err", "step_err", "out_err") if k in row]
        row.update(
            workload=name, impl=key, tol=tol, ok="error" not in row and all(np.isfinite(e) and e <= tol for e in errs)
        )
        say(f"  {name} {key:<11} " + ("ok" if row["ok"] else f"FAILED {row.get('error', row)}"))
        rows.append(row)
    return rows
