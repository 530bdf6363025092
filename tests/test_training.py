"""micrograd.training and micrograd.callbacks on a NumPy stepper (linear regression, mse, SGD): History,
divergence, Ctrl-C deferred to the end of a chunk, chunk sizes, validation, callbacks, EarlyStopping, the
progress bar. The compiled stepper is tested against the Value path in tests/test_compiler_training.py."""

import io
import pickle
import signal
import warnings

import numpy as np
import pytest

from micrograd import training
from micrograd.callbacks import Callback, EarlyStopping
from micrograd.training import GRAD_NOT_FINITE, LOSS_NOT_FINITE, OK, DivergedError, History, run_fit


class LinearSteps:
    """training.Stepper for the model X @ w, mse, plain SGD on rows in order, written in NumPy."""

    def __init__(self, X, y, epochs, batch_size, lr, val_script=None, interrupt_at=None):
        self.X, self.y, self.w, self.t, self._lr = X, y, np.zeros(X.shape[1]), 0, lr
        self.n_rows, self.batch_size = len(X), batch_size
        self.spe = -(-len(X) // batch_size)
        self.history = np.zeros(epochs * self.spe)
        self.metrics = ("loss",)
        self.calls, self.closed, self.restored = [], False, None
        self.val_script, self.interrupt_at, self.evaluated = val_script, interrupt_at, 0

    def steps(self, s0, s1):
        self.calls.append((s0, s1))
        if self.interrupt_at is not None and s0 <= self.interrupt_at < s1:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while "compiled" steps run
        for s in range(s0, s1):
            j = s % self.spe
            Xb, yb = (
                self.X[j * self.batch_size : (j + 1) * self.batch_size],
                self.y[j * self.batch_size :][: self.batch_size],
            )
            with np.errstate(all="ignore"):
                r = Xb @ self.w - yb
                self.history[s] = np.mean(r * r)
                g = 2 * Xb.T @ r / len(r)
            if not np.isfinite(self.history[s]):
                return LOSS_NOT_FINITE, s
            if not np.all(np.isfinite(g)):
                return GRAD_NOT_FINITE, s
            self.w, self.t = self.w - self._lr * g, s + 1
        return OK, s1

    @property
    def done(self):
        return self.t

    def evaluate(self, X, Y):
        if self.val_script is not None:  # scripted values, one per epoch
            self.evaluated += 1
            return {self.metrics[0]: self.val_script[self.evaluated - 1]}
        r = X @ self.w - Y
        return {"loss": float(np.mean(r * r))}

    def lr(self, step):
        return self._lr

    def snapshot(self):
        return self.w.copy(), self.t

    def restore(self, snap):
        self.restored = snap[1]
        self.w, self.t = snap[0].copy(), snap[1]

    def close(self):
        self.closed = True


def data(N=10, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 3)) * scale
    return X, X @ np.array([1.0, -2.0, 0.5])


def stepper(epochs=5, batch_size=4, lr=0.05, **kw):
    X, y = data(scale=kw.pop("scale", 1.0))
    return LinearSteps(X, y, epochs, batch_size, lr, **kw)


# ---------------------------------------------------------------- History
def test_history_is_the_step_losses_array_with_epoch_means_weighted_by_rows():
    st = stepper(epochs=3, batch_size=4)  # 10 rows: batches of 4, 4, 2
    h = run_fit(st, 3)
    assert isinstance(h, np.ndarray) and isinstance(h, History) and h.shape == (9,) and len(h) == 9
    steps = st.history
    np.testing.assert_array_equal(np.asarray(h), steps)
    assert h[-1] == steps[-1] and type(h[:2]) is np.ndarray and type(h * 2) is np.ndarray
    assert type(h.mean()) is np.float64 and h.tolist() == steps.tolist()
    want = [(4 * steps[3 * e] + 4 * steps[3 * e + 1] + 2 * steps[3 * e + 2]) / 10 for e in range(3)]
    np.testing.assert_allclose(h.loss, want, rtol=1e-15)
    assert h.epochs == 3 and h.steps_per_epoch == 3 and h.val_loss is None and h.val_accuracy is None
    back = pickle.loads(pickle.dumps(h))
    np.testing.assert_array_equal(back, h)
    np.testing.assert_array_equal(back.loss, h.loss)
    assert st.closed


def test_epochs_zero_gives_an_empty_history():
    h = run_fit(stepper(epochs=0), 0)
    assert h.shape == (0,) and h.loss.shape == (0,)


# ---------------------------------------------------------------- chunks
def test_chunks_grow_to_the_measured_time_and_stop_at_epochs_only_when_epochs_are_watched():
    st = stepper(epochs=3000, batch_size=10, lr=0.01)  # one step per epoch, microseconds each
    run_fit(st, 3000)
    sizes = [b - a for a, b in st.calls]
    assert st.calls[0] == (0, 1) and len(st.calls) <= 4 and max(sizes) >= 1000, st.calls
    st = stepper(epochs=20, batch_size=4, lr=0.01)
    run_fit(st, 20, validation=(st.X, st.y))
    assert all(b <= (a // 3 + 1) * 3 for a, b in st.calls), st.calls  # no chunk crosses an epoch's end


# ---------------------------------------------------------------- divergence
@pytest.mark.parametrize("scale", [1e160, 1e3])
def test_divergence_raises_with_the_step_the_epoch_the_lr_and_the_history(scale):
    st = stepper(epochs=50, batch_size=4, lr=1.0, scale=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning reaches the user
        with pytest.raises(DivergedError) as info:
            run_fit(st, 50)
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert len(e.history) == e.step + 1 and not np.isfinite(e.history[-1]) and np.all(np.isfinite(e.history[:-1]))
    assert e.epoch == e.step // 3 and e.history.epochs == e.epoch and len(e.history.loss) == e.epoch
    assert e.lr == 1.0 and st.t == e.step and st.closed  # the bad step's update was not applied
    msg = str(e)
    for part in (f"step {e.step}", f"epoch {e.epoch}", "learning rate 1", "lr=0.1", "clip_norm", "scale"):
        assert part in msg, msg
    assert (e.step == 0) == (scale == 1e160) and ("starting weights" in msg) == (e.step == 0)
    assert pickle.loads(pickle.dumps(e)).step == e.step


def test_a_non_finite_gradient_is_divergence_too():
    st = stepper(epochs=2)
    st.steps = lambda s0, s1: (st.history.__setitem__(s0, 0.5), (GRAD_NOT_FINITE, s0))[1]
    with pytest.raises(DivergedError, match="the gradient became non-finite"):
        run_fit(st, 2)


# ---------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_a_chunk_is_raised_after_it_with_the_history():
    st = stepper(epochs=200_000, batch_size=10, lr=0.01, interrupt_at=5)
    with pytest.raises(KeyboardInterrupt) as info:
        run_fit(st, 200_000)
    (a, b) = st.calls[-1]
    assert a <= 5 < b < 200_000  # the chunk that saw Ctrl-C ran to its end, and no chunk after it
    assert len(info.value.history) == b == st.t and st.closed
    np.testing.assert_array_equal(info.value.history, st.history[:b])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_in_a_fit_of_one_call_is_raised_where_it_comes_with_what_was_applied():
    seen = []
    st = stepper(epochs=1, batch_size=40, interrupt_at=0)  # one step: one call, nothing to defer to
    st_steps = st.steps
    st.steps = lambda s0, s1: (seen.append(signal.getsignal(signal.SIGINT)), st_steps(s0, s1))[1]
    with pytest.raises(KeyboardInterrupt, match="fit interrupted after 0 of 1 steps") as info:
        run_fit(st, 1)  # this stepper's Ctrl-C comes before its step: none applied
    assert seen == [signal.default_int_handler] and st.t == 0 and st.closed and len(info.value.history) == 0


def test_a_programs_own_sigint_handler_runs_deferred_to_the_end_of_the_chunk():
    calls = []
    st = stepper(epochs=20_000, batch_size=10, lr=0.01, interrupt_at=5)
    old = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(st.calls[-1]))
    try:
        h = run_fit(st, 20_000)  # the handler does not raise: training goes on
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, old)
    assert len(h) == 20_000 and len(calls) == 1 and calls[0][0] <= 5 < calls[0][1]


def test_ctrl_c_in_a_callback_is_raised_at_once_with_the_history():
    def cb(epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    st = stepper(epochs=10, batch_size=4)
    with pytest.raises(KeyboardInterrupt) as info:
        run_fit(st, 10, callbacks=[cb])
    assert len(info.value.history) == 9 and info.value.history.epochs == 3 and st.closed


# ---------------------------------------------------------------- validation and callbacks
def test_callbacks_see_each_epoch_and_true_stops_after_it():
    seen, events = [], []

    class Recorder(Callback):
        def set_model(self, run):
            super().set_model(run)
            events.append(("set_model", run.epochs, run.metrics, run.model))

        def __call__(self, epoch, logs):
            seen.append((epoch, logs))
            return epoch == 3

        def on_train_end(self, logs):
            events.append(("end", logs))

    st = stepper(epochs=10)
    h = run_fit(st, 10, validation=(st.X[:4], st.y[:4]), callbacks=[Recorder(), lambda e, logs: None], model="m")
    assert [e for e, _ in seen] == [0, 1, 2, 3] and len(h) == 12 and h.epochs == 4
    assert events[0] == ("set_model", 10, ("loss", "val_loss"), "m") and events[1][0] == "end"
    np.testing.assert_allclose([logs["loss"] for _, logs in seen], h.loss, rtol=0)
    np.testing.assert_allclose([logs["val_loss"] for _, logs in seen], h.val_loss, rtol=0)
    X, y = st.X[:4], st.y[:4]
    assert h.val_loss[-1] == np.mean((X @ st.w - y) ** 2)  # the weights at the end of the last epoch


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    st = stepper(epochs=20, val_script=[5.0, 4.0, 3.0, 3.5, 3.2, 2.99, 9.0])
    es = EarlyStopping(patience=2, min_delta=0.02)
    h = run_fit(st, 20, validation=(st.X, st.y), callbacks=[es])
    # 3.5 and 3.2 do not improve on 3.0; stop after epoch 4, back to epoch 2's state (3 steps an epoch)
    assert es.best == 3.0 and es.best_epoch == 2 and es.stopped_epoch == 4 and h.epochs == 5
    assert st.restored == 9 and st.t == 9 and list(h.val_loss) == [5.0, 4.0, 3.0, 3.5, 3.2]


def test_early_stopping_at_the_last_epoch_restores_too_and_accuracy_is_maximized():
    st = stepper(epochs=4, val_script=[1.0, 0.5, 0.7, 0.9])
    st.metrics = ("accuracy",)
    es = EarlyStopping(monitor="val_accuracy", patience=5)
    run_fit(st, 4, validation=(st.X, st.y), callbacks=[es])
    assert es.maximize and es.best == 1.0 and es.best_epoch == 0 and es.stopped_epoch is None and st.restored == 3


def test_early_stopping_without_validation_says_how_to_get_val_loss():
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*validation=\(X_val, y_val\)"):
        run_fit(stepper(), 5, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


# ---------------------------------------------------------------- progress bar
class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("tty, progress, shown", [(True, True, True), (False, True, False), (True, False, False)])
def test_progress_bar_only_in_a_terminal_for_long_fits(monkeypatch, tty, progress, shown):
    pytest.importorskip("tqdm")
    err = Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(training, "PROGRESS_AFTER_S", 0.0)  # every fit counts as long
    monkeypatch.setattr(training, "MEASURE_S", 0.0)
    run_fit(stepper(epochs=50), 50, progress=progress, validation=(np.zeros((1, 3)), np.zeros(1)))
    assert ("150/150" in err.getvalue()) == shown, err.getvalue()


def test_fit_in_another_thread_leaves_signals_alone():
    import threading

    out = {}
    st = stepper(epochs=5)
    thread = threading.Thread(target=lambda: out.setdefault("h", run_fit(st, 5)))
    thread.start()
    thread.join()
    assert len(out["h"]) == 15 and st.closed
