"""FitSteps: the compiled primitives ``micrograd.training.run_fit`` trains with (its ``Stepper``).

- ``steps(s0, s1)``: the global steps s0 .. s1-1 in one kernel call (mode FIT), each step's batch loss
  into ``history``; ``(status, step)`` with ``training``'s statuses: the kernel stops before the update
  of a step whose loss or gradient is not finite.
- ``evaluate(X, Y)``: forward and loss of the training program over validation rows, no update (mode
  EVAL): ``{"loss": mean loss + l2 term, "accuracy": ...}`` (accuracy for the losses that define it).
- ``snapshot()`` / ``restore(snap)``: the weights, the optimizer's state and the steps done.
- ``close()``: the optimizer's step count (its state arrays are the kernel's own: nothing to copy).

Epoch e visits the rows in the order of the e-th ``rng.permutation(N)``; the permutations (and the
learning rates of a schedule) are drawn chunk by chunk, in order, so a long fit holds only the epochs
of its current chunk.
"""

from __future__ import annotations

import numpy as np

from micrograd import losses, training
from micrograd.compiler.codegen import CTL_DONE, DIVERGED, EVAL, FIT, GRAD_DIVERGED, OK

_STATUS = {OK: training.OK, DIVERGED: training.LOSS_NOT_FINITE, GRAD_DIVERGED: training.GRAD_NOT_FINITE}
ORDER_ROWS = 1 << 18  # the row order of at most this many rows' worth of epochs at a time (2 MiB)


class FitSteps:
    """One fit call's training state over a CompiledModel ``cm`` (arguments already checked)."""

    __slots__ = ("cm", "prog", "plan", "X", "Y", "optimizer", "st", "n_rows", "batch_size", "gen", "per_epoch", "hs",
                 "history", "loss", "t0", "_lr", "_rates", "done", "_order", "_first", "_next")  # fmt: skip

    def __init__(self, cm, prog, plan, X, Y, loss, optimizer, st, epochs, batch_size, gen):
        self.cm, self.prog, self.plan, self.X, self.Y, self.optimizer, self.st = cm, prog, plan, X, Y, optimizer, st
        self.n_rows, self.batch_size, self.gen, self.loss = X.shape[0], batch_size, gen, loss  # gen None: in order
        self.per_epoch = per_epoch = -(-self.n_rows // batch_size)
        self.hs = hs = np.empty((2, epochs * per_epoch))  # learning rates, batch losses
        self.history = hs[1]
        self.t0, self._lr = int(optimizer.t), optimizer.lr
        if callable(self._lr):
            self._rates = 0  # learning rates drawn: steps 0 .. _rates-1
        else:
            hs[0].fill(self._lr)
            self._rates = hs.shape[1]
        self.done = 0  # updates applied: the optimizer's step count is t0 + done
        self._order, self._first, self._next = cm._no_order, 0, 0  # the row order of epochs [_first, _next)

    # ------------------------------------------------------------ training.Stepper
    @property
    def metrics(self) -> tuple[str, ...]:
        return ("loss", "accuracy") if self._right() else ("loss",)

    def _right(self):
        """The loss's accuracy function (named losses that define one), else None."""
        named = losses.REGISTRY.get(self.loss) if isinstance(self.loss, str) else None
        return None if named is None else named.accuracy

    def lr(self, step: int) -> float:
        return float(self._lr(self.t0 + step)) if callable(self._lr) else float(self._lr)

    def steps(self, s0: int, s1: int) -> tuple[int, int]:
        if s1 > self._rates:  # a schedule: this chunk's rates, in order
            self.hs[0, self._rates : s1] = [self.lr(s) for s in range(self._rates, s1)]
            self._rates = s1
        cm, shuffled, status = self.cm, int(self.gen is not None), OK
        block = max(1, ORDER_ROWS // self.n_rows) * self.per_epoch if shuffled else max(1, s1 - s0)
        for a in range(s0, s1, block):
            b = min(s1, a + block)
            order = self._rows(a, b) if shuffled else self._order
            cm._ctl_items[CTL_DONE], ran = a, False  # the kernel counts the steps it applies there
            try:
                status = cm._run(self.plan, FIT, self.prog, self.X, self.Y, order, cm._no_out, self.hs, self.st, a, b,
                                 self.batch_size, shuffled, self._first, self.t0)  # fmt: skip
                ran = True
            finally:  # also when Ctrl-C is raised as the kernel returns (or before it starts)
                self.done = cm._ctl_items[CTL_DONE]
                if ran or self.done > a:
                    cm._binding.kernel_wrote(weights=True)
            if status != OK:
                break
        return _STATUS[status], self.done

    def evaluate(self, X, Y) -> dict[str, float]:
        cm = self.cm
        plan = cm._plan(self.prog, X.shape[0], Y.shape[1], train=True)
        out = np.empty((X.shape[0], cm.n_outputs), cm.dtype)
        hs = np.zeros((2, 1))
        cm._run(plan, EVAL, self.prog, X, Y, cm._no_order, out, hs, self.st, 0, 1, X.shape[0], 0, 0, 0)
        result = {"loss": float(hs[1, 0])}
        right = self._right()
        if right is not None:
            with np.errstate(all="ignore"):  # a diverging model: inf and NaN outputs, no warning
                result["accuracy"] = float(np.mean(right(out, Y)))
        return result

    def snapshot(self) -> tuple:
        return self.cm.theta.copy(), self.st.copy(), self.done

    def restore(self, snap) -> None:
        theta, st, self.done = snap
        self.cm.theta[:], self.st[:] = theta, st
        self.cm._binding.kernel_wrote(weights=True)

    def close(self) -> None:
        self.optimizer.__dict__["t"] = self.t0 + self.done  # what its __setattr__ does for t, without the call

    # ------------------------------------------------------------ the row order
    def _rows(self, s0: int, s1: int) -> np.ndarray:
        """The row order of the epochs of steps s0 .. s1-1, from epoch _first on (drawn in order, once)."""
        if self.gen is None:
            return self._order
        N, per = self.n_rows, self.per_epoch
        e0, e1 = s0 // per, (s1 - 1) // per + 1
        if e1 > self._next or e0 != self._first:
            kept = self._order[(e0 - self._first) * N : (self._next - self._first) * N] if e0 < self._next else None
            order = np.empty((e1 - e0) * N, dtype=np.int64)
            start = 0
            if kept is not None and len(kept):
                order[: len(kept)] = kept
                start = len(kept)
            for _ in range(max(self._next, e0), e1):  # each epoch's permutation, drawn once, in order
                order[start : start + N] = self.gen.permutation(N)
                start += N
            self._order, self._first, self._next = order, e0, max(self._next, e1)
        return self._order
