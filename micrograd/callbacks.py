"""Callbacks of ``fit``: what runs after every epoch, and EarlyStopping built on it.

A callback is any callable ``cb(epoch, logs)``, called after every epoch (``epoch`` counted from 0,
``logs`` a new dict of that epoch's values: ``loss``, and with validation ``val_loss``, ``val_accuracy``);
returning True stops training after that epoch. Two optional methods, as in Keras:
``set_model(run)``, called once before the first epoch with the ``Run`` (the model, its snapshots, the
History so far), and ``on_train_end(logs)``, called once after the last epoch (also when a callback
stopped training; not when training raised: divergence, Ctrl-C). ``Callback`` is a base class that
keeps ``self.run``; subclassing it is optional.
"""

from __future__ import annotations

import math
from typing import Any


class Run:
    """What a callback's ``set_model`` gets: the training in progress.

    ``model``: what ``fit`` was called on; ``epochs``: the epochs asked for; ``steps_per_epoch``;
    ``metrics``: the names every ``logs`` holds; ``history``: the ``History`` of the epochs done so far.
    ``snapshot()`` copies the weights and optimizer state, ``restore(snap)`` puts them back (the
    optimizer's step count too)."""

    def __init__(self, stepper, model: Any, epochs: int, steps_per_epoch: int, metrics: tuple[str, ...]):
        self._stepper = stepper
        self.model, self.epochs, self.steps_per_epoch, self.metrics = model, epochs, steps_per_epoch, metrics
        self.history: Any = None

    def snapshot(self) -> object:
        return self._stepper.snapshot()

    def restore(self, snap: object) -> None:
        self._stepper.restore(snap)


class Callback:
    """Optional base class: keeps ``self.run``; override ``__call__`` (and ``on_train_end``)."""

    run: Run | None = None

    def set_model(self, run: Run) -> None:
        self.run = run

    def __call__(self, epoch: int, logs: dict) -> bool | None:
        return None

    def on_train_end(self, logs: dict) -> None:
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode``: "min" (a loss), "max" (an accuracy) or "auto" (max when the name says accuracy).
    ``restore_best``: when training ends (stopped here, stopped by another callback, or after the last
    epoch), put back the weights and optimizer state of the best epoch. After training: ``best`` (the
    best value), ``best_epoch``, ``stopped_epoch`` (None when it did not stop training). A NaN value
    never improves."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0.0):
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.restore_best = (
            monitor,
            patience,
            float(min_delta),
            restore_best,
        )
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self._reset()

    def _reset(self) -> None:
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_state: object = None
        self._last_epoch: int | None = None

    def set_model(self, run: Run) -> None:
        if self.monitor not in run.metrics:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, but fit's logs hold {list(run.metrics)}"
                + ("; pass validation=(X_val, y_val) to fit" if self.monitor.startswith("val_") else "")
            )
        super().set_model(run)
        self._reset()

    def _improved(self, value: float) -> bool:
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def __call__(self, epoch: int, logs: dict) -> bool:
        value = float(logs[self.monitor])
        self._last_epoch = epoch
        if self._improved(value):  # False for NaN
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best and self.run is not None:
                self._best_state = self.run.snapshot()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, logs: dict) -> None:
        if self.restore_best and self._best_state is not None and self.best_epoch != self._last_epoch:
            assert self.run is not None
            self.run.restore(self._best_state)
