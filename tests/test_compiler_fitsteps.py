"""fit's training options on the compiled path (micrograd/compiler/fitsteps.py under micrograd.training):
validation, clipping and EarlyStopping against the Value path; divergence against a fresh run of the finite
steps; Ctrl-C in a subprocess sent SIGINT."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import micrograd
from micrograd import losses, nn, optim
from micrograd.callbacks import EarlyStopping
from micrograd.training import DivergedError, History
from tests.value_oracle import assert_close, moons_like, twin_models, value_path


def value_epochs(model, opt, X, y, loss_name, l2, epochs, batch_size, seed, clip=None, val=None):
    """The Value path in fit's documented order, with clip_grad_norm_ before each step; per epoch the loss on
    the validation rows (and the accuracy) at the epoch's end. Returns (step losses, val losses, accuracies)."""
    gen, N = np.random.default_rng(seed), len(X)
    fn = losses.BY_NAME[loss_name]

    def label(v):
        return int(v) if loss_name == "cross_entropy" else float(v)

    steps, val_loss, val_acc = [], [], []
    for _ in range(epochs):
        order = gen.permutation(N)
        for start in range(0, N, batch_size):
            rows = order[start : start + batch_size]
            total = losses.mean([fn(model(list(map(float, X[r]))), label(y[r])) for r in rows])
            if l2:
                total = total + losses.l2(model.parameters(), l2)
            model.zero_grad()
            total.backward()
            if clip is not None:
                optim.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            steps.append(total.data)
        if val is not None:
            Xv, yv = val
            outs, lv, _ = value_path(model, model.parameters(), Xv, [label(v) for v in yv], fn, l2)
            val_loss.append(lv)
            right = outs.argmax(1) == yv if loss_name == "cross_entropy" else (outs[:, 0] > 0) == (yv > 0)
            val_acc.append(float(np.mean(right)))
    return np.array(steps), np.array(val_loss), np.array(val_acc)


def digits_like(N=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("loss_name", ["cross_entropy", "hinge"])
def test_validation_loss_and_accuracy_match_the_value_path_each_epoch(loss_name):
    X, y = digits_like()
    Xv, yv = digits_like(12, seed=1)
    nout = 3
    if loss_name == "hinge":
        y, yv, nout = np.where(y > 0, 1.0, -1.0), np.where(yv > 0, 1.0, -1.0), 1
    ref, fast = twin_models(lambda: nn.MLP(4, [6, nout], activation="tanh", rng=random.Random(3)))
    want, want_val, want_acc = value_epochs(
        ref, optim.SGD(ref.parameters(), lr=0.1, momentum=0.5), X, y, loss_name, 1e-3, 3, 8, 5, val=(Xv, yv)
    )
    opt = optim.SGD(fast.parameters(), lr=0.1, momentum=0.5)
    cm = micrograd.compile(fast)
    h = cm.fit(X, y, loss=loss_name, optimizer=opt, epochs=3, batch_size=8, rng=5, l2=1e-3, validation=(Xv, yv))
    assert isinstance(h, History) and h.shape == (12,)
    assert_close(h, want, "step losses")
    assert_close(h.val_loss, want_val, "val_loss")
    np.testing.assert_array_equal(h.val_accuracy, want_acc)
    rows = np.array([8, 8, 8, 6])
    assert_close(h.loss, (want.reshape(3, 4) * rows).sum(1) / 30, "epoch loss")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights")


def test_mse_has_val_loss_and_no_accuracy():
    X, y = digits_like()
    m = nn.MLP(4, [3, 1], rng=0)
    h = micrograd.compile(m).fit(X, y, "mse", optim.SGD(m.parameters(), lr=0.01), epochs=2, validation=(X, y))
    assert len(h.val_loss) == 2 and h.val_accuracy is None


@pytest.mark.parametrize("make_opt", [lambda ps: optim.SGD(ps, lr=0.2, momentum=0.9), lambda ps: optim.Adam(ps, 0.05)])
def test_clip_norm_in_fit_matches_clip_grad_norm_on_the_value_path(make_opt):
    X, y = digits_like()
    ref, fast = twin_models(lambda: nn.MLP(4, [6, 3], rng=random.Random(1)))
    want, _, _ = value_epochs(ref, make_opt(ref.parameters()), X, y, "cross_entropy", 1e-2, 2, 10, 2, clip=0.3)
    cm = micrograd.compile(fast)
    got = cm.fit(
        X, y, "cross_entropy", make_opt(fast.parameters()), epochs=2, batch_size=10, rng=2, l2=1e-2, clip_norm=0.3
    )
    assert_close(got, want, "step losses")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights")


def test_loss_and_grad_clip_norm_matches_clip_grad_norm():
    X, y = digits_like()
    ref, fast = twin_models(lambda: nn.MLP(4, [6, 3], rng=random.Random(1)))
    _, want_loss, _ = value_path(ref, ref.parameters(), X, [int(v) for v in y], losses.cross_entropy, 1e-2)
    norm = optim.clip_grad_norm_(ref.parameters(), 0.1)
    loss, grads = micrograd.compile(fast).loss_and_grad(X, y, "cross_entropy", l2=1e-2, clip_norm=0.1)
    assert norm > 0.1
    assert_close(loss, want_loss)
    assert_close(grads, [p.grad for p in ref.parameters()])
    assert_close([p.grad for p in fast.parameters()], [p.grad for p in ref.parameters()])
    with pytest.raises(ValueError, match="clip_norm"):
        micrograd.compile(fast).loss_and_grad(X, y, "cross_entropy", clip_norm=0)


def diverging(lr=1.0, seed=4):
    """MLP 3-8-1 (tanh) on mse with targets of 1e3: SGD(lr=1.0) overflows within a few steps."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(16, 3))
    return X, 1e3 * X[:, 0], lambda: nn.MLP(3, [8, 1], activation="tanh", rng=random.Random(seed))


@pytest.mark.parametrize(
    "make_opt",
    [lambda ps: optim.SGD(ps, lr=1.0, momentum=0.9), lambda ps: optim.Adam(ps, lambda t: 10.0 ** min(t, 300))],
)
def test_divergence_stops_with_the_last_finite_weights_and_optimizer_state(make_opt):
    X, y, make = diverging()
    a, b = twin_models(make)
    opt = make_opt(a.parameters())
    cm = micrograd.compile(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning
        with pytest.raises(DivergedError) as info:
            cm.fit(X, y, loss="mse", optimizer=opt, epochs=500, batch_size=8, rng=1)
    e = info.value
    assert isinstance(e, FloatingPointError) and e.step > 0 and e.epoch == e.step // 2
    assert len(e.history) == e.step + 1 and not np.isfinite(e.history[-1]) and np.isfinite(e.history[:-1]).all()
    assert f"step {e.step} (epoch {e.epoch}" in str(e) and "clip_norm" in str(e)
    # a fresh run of the finite steps (whole epochs, then the rest of the last one) gives the same state
    opt_b = make_opt(b.parameters())
    cm_b = micrograd.compile(b)
    gen = np.random.default_rng(1)
    steps = cm_b.fit(X, y, loss="mse", optimizer=opt_b, epochs=e.epoch, batch_size=8, rng=gen)
    if e.step % 2:  # the divergence came in an epoch's second step: its first step, in the same shuffle
        order = gen.permutation(16)
        steps = np.append(steps, cm_b.fit(X[order[:8]], y[order[:8]], "mse", opt_b, 1, shuffle=False))
    np.testing.assert_array_equal(e.history[:-1], steps)
    np.testing.assert_array_equal([p.data for p in a.parameters()], [p.data for p in b.parameters()])
    assert opt.t == opt_b.t == e.step
    for name in ("momentum_buffer", "m", "v"):
        if hasattr(opt, name):
            np.testing.assert_array_equal(getattr(opt, name), getattr(opt_b, name))
    assert np.isfinite(cm(X)).all()  # still usable


def test_a_non_finite_gradient_with_a_finite_loss_stops_too():
    m = nn.MLP(1, [1], rng=0)  # one linear neuron: w, b
    p = m.parameters()
    p[0].data, p[1].data = 1e-200, 0.0
    cm = micrograd.compile(m, n_inputs=1)
    X, y = np.array([[1e308]]), np.zeros(1)  # output 1e108, loss 1e216, gradient 2e108 * 1e308 = inf
    for clip in (None, 1.0):
        with pytest.raises(DivergedError, match="the gradient became non-finite") as info:
            cm.fit(X, y, loss="mse", optimizer=optim.SGD(p, lr=0.1), epochs=3, clip_norm=clip)
        assert info.value.step == 0 and [q.data for q in p] == [1e-200, 0.0]


def test_early_stopping_restores_the_best_epoch_as_a_fresh_run_of_it():
    X, y = digits_like(40)
    Xv, yv = digits_like(40, seed=7)
    a, b = twin_models(lambda: nn.MLP(4, [16, 3], rng=random.Random(2)))
    opt = optim.Adam(a.parameters(), lr=0.1)
    es = EarlyStopping(patience=2)
    h = micrograd.compile(a).fit(
        X, y, "cross_entropy", opt, epochs=200, batch_size=8, validation=(Xv, yv), callbacks=[es]
    )
    assert es.stopped_epoch is not None and h.epochs == es.stopped_epoch + 1 < 200  # the model overfits and stops
    assert es.best_epoch == int(np.argmin(h.val_loss)) and es.best == h.val_loss.min()
    opt_b = optim.Adam(b.parameters(), lr=0.1)
    micrograd.compile(b).fit(X, y, "cross_entropy", opt_b, epochs=es.best_epoch + 1, batch_size=8)
    np.testing.assert_array_equal([p.data for p in a.parameters()], [p.data for p in b.parameters()])
    assert opt.t == opt_b.t and list(opt.m) == list(opt_b.m) and list(opt.v) == list(opt_b.v)


def test_callbacks_may_call_the_model_and_write_its_weights():
    X, y = digits_like()
    m = nn.MLP(4, [5, 3], rng=0)
    cm = micrograd.compile(m)
    seen = []

    def cb(epoch, logs):
        seen.append(cm(X[:2]).shape)  # the same thread: no deadlock on the model's lock
        m.parameters()[0].data = 0.25  # a write between epochs is what the next epoch starts from
        return epoch == 1

    h = cm.fit(X, y, "cross_entropy", optim.SGD(m.parameters(), lr=0.1), epochs=5, callbacks=[cb])
    assert seen == [(2, 3), (2, 3)] and len(h) == 2 and m.parameters()[0].data == 0.25


def test_fit_refuses_bad_new_arguments():
    X, y = digits_like()
    m = nn.MLP(4, [3], rng=0)
    cm, opt = micrograd.compile(m), optim.SGD(m.parameters(), lr=0.1)
    for kwargs, error, match in [
        ({"validation": X}, TypeError, "pair"),
        ({"validation": (X[:, :2], y)}, ValueError, "X has shape"),
        ({"validation": (X, y + 5)}, ValueError, "class indices"),
        ({"callbacks": lambda e, logs: None}, TypeError, r"wrap it: \[cb\]"),
        ({"callbacks": [1]}, TypeError, "callbacks"),
        ({"clip_norm": -1.0}, ValueError, "clip_norm"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"epochs": True}, TypeError, "epochs"),  # equal to the good call's 1, and refused: checked as given
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"l2": float("nan")}, ValueError, "l2"),
        ({"shuffle": "no"}, TypeError, "shuffle"),
        ({"rng": -1}, TypeError, "rng"),
    ]:
        cm.fit(X, y, "cross_entropy", opt, epochs=1, batch_size=None, l2=0.0, shuffle=True, rng=0)  # good ones
        with pytest.raises(error, match=match):
            cm.fit(X, y, "cross_entropy", opt, **kwargs)


CTRL_C_CHILD = r"""
import json, sys, time
import numpy as np
import micrograd
from micrograd import nn, optim
from micrograd.data import make_moons

X, y = make_moons(64, noise=0.1, rng=0, labels="pm1")
def run(epochs):
    m = nn.MLP(2, [16, 16, 1], rng=0)
    cm = micrograd.compile(m)
    opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return m, cm, opt, lambda: cm.fit(X, y, loss="hinge", optimizer=opt, epochs=epochs, l2=1e-4)
run(3)[3]()  # kernels loaded before the clock starts
m, cm, opt, fit = run(2_000_000)
print("ready", flush=True)
try:
    fit()
    print(json.dumps({"error": "fit was not interrupted"}), flush=True)
except KeyboardInterrupt as e:
    caught = time.monotonic()
    h = e.history
    m2, cm2, opt2, fit2 = run(len(h))
    fresh = fit2()
    print(json.dumps({
        "caught": caught, "steps": len(h), "t": opt.t,
        "same_history": bool(np.array_equal(h, fresh)),
        "same_weights": [p.data for p in m.parameters()] == [p.data for p in m2.parameters()],
        "usable": bool(np.isfinite(cm(X)).all()) and len(cm.fit(X, y, "hinge", opt, epochs=2)) == 2,
    }), flush=True)
"""


@pytest.mark.slow
def test_ctrl_c_stops_a_long_fit_within_half_a_second_with_what_was_learned():
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(1.5)  # well into the compiled steps
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out = json.loads(child.stdout.readline())
        child.wait(120)
    finally:
        child.kill()
    assert "error" not in out, out
    assert out["caught"] - sent < 0.5, f"KeyboardInterrupt took {out['caught'] - sent:.3f} s"
    assert out["steps"] > 100 and out["t"] == out["steps"]
    assert out["same_history"] and out["same_weights"] and out["usable"], out


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("before", [False, True])
def test_ctrl_c_as_a_one_call_fit_returns_keeps_its_step_and_just_before_it_keeps_nothing(dtype, before):
    """A fit of one kernel call installs no handler: CPython raises a Ctrl-C that came while the kernel ran
    as soon as it returns, or one that came just before it before it starts; both leave weights, optimizer
    state and history agreeing (the kernel counts the steps it applied)."""
    X, y = moons_like(16)
    a, b = twin_models(lambda: nn.MLP(2, [5, 1], rng=random.Random(3)))
    opt_b = optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    if not before:
        micrograd.compile(b, dtype=dtype).fit(X, y, "hinge", opt_b, 1)  # the step, not interrupted
    cm = micrograd.compile(a, dtype=dtype)
    opt = optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    run = cm._run

    def interrupted(*args):
        if not before:
            run(*args)
        raise KeyboardInterrupt  # as the kernel returns, or as _run begins, before the kernel

    cm._run = interrupted
    steps = 0 if before else 1
    with pytest.raises(KeyboardInterrupt, match=f"fit interrupted after {steps} of 1 steps") as info:
        cm.fit(X, y, "hinge", opt, 1)
    assert opt.t == opt_b.t == steps and len(info.value.history) == steps
    np.testing.assert_array_equal([p.data for p in a.parameters()], [p.data for p in b.parameters()])
    np.testing.assert_array_equal(opt.momentum_buffer, opt_b.momentum_buffer)


def test_the_training_docs_run_as_written():
    """docs/training.md's Python blocks, in order, in one namespace."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "training.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 4
    namespace: dict = {}
    exec(compile(blocks[0], "docs/training.md", "exec"), namespace)
    stop, history = namespace["stop"], namespace["history"]
    assert stop.stopped_epoch is not None and history.epochs == stop.stopped_epoch + 1 == len(history.val_loss)
    for block in blocks[1:]:
        exec(compile(block, "docs/training.md", "exec"), namespace)
    assert len(namespace["test_accuracy"]) == 3 and len(namespace["history"]) == 2  # two full-batch epochs
    assert namespace["norm"] > 0


@pytest.mark.slow
def test_big_layer_steps_clip_and_stop_as_small_ones_do(monkeypatch):
    """Big layers run their products on more BLAS threads (forced here on a small model)."""
    from micrograd.compiler import blas

    monkeypatch.setattr(blas, "OPENBLAS_THREADS_FROM", 0)
    monkeypatch.setattr(blas, "PARALLEL_WORK", 0)
    X, y = digits_like(70)
    ref, fast = twin_models(lambda: nn.MLP(4, [6, 3], rng=random.Random(1)))
    want, _, _ = value_epochs(ref, optim.SGD(ref.parameters(), lr=0.2), X, y, "cross_entropy", 0.0, 2, 66, 2, clip=0.3)
    cm = micrograd.compile(fast)
    got = cm.fit(
        X, y, "cross_entropy", optim.SGD(fast.parameters(), lr=0.2), epochs=2, batch_size=66, rng=2, clip_norm=0.3
    )
    assert_close(got, want, "step losses")
    assert_close([p.data for p in fast.parameters()], [p.data for p in ref.parameters()], "weights")
    Xd, yd, make = diverging()
    m = make()
    with pytest.raises(DivergedError) as info:
        micrograd.compile(m).fit(
            np.tile(Xd, (5, 1)), np.tile(yd, 5), "mse", optim.SGD(m.parameters(), lr=10.0, momentum=0.9), 100, 66
        )
    assert info.value.step > 0 and all(np.isfinite(p.data) for p in m.parameters())


def test_float32_validation_and_restore_reach_the_values():
    X, y = digits_like(40)
    m = nn.MLP(4, [8, 3], rng=random.Random(2))
    cm = micrograd.compile(m, dtype=np.float32)
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    h = cm.fit(X, y, "cross_entropy", optim.Adam(m.parameters(), lr=0.05), epochs=30, validation=(X, y), callbacks=[es])
    assert h.val_accuracy[es.best_epoch] == np.max(h.val_accuracy)
    assert np.mean(cm(X).argmax(1) == y) == es.best  # the Values (float64) hold the restored weights
    assert [p.data for p in m.parameters()] == cm.theta.astype(np.float64).tolist()
