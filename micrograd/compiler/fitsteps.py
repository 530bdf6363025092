"""FitSteps: the compiled primitives ``micrograd.training.run_fit`` trains with (its ``Stepper``), on these kernels.

- ``steps(s0, s1)``: the global steps s0 .. s1-1 in one ``kernels.fit`` call (or, for big layers, a Python
  loop over parallel ``step_chunks`` steps), each step's batch loss into ``history``; ``(status, step)``
  with ``training``'s statuses, stopping before the update of a step whose loss or gradient is not finite.
- ``evaluate(X, Y)``: forward and loss of the training program over validation rows (no update):
  ``{"loss": mean loss + l2 term, "accuracy": ...}`` (accuracy for the losses that define it).
- ``snapshot()`` / ``restore(snap)``: the weights, the optimizer's state arrays and the steps done.
- ``close()``: the optimizer's state and step count back into the optimizer.

Epoch e visits the rows in the order of the e-th ``rng.permutation(N)``; the permutations (and the
learning rates of a schedule) are drawn chunk by chunk, in order, so a long fit holds only the epochs
of its current chunk.
"""

from __future__ import annotations

import numpy as np

from micrograd import losses, training
from micrograd.compiler import kernels, threads

_STATUS = {
    kernels.OK: training.OK,
    kernels.LOSS_NOT_FINITE: training.LOSS_NOT_FINITE,
    kernels.GRAD_NOT_FINITE: training.GRAD_NOT_FINITE,
}


class FitSteps:
    """One fit call's training state over a CompiledModel ``cm`` (arguments already checked)."""

    def __init__(self, cm, prog, X, Y, loss, optimizer, kind, hyper, epochs, batch_size, gen, l2, clip_norm):
        self.cm, self.prog, self.X, self.Y, self.optimizer = cm, prog, X, Y, optimizer
        self.n_rows, self.batch_size = X.shape[0], batch_size
        self.l2, self.clip_norm, self.gen = float(l2), float(clip_norm), gen  # gen None: no shuffling
        spe = -(-self.n_rows // batch_size)
        self.history = np.zeros(epochs * spe)
        named = losses.REGISTRY.get(loss) if isinstance(loss, str) else None
        self._right = named.accuracy if named and len(prog.output_slots) == cm.n_outputs else None
        self.metrics = ("loss", "accuracy") if self._right else ("loss",)
        self.t0, self._lr = int(optimizer.t), optimizer.lr
        s1, s2 = optimizer.export_state(cm.program.perm)
        self.state = kernels.opt_state(kind, s1, s2, self.t0, **hyper)
        self.done = 0  # updates applied: the optimizer's step count is t0 + done
        self._order, self._first, self._next = np.zeros(0, np.int64), 0, 0  # epochs [_first, _next) drawn
        self._single = cm.chunks(prog, batch_size) == 1
        if self._single:
            V, G, _ = cm._buffers_for(prog, batch_size)
            V2, G2, _ = cm._buffers_for(prog, self.n_rows - (spe - 1) * batch_size)
            self._buffers = tuple(kernels.Buffers(V, G, V2, G2))

    # ------------------------------------------------------------ training.Stepper
    def lr(self, step: int) -> float:
        return float(self._lr(self.t0 + step)) if callable(self._lr) else float(self._lr)

    def steps(self, s0: int, s1: int) -> tuple[int, int]:
        cm, prog = self.cm, self.prog
        if cm._binding.stale:  # a callback wrote weights, or another compiled model took them
            cm._binding.refresh()
        order = self._rows(s0, s1)
        row0 = self._first * self.n_rows
        lrs = np.array([self.lr(s) for s in range(s0, s1)]) if callable(self._lr) else np.full(s1 - s0, self.lr(0))
        if self._single:
            code, leaves = cm._kernel_args(prog)
            threads.blas_threads_for(prog.dense_work * self.batch_size)
            plan = kernels.Plan(s0, s1, row0, self.batch_size, self.l2, self.clip_norm)
            status, step = kernels.fit(
                code, leaves, cm.theta, self.X, self.Y, order, lrs, tuple(self.state), tuple(plan),
                self.history, self._buffers, cm._gtheta,
            )  # fmt: skip
        else:  # big layers: a step takes milliseconds, so a Python loop over parallel compiled steps costs <3%
            status, step = self._python_steps(order, row0, lrs, s0, s1)
        kernels.check(status, prog)
        self.done = step
        cm._binding.kernel_wrote(weights=True)
        return _STATUS[status], step

    def evaluate(self, X, Y) -> dict[str, float]:
        cm, prog = self.cm, self.prog
        V, _, _ = cm._buffers_for(prog, X.shape[0])
        code, leaves = cm._kernel_args(prog)
        threads.blas_threads_for(prog.dense_work * X.shape[0])
        kernels.load(V, X, Y, np.arange(X.shape[0]), leaves, cm.theta)
        kernels.check(kernels.forward(code, cm.theta, V), prog)
        with np.errstate(all="ignore"):  # a diverging model: inf and NaN, no warning
            theta = cm.theta.astype(np.float64)
            out = {"loss": float(V[prog.loss_slot].sum(dtype=np.float64) / X.shape[0] + self.l2 * (theta @ theta))}
            if self._right is not None:
                out["accuracy"] = float(np.mean(self._right(V[prog.output_slots].T, Y)))
        return out

    def snapshot(self) -> tuple:
        return self.cm.theta.copy(), self.state.s1.copy(), self.state.s2.copy(), self.done

    def restore(self, snap) -> None:
        theta, s1, s2, self.done = snap
        self.cm.theta[:], self.state.s1[:], self.state.s2[:] = theta, s1, s2
        self.cm._binding.kernel_wrote(weights=True)

    def close(self) -> None:
        self.optimizer.import_state(self.state.s1, self.state.s2, self.cm._pos)
        self.optimizer.t = self.t0 + self.done

    # ------------------------------------------------------------ helpers
    def _rows(self, s0: int, s1: int) -> np.ndarray:
        """The row order of the epochs of steps s0 .. s1-1, from the first of them (epochs drawn in order)."""
        N, spe = self.n_rows, -(-self.n_rows // self.batch_size)
        e0, e1 = s0 // spe, (s1 - 1) // spe + 1
        if e0 > self._first:
            self._order, self._first = self._order[(e0 - self._first) * N :], e0
        if e1 > self._next:
            k = e1 - self._next
            new = [self.gen.permutation(N) for _ in range(k)] if self.gen is not None else [np.tile(np.arange(N), k)]
            if len(self._order):
                new.insert(0, self._order)
            self._order = (np.concatenate(new) if len(new) > 1 else new[0]).astype(np.int64, copy=False)
            self._next = e1
        return self._order

    def _python_steps(self, order, row0, lrs, s0, s1) -> tuple[int, int]:
        cm, opt_t = self.cm, tuple(self.state)
        for s in range(s0, s1):
            start, count = kernels.batch_bounds(s, self.n_rows, self.batch_size)
            self.history[s], gtheta = cm._step(
                self.prog, self.X, self.Y, order[start - row0 : start - row0 + count], self.l2
            )
            if not np.isfinite(self.history[s]):
                return kernels.LOSS_NOT_FINITE, s
            if not kernels.gradient_ok(gtheta, self.clip_norm):
                return kernels.GRAD_NOT_FINITE, s
            kernels.update(cm.theta, gtheta, opt_t, lrs[s - s0], self.t0 + s)
        return kernels.OK, s1
