"""The training loop above the compiled steps: chunks, Ctrl-C, divergence, History, validation, callbacks.

``CompiledModel.fit`` checks its arguments, builds a stepper (the runtime's compiled primitives, below)
and returns ``run_fit(stepper, epochs, ...)``. This module knows no kernel: any object with the
``Stepper`` interface trains here.

Contract of ``run_fit``:
- Steps run in chunks of compiled steps (``stepper.steps``), each sized from the measured step time
  to take about ``CHUNK_S``; with validation or callbacks a chunk also ends at each epoch's end.
  Between chunks: Ctrl-C (deferred while a chunk runs, then raised), the progress bar, the epoch's
  values (``loss``; ``val_loss``, ``val_accuracy`` with ``validation``), the callbacks. Steps that fit in
  one chunk with nothing per epoch are one call, with no handler: Ctrl-C is raised as it returns, and
  ``stepper.done`` says which steps it applied.
- A non-finite batch loss or gradient stops training at that step, whose update is not applied:
  ``DivergedError`` (a ``FloatingPointError``) names the step, epoch and learning rate and what to try,
  and carries ``.history``; the model keeps the weights and optimizer state of the last finite step.
- Ctrl-C re-raises ``KeyboardInterrupt`` within one chunk (~0.1 s) with ``.history`` (the steps done);
  the model keeps the weights after the last completed step and stays usable.
- Returns a ``History``: the batch loss of every step (an ndarray, as ``fit`` always returned) with
  the per-epoch values beside it. Steps and epochs are counted from 0.
"""

from __future__ import annotations

import _signal  # signal's C module: signal.signal converts to and from enums, 8 us a fit call against 1 us
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from micrograd.callbacks import Callback, EarlyStopping, Run

__all__ = ["History", "DivergedError", "Stepper", "run_fit", "Callback", "EarlyStopping", "Run"]

OK, LOSS_NOT_FINITE, GRAD_NOT_FINITE = 0, 1, 2  # the status of Stepper.steps
SIGINT = int(signal.SIGINT)
CHUNK_S = 0.1  # seconds of compiled steps between two checks for Ctrl-C: well within the 0.5 s a user waits
FIRST_CHUNK = 1  # steps in the first chunk, before a step has been timed
PROGRESS_AFTER_S = 2.0  # a progress bar when the rest of the fit is expected to take longer than this (s)
MEASURE_S = 0.05  # ... as timed over this long at least


class Stepper(Protocol):
    """What ``run_fit`` needs from a runtime: its compiled training primitives.

    ``history`` (n_steps,) float64: ``steps`` writes step s's batch loss into ``history[s]``.
    ``n_rows``, ``batch_size``: an epoch's rows and mini-batch size (the last batch of an epoch may be smaller).
    ``metrics``: the names ``evaluate`` returns, e.g. ("loss", "accuracy").
    """

    history: np.ndarray
    n_rows: int
    batch_size: int
    done: int  # the steps applied so far (those an interrupted fit keeps)

    @property
    def metrics(self) -> tuple[str, ...]: ...

    def steps(self, s0: int, s1: int) -> tuple[int, int]:
        """Run the global steps s0 .. s1-1 (forward, loss, backward, clip, update). Returns (OK, s1), or
        (LOSS_NOT_FINITE or GRAD_NOT_FINITE, s) when step s's loss or gradient is not finite: then the
        weights and optimizer state are those after step s-1 (s's update is not applied)."""
        ...

    def evaluate(self, X: Any, Y: Any) -> dict[str, float]:
        """Forward and loss (no update) on the rows of X, Y with the current weights: {"loss": ..., ...}."""
        ...

    def lr(self, step: int) -> float:
        """The learning rate of global step ``step``."""
        ...

    def snapshot(self) -> object:
        """A copy of the weights and optimizer state (step count included)."""
        ...

    def restore(self, snap: object) -> None:
        """Put back a ``snapshot()``."""
        ...

    def close(self) -> None:
        """Training has ended, however it ended: write back the state kept outside the model (optimizer)."""
        ...


class History(np.ndarray):
    """The batch loss of every step (an ndarray: len, indexing, arithmetic as before) and per-epoch values.

    ``per_epoch``: name -> (``epochs``,) array over the completed epochs. ``loss``: an epoch's mean batch
    loss, each batch weighted by its rows (the mean over the epoch's examples of their batch's loss, the
    L2 term included); ``val_loss`` and ``val_accuracy`` (None when not computed): on the validation rows
    with the weights at the end of the epoch. Arithmetic and slices give plain ndarrays."""

    steps_per_epoch: int = 1
    epochs: int = 0  # completed epochs
    _per_epoch: Mapping[str, np.ndarray] = MappingProxyType({})  # replaced, never changed in place
    _batches: tuple[int, int] | None = None  # (rows, batch size) of an epoch: then ``loss`` is computed when read

    def __new__(cls, steps, per_epoch: dict | None = None, steps_per_epoch: int = 1, epochs: int | None = None):
        obj = np.asarray(steps, dtype=np.float64).view(cls)
        if per_epoch:
            obj._per_epoch = {k: np.asarray(v, dtype=np.float64) for k, v in per_epoch.items()}
        obj.steps_per_epoch = int(steps_per_epoch)
        obj.epochs = len(obj) // obj.steps_per_epoch if epochs is None else int(epochs)
        return obj

    @classmethod
    def _of(cls, steps: np.ndarray, steps_per_epoch: int, epochs: int, batches: tuple[int, int]) -> History:
        """History(steps, None, steps_per_epoch, epochs) of a float64 array, its per-epoch losses computed when
        first read from its ``batches`` (rows, batch size): what run_fit returns, without __new__'s conversions."""
        obj = steps.view(cls)
        obj.steps_per_epoch, obj.epochs, obj._batches = steps_per_epoch, epochs, batches
        return obj

    def __array_finalize__(self, obj) -> None:
        if isinstance(obj, History):  # else the class's defaults
            self._per_epoch, self._batches = obj._per_epoch, obj._batches
            self.steps_per_epoch, self.epochs = obj.steps_per_epoch, obj.epochs

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        arr = arr.view(np.ndarray)
        return arr[()] if return_scalar else arr

    def __getitem__(self, key):
        return self.view(np.ndarray)[key]

    def __reduce__(self):
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.per_epoch, self.steps_per_epoch, self.epochs)

    def __setstate__(self, state) -> None:
        base, self._per_epoch, self.steps_per_epoch, self.epochs = state
        super().__setstate__(base)

    @property
    def per_epoch(self) -> dict[str, np.ndarray]:
        if self._batches is not None and "loss" not in self._per_epoch:
            losses = self.view(np.ndarray)[: self.epochs * self.steps_per_epoch]
            self._per_epoch = {"loss": epoch_losses(losses, *self._batches), **self._per_epoch}
        return dict(self._per_epoch)

    @property
    def loss(self) -> np.ndarray:
        return self.per_epoch.get("loss", np.zeros(0))

    @property
    def val_loss(self) -> np.ndarray | None:
        return self.per_epoch.get("val_loss")

    @property
    def val_accuracy(self) -> np.ndarray | None:
        return self.per_epoch.get("val_accuracy")


def epoch_losses(losses: np.ndarray, n_rows: int, batch_size: int) -> np.ndarray:
    """Each epoch's mean batch loss, each batch weighted by its rows (an epoch: ``n_rows`` rows in batches of
    ``batch_size``, the last one smaller when they do not divide)."""
    rows = np.full(-(-n_rows // batch_size), float(batch_size))
    rows[-1] = n_rows - (len(rows) - 1) * batch_size
    with np.errstate(all="ignore"):  # a diverged epoch: inf and NaN, no warning
        return (losses.reshape(-1, len(rows)) * rows).sum(axis=1) / rows.sum()


class DivergedError(FloatingPointError):
    """fit stopped: a batch loss or gradient was not finite. ``step``, ``epoch`` (from 0), ``lr``, ``loss``
    (that step's batch loss), ``gradient`` (True: the loss was finite, its gradient was not) and ``history``
    (every batch loss so far, the non-finite step's last); the model holds the weights and optimizer state
    from before that step."""

    step: int
    epoch: int
    lr: float
    loss: float
    gradient: bool
    history: History

    def __init__(self, message: str, **fields):
        super().__init__(message)
        self.__dict__.update(fields)


def diverged(step: int, epoch: int, lr: float, loss: float, gradient: bool, history: History) -> DivergedError:
    """The error, with a message that says where, with which learning rate, and what to try."""
    what = f"the gradient became non-finite (the batch loss was {loss:.4g})" if gradient else f"the loss became {loss}"
    kept = "its starting weights" if step == 0 else f"the weights after step {step - 1}, the last finite one"
    return DivergedError(
        f"training diverged: {what} at step {step} (epoch {epoch}, both counted from 0) with learning rate {lr:g}. "
        f"The model keeps {kept} (and the optimizer's state); .history holds the batch losses so far. "
        f"Try a smaller learning rate (e.g. lr={lr / 10:g}), clipping the gradient (fit(..., clip_norm=1.0)), "
        f"or check the inputs' scale (standardize X; targets of size 1e3 make mse gradients of that size).",
        step=step,
        epoch=epoch,
        lr=lr,
        loss=loss,
        gradient=gradient,
        history=history,
    )


class _Interrupts:
    """Ctrl-C while compiled steps run is remembered (``pending``) and raised by the loop between chunks,
    once the state is consistent; outside ``deferring`` (callbacks) it is raised at once. In the main thread
    over a Python handler only (Python's default, Jupyter's): the handler found is what runs, deferred
    (the default raises KeyboardInterrupt, here with a message)."""

    def __init__(self) -> None:
        self.pending = False
        self.deferring = True
        self._old: Any = None

    def __enter__(self) -> _Interrupts:
        old = _signal.getsignal(SIGINT)
        if callable(old):
            try:
                _signal.signal(SIGINT, self._handle)
                self._old = old
            except ValueError:  # not the main thread: Ctrl-C is the main thread's
                pass
        return self

    def _handle(self, signum, frame) -> None:
        self.pending = True
        if not self.deferring:
            self.raise_pending(None)

    def raise_pending(self, message: str | None) -> None:
        if self.pending:
            self.pending = False
            if self._old is not signal.default_int_handler:
                self._old(SIGINT, None)  # it may raise, or not: then training goes on
                return
            raise KeyboardInterrupt(*filter(None, [message]))

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            _signal.signal(SIGINT, self._old)


class _Progress:
    """A tqdm bar over the steps, made when the rest of the fit is expected to take over PROGRESS_AFTER_S
    and stderr is a terminal; nothing without tqdm. The rate is measured after the first chunk (whose time
    holds one-off costs, such as loading the kernels), over at least MEASURE_S."""

    def __init__(self, total: int) -> None:
        self.wanted, self.total = True, total
        self.start: tuple[float, int] | None = None  # (time, steps done) at the end of the first chunk
        self.bar: Any = None

    def update(self, done: int, postfix: dict) -> None:
        if self.bar is None:
            if not self.wanted:
                return
            now = time.perf_counter()
            if self.start is None:
                self.start = now, done
                return
            t0, d0 = self.start
            if now - t0 < MEASURE_S or done == d0:
                return
            self.wanted = False  # decided: one bar at most
            if (now - t0) / (done - d0) * (self.total - done) <= PROGRESS_AFTER_S or not _is_terminal(sys.stderr):
                return
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=self.total, initial=done, unit="step", file=sys.stderr, dynamic_ncols=True)
        self.bar.n = done
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def interrupted(done: int, total: int, steps_per_epoch: int) -> str:
    return (
        f"fit interrupted after {done} of {total} steps (epoch {done // steps_per_epoch}); the model holds "
        f"the weights after step {done - 1}; .history holds the batch losses so far"
    )


def run_fit(
    stepper: Stepper,
    epochs: int,
    *,
    validation: tuple | None = None,
    callbacks: Sequence[Callable] = (),
    progress: bool = True,
    model: object = None,
) -> History:
    """Train ``epochs`` epochs with ``stepper`` (see the module docstring); ``validation``: the (X, Y) that
    ``stepper.evaluate`` takes; ``callbacks``: each called ``cb(epoch, logs)`` after every epoch (True
    stops training), with ``set_model(run)`` before and ``on_train_end(logs)`` after, where they exist;
    ``model``: what callbacks see as ``run.model``."""
    N, bs = stepper.n_rows, stepper.batch_size
    spe = -(-N // bs)
    total = epochs * spe
    losses = stepper.history
    per_epoch_work = bool(callbacks) or validation is not None
    if total <= FIRST_CHUNK and not per_epoch_work:
        return _one_call(stepper, total, spe)
    values = run = None
    if per_epoch_work:
        names = ("loss",) + (tuple("val_" + m for m in stepper.metrics) if validation is not None else ())
        values = {k: np.full(epochs, np.nan) for k in names}  # per epoch, filled in order
        run = Run(stepper, model, epochs, spe, names) if callbacks else None
    done, per_step, logs = 0, 0.0, {}
    bar = _Progress(total) if progress and total > FIRST_CHUNK else None  # a fit of one chunk shows no bar

    def history(n: int, epochs_done: int) -> History:
        if values is None:
            h = History._of(losses[:n], spe, epochs_done, (N, bs))  # the epochs' losses when first read
        else:
            h = History(losses[:n], {k: v[:epochs_done] for k, v in values.items()}, spe, epochs_done)
        if run is not None:
            run.history = h
        return h

    try:
        with _Interrupts() as interrupts:
            for cb in callbacks:
                if hasattr(cb, "set_model"):
                    cb.set_model(run)
            while done < total:
                end = min(total, (done // spe + 1) * spe) if per_epoch_work else total
                s1 = min(end, done + (max(1, int(CHUNK_S / per_step)) if per_step else FIRST_CHUNK))
                t0 = time.perf_counter()
                status, step = stepper.steps(done, s1)
                if status != OK:
                    raise _not_finite(stepper, status, step, spe, history)
                per_step = (time.perf_counter() - t0) / (s1 - done) if s1 < total else 0.0  # sizes the next chunk
                done = s1
                if per_epoch_work and done % spe == 0:
                    logs = {"loss": float(epoch_losses(losses[done - spe : done], N, bs)[0])}
                    if validation is not None:
                        logs.update(("val_" + k, v) for k, v in stepper.evaluate(*validation).items())
                    for k, v in values.items():  # type: ignore[union-attr]
                        v[done // spe - 1] = logs[k]
                    history(done, done // spe)
                    interrupts.deferring = False
                    stop = [bool(cb(done // spe - 1, dict(logs))) for cb in callbacks]
                    interrupts.deferring = True
                    if any(stop):
                        break
                if bar is not None and (bar.wanted or bar.bar is not None):
                    bar.update(done, {"loss": losses[done - 1], **logs})
                if interrupts.pending:
                    interrupts.raise_pending(interrupted(done, total, spe))
            interrupts.deferring = False
            if interrupts.pending:  # one that came after the last check
                interrupts.raise_pending(interrupted(done, total, spe))
            for cb in callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(dict(logs))
            return history(done, done // spe)
    except KeyboardInterrupt as e:
        _with_history(e, stepper, total, spe, history)
        raise
    finally:
        if bar is not None:
            bar.close()
        stepper.close()


def _one_call(stepper: Stepper, total: int, spe: int) -> History:
    """run_fit of steps that run in one call of ``stepper.steps`` with nothing per epoch: no chunks, and no
    SIGINT handler (the loop's is there to raise Ctrl-C between chunks; here CPython raises it as the call
    returns, and the stepper has recorded the steps it applied by then)."""
    batches = (stepper.n_rows, stepper.batch_size)

    def history(n: int, epochs_done: int) -> History:
        return History._of(stepper.history[:n], spe, epochs_done, batches)

    try:
        status, step = stepper.steps(0, total)
        if status != OK:
            raise _not_finite(stepper, status, step, spe, history)
        return History._of(stepper.history, spe, total // spe, batches)
    except KeyboardInterrupt as e:
        _with_history(e, stepper, total, spe, history)
        raise
    finally:
        stepper.close()


def _not_finite(stepper: Stepper, status: int, step: int, spe: int, history: Callable) -> DivergedError:
    """The error of step ``step``, whose loss or gradient was not finite; its history ends with that loss."""
    h = history(step + 1, step // spe)  # the bad step's loss last; its epoch is not complete
    return diverged(step, step // spe, stepper.lr(step), float(stepper.history[step]), status == GRAD_NOT_FINITE, h)


def _with_history(e: KeyboardInterrupt, stepper: Stepper, total: int, spe: int, history: Callable) -> None:
    """A Ctrl-C's KeyboardInterrupt with the fit's history of the steps applied, and words to say so."""
    done = stepper.done
    e.history = history(done, done // spe)  # type: ignore[attr-defined]
    e.args = e.args or (interrupted(done, total, spe),)
