"""The benchmark's validation (bench/validate.py), run quickly: its rows agree with their oracles, it
catches a wrong gradient, update or output, the hand-fused yardstick computes what NumPy does, the
random graph D replays the same expression on Values and on PyTorch, and targets are judged as stated.
Timings are not run here (they live in bench/run.py)."""

import numpy as np
import pytest

from bench import impls, randgraph, targets, validate
from micrograd import ops
from tests.system import missing, require

FAST_ROWS = ("value", "numpy", "torch1", "hand1", "handfwd1", "fit", "fit1", "lag", "fwd")


def _rows(names):
    keys = [k for k in FAST_ROWS if not (k.startswith("torch") and missing("torch"))]
    return validate.validate(impls.tasks(names, keys))


@pytest.mark.slow
def test_every_fast_row_of_A_and_B_agrees_with_numpy_by_hand():
    rows = _rows("AB")
    assert {(r["workload"], r["impl"]) for r in rows} >= {("A", "fit"), ("B", "hand1"), ("A", "fwd")}
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad
    fit = next(r for r in rows if (r["workload"], r["impl"]) == ("A", "fit"))
    assert fit["steps"] == impls.STEPS_PER_FIT["A"] and fit["step_err"] < 1e-12  # 200 fit steps, as NumPy


@pytest.mark.parametrize("what", ["grad", "step", "outputs"])
def test_validation_fails_a_row_that_is_slightly_wrong(monkeypatch, what):
    real = impls.build

    def broken(key, name, wl=None, **kw):
        r = real(key, name, wl, **kw)
        if what == "grad":
            lag = r.loss_and_grad
            r.loss_and_grad = lambda: (lag()[0], [(dW * (1 + 1e-6), db) for dW, db in lag()[1]])
        elif what == "step":
            weights = r.weights
            r.weights = lambda: [(W + 1e-7, b) for W, b in weights()]
        else:
            outputs = r.outputs
            r.outputs = lambda: outputs() * (1 + 1e-7)
        return r

    monkeypatch.setattr(impls, "build", broken)
    key = "handfwd1" if what == "outputs" else "hand1"
    [row] = validate.validate([("B", key)])
    assert not row["ok"]
    assert row[{"grad": "grad_err", "step": "step_err", "outputs": "out_err"}[what]] > validate.TOL64


def test_a_row_that_raises_is_reported_not_timed(monkeypatch):
    def fails(*args, **kw):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(impls, "build", fails)
    [row] = validate.validate([("A", "fit")])
    assert not row["ok"] and "kernel exploded" in row["error"]


def test_the_hand_fused_kernel_takes_the_numpy_step_and_leaves_P_alone_for_gradients():
    from bench.references import handfused, numpy_ref

    wl = impls.load("A")
    k = handfused.Kernel(wl)
    P0 = k.P.copy()
    loss, grads = k.loss_and_grad()
    assert np.array_equal(k.P, P0)  # loss_and_grad restores the weights
    ref_loss, ref_grads = numpy_ref.loss_and_grad(wl.weights, wl.X, wl.y, wl.loss, wl.l2)
    assert abs(loss - ref_loss) <= 1e-14 * abs(ref_loss)
    assert validate.rel_err(grads, ref_grads) < 1e-13
    k.step()
    step = numpy_ref.Step(wl)
    step()
    assert validate.rel_err(k.weights(), step.weights) < 1e-13


@pytest.mark.system
def test_the_random_graph_uses_every_op_and_replays_the_same_expression_in_torch():
    require("torch")
    g = randgraph.generate(n_ops=400, seed=7)
    assert set(g.code.tolist()) == {op.code for op in ops.OPS}
    from micrograd.engine import Value

    leaves = [Value(v) for v in g.leaves.tolist()]
    out = randgraph.value_forward(g, leaves)
    out.backward()
    ref, ref_grads = randgraph.torch_loss_and_grad(g)
    assert abs(out.data - ref) <= 1e-12 * abs(ref)
    assert validate.rel_err(np.array([v.grad for v in leaves]), ref_grads) < 1e-12


def test_targets_are_judged_met_missed_or_not_measured():
    by_key = {
        t.key: (m, ok)
        for t, m, ok in targets.judge(
            {"A.fit_vs_hand": 1.25, "B.fit_vs_hand": 1.15, "A.torch_over_lag": 18.0, "B.torch_over_lag": 1.9}
        )
    }
    assert by_key["A.fit_vs_hand"] == ("1.25x", False)
    assert by_key["B.fit_vs_hand"][1] is True  # at the bound is met
    assert by_key["A.torch_over_lag"][1] is True and by_key["B.torch_over_lag"][1] is False  # at least
    assert by_key["D.ns_per_op"] == ("not measured", None)
    assert targets.verdict(False) == "**MISSED**" and targets.verdict(None) == "not measured"
