"""CompiledModel: a traced, lowered model with its parameter vector, buffers and training loop.

Contract (see ``micrograd.compile`` for the user-facing story, docs/compiled-model-state.md for state):
- ``cm(X)`` -> (N, nout) outputs for X (N, nin); ``cm.loss_and_grad(X, y, loss, l2)``
  -> (batch loss, gradients in ``model.parameters()`` order) with the batch loss
  ``mean_i loss(model(X[i]), y[i]) + l2 * sum(p*p)``, what the Value path gives;
  ``cm.fit(...)`` trains in compiled code.
- The model's Values are what the user sees: every call computes with their current
  data, and what a call computes is in them at once. The parameter Values are bound
  (``compiler.params``) to ``cm.theta`` (the forward program's layout, a permutation
  of the model's order) and to the gradient vector, so no call copies the weights;
  ``loss_and_grad`` and ``fit`` leave each parameter's ``.grad`` holding the (last)
  batch's gradient, overwritten, so ``optimizer.step()`` works after them.
- One call at a time: a lock serializes calls from several threads.
- Every argument is checked (``compiler.checks``); buffers are allocated per
  (program, batch size) and reused.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence

import numpy as np

from micrograd.compiler import checks, kernels
from micrograd.compiler.checks import LossArg
from micrograd.compiler.ir import DEBUG_VALIDATE, Program, validate
from micrograd.compiler.params import Binding, check_params
from micrograd.compiler.passes import lower
from micrograd.compiler.trace import call_model, trace_model

CHUNKS = 2  # batch chunks run in parallel (fixed, so results do not depend on the thread count)
PARALLEL_WORK = 1 << 22  # dense multiply-adds per batch from which chunks pay: 784-128-10 at batch 256 (26M)
#                            ran 1.3-1.8x faster on the 2 idle cores; 64-64-10 at batch 128 (0.6M) stays serial
# MICROGRAD_PARALLEL=1: batch chunks in parallel (step_chunks) for big layers. Off by default: BLAS on 2 threads
# won (784-128-10 fit step, batch 256, quiet 2-core machine, 2-3 runs each, one after the other: BLAS 2 threads
# 2.13-2.40 ms, chunks + BLAS 1 thread 2.59-3.34 ms, serial 2.70-2.82 ms; docs/compiler.md "Performance"), and
# the parallel kernel is the costliest to compile (29 s CPU cold against 14 s for fit's).
PARALLEL = os.environ.get("MICROGRAD_PARALLEL", "0") == "1"


_blas_limited = False
_blas_libs: list = []  # SciPy's BLAS controllers (threadpoolctl), found once
_blas_now = [0]  # the thread count they run with now


def limit_blas_threads() -> None:
    """Run the BLAS that Numba's np.dot calls (SciPy's) on one thread, and on MICROGRAD_BLAS_THREADS (default
    2 where there are 2 cores) while the layers are big (``blas_threads_for``).

    Measured on the 2-core project machine: quiet, a 784-128-10 step ran 1.3x faster with 2 BLAS threads
    (see PARALLEL); a 64-64-10 step ran 10% slower (kernel loss_and_grad 150 -> 165 us), hence the size
    rule. With other jobs running, OpenBLAS's two spinning threads made a 784-128-10 step take 10 to 48 ms
    instead of a steady 2.8 ms single-threaded: on a busy machine set ``MICROGRAD_BLAS_THREADS=1``.
    NumPy's own BLAS is left alone. ``MICROGRAD_BLAS_THREADS=0`` leaves SciPy's BLAS as it is.
    """
    global _blas_limited
    if _blas_limited:
        return
    _blas_limited = True
    if BLAS_THREADS <= 0:
        return
    try:
        import scipy.linalg.cython_blas  # noqa: F401 - loads the BLAS Numba's np.dot calls
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    _blas_libs[:] = [
        lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas" and "numpy" not in lib.filepath
    ]
    blas_threads_for(0)


BLAS_THREADS = int(os.environ.get("MICROGRAD_BLAS_THREADS", "2" if (os.cpu_count() or 1) >= 2 else "1"))


def blas_threads_for(work: int) -> None:
    """BLAS_THREADS threads for a batch of ``work`` dense multiply-adds from PARALLEL_WORK on, else 1 (a
    ctypes call when the count changes, nothing otherwise)."""
    n = BLAS_THREADS if work >= PARALLEL_WORK else 1
    if _blas_libs and n != _blas_now[0]:
        for lib in _blas_libs:
            lib.set_num_threads(n)
        _blas_now[0] = n


def _check(status: int, prog: Program) -> None:
    if status >= 0:
        from micrograd.compiler.ir import format_instruction

        raise RuntimeError(f"compiled kernel cannot run instruction {status}: {format_instruction(prog, status)}")


def _serialized(method):
    """One call at a time per compiled model: the kernels share its buffers (docs/compiled-model-state.md)."""

    @functools.wraps(method)
    def serialized(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return serialized


class CompiledModel:
    """A model lowered to a Program and run by the generic kernels (see the module docstring)."""

    def __init__(self, model, n_inputs: int | None = None, params: Sequence | None = None, dtype=np.float64):
        self.model = model
        self.params = check_params(model, params)
        self.dtype = checks.float_dtype(dtype)
        self.n_inputs = checks.input_width(model, n_inputs)
        self._inputs, self._outputs = call_model(model, self.n_inputs)
        self.n_outputs = len(self._outputs)
        self.program: Program = lower(trace_model(self._inputs, self._outputs, self.params))
        self._pos = np.empty(len(self.params), dtype=np.int64)  # model index -> theta position
        self._pos[self.program.perm] = np.arange(len(self.params))
        self._programs: dict = {}
        self._buffers: dict = {}
        self._checked_params = None
        self._lock = threading.Lock()
        self._attach()

    def __repr__(self) -> str:
        model = repr(self.model)
        if len(model) > 40 or model.startswith("<"):
            model = getattr(self.model, "__qualname__", type(self.model).__name__)
        return (
            f"<CompiledModel of {model}: {self.n_inputs} -> {self.n_outputs}, {len(self.program)} "
            f"instructions, {len(self.params)} parameters, {self.dtype.name}>"
        )

    # ------------------------------------------------------------ parameters
    def _attach(self) -> None:
        """Bind the parameter Values to this model's arrays (compiler.params): theta, the gradient vector."""
        self._binding = Binding(self.params, self._pos, self.dtype)
        self.theta, self._gtheta = self._binding.theta, self._binding.gtheta

    @_serialized
    def sync_from_model(self) -> None:
        """Kept for compatibility: every call already computes with the model's current Values."""
        self._binding.refresh()

    def sync_to_model(self) -> None:
        """Kept for compatibility, does nothing: the model's Values always hold the current weights."""

    def __getstate__(self) -> dict:
        """copy/pickle: the copy gets its own (plain, copied) parameter Values, bound afresh."""
        state = dict(self.__dict__, _buffers={}, _programs={}, _checked_params=None)
        for name in ("_lock", "_binding", "theta", "_gtheta"):
            del state[name]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._attach()

    # ------------------------------------------------------------ programs and buffers
    @_serialized
    def training_program(self, loss: LossArg = "hinge", target_width: int | None = None) -> Program:
        """The program of model + per-example loss (cached); its last instruction computes the loss."""
        return self._training_program(loss, target_width)

    def _training_program(self, loss: LossArg, target_width: int | None) -> Program:
        key = checks.loss_spec(loss, self.n_outputs, target_width)  # (fn, width, scalar)
        if key not in self._programs:
            graph = trace_model(self._inputs, self._outputs, self.params, *key)
            # the forward program's parameter layout, whatever the loss: theta serves every program
            self._programs[key] = lower(graph, has_loss=True, layout=self.program.perm)
        return self._programs[key]

    def chunks(self, prog: Program, batch: int) -> int:
        """How many batch chunks the kernels run in parallel: CHUNKS for big dense layers, else 1."""
        return CHUNKS if PARALLEL and batch >= 64 and prog.dense_work * batch >= PARALLEL_WORK else 1

    def _chunk_buffers(self, prog: Program, batch: int) -> tuple:
        key = (id(prog), batch, "chunks")
        if key not in self._buffers:
            C = self.chunks(prog, batch)
            shape = (C, prog.n_slots, -(-batch // C))
            self._buffers[key] = (
                np.zeros(shape, self.dtype),
                np.zeros(shape, self.dtype),
                np.zeros((C, len(self.theta)), self.dtype),
                self._gtheta,
            )
        return self._buffers[key]

    def _step(self, prog: Program, X, Y, rows, l2: float) -> tuple:
        """(loss, gtheta) of one batch, on batch chunks in parallel where that pays."""
        code, leaves = self._kernel_args(prog)
        blas_threads_for(prog.dense_work * len(rows))
        if self.chunks(prog, len(rows)) > 1:
            # Numba's OpenMP threads spin at barriers by default: with one other busy process on 2 cores a
            # 784-128-10 step took 60-73 ms instead of 5.3 ms with passive waiting (2.7 ms on one thread).
            # Set only here, before the first parallel kernel starts OpenMP, so small models leave the
            # process environment alone; a value the user set wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            Vs, Gs, gthetas, gtheta = self._chunk_buffers(prog, len(rows))
            value, status = kernels.step_chunks(
                code, leaves, self.theta, X, Y, rows, float(l2), Vs, Gs, gthetas, gtheta
            )
        else:
            V, G, gtheta = self._buffers_for(prog, len(rows))
            _, value, status = kernels.loss_and_grad(
                code, leaves, self.theta, X, Y, rows, 1.0 / len(rows), float(l2), V, G, gtheta
            )
        _check(status, prog)
        return value, gtheta

    def _buffers_for(self, prog: Program, batch: int) -> tuple:
        key = (id(prog), batch)
        if key not in self._buffers:
            shape = (prog.n_slots, batch)
            self._buffers[key] = (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype), self._gtheta)
        return self._buffers[key]

    @staticmethod
    def _kernel_args(prog: Program) -> tuple:
        """The program as the kernels take it: ir.Code and ir.Leaves as plain tuples (see kernels.py)."""
        limit_blas_threads()  # once, before the first kernel runs (not in compile: it imports SciPy)
        if DEBUG_VALIDATE:  # MICROGRAD_VALIDATE=1: re-check the program before every run
            validate(prog)
        return prog.kernel_args

    # ------------------------------------------------------------ running
    @_serialized
    def __call__(self, X) -> np.ndarray:
        """(N, nout) outputs of the model for the rows of X (N, nin): float64 (float32 for a float32 model)."""
        X = checks.features(X, self.n_inputs, self.dtype)
        if self._binding.stale:
            self._binding.refresh()
        prog = self.program
        V, _, _ = self._buffers_for(prog, X.shape[0])
        code, leaves = self._kernel_args(prog)
        blas_threads_for(prog.dense_work * X.shape[0])
        kernels.load(V, X, np.zeros((X.shape[0], 0), self.dtype), np.arange(X.shape[0]), leaves, self.theta)
        _check(kernels.forward(code, self.theta, V), prog)
        return V[prog.output_slots].T.copy()

    @_serialized
    def loss_and_grad(self, X, y, loss: LossArg = "hinge", l2: float = 0.0, target_width: int | None = None) -> tuple:
        """(batch loss, grads) with grads[i] = d loss / d model.parameters()[i] (a new float64 array).

        Each parameter's ``.grad`` is set to the same number (overwritten, not accumulated), so a
        micrograd optimizer's ``step()`` can follow, as after ``loss.backward()`` on zeroed grads."""
        X = checks.features(X, self.n_inputs, self.dtype)
        Y, width = checks.targets(y, X.shape[0], loss, self.n_outputs, target_width, self.dtype)
        l2 = checks.real("l2", l2)
        prog = self._training_program(loss, width)
        if self._binding.stale:
            self._binding.refresh()
        value, _ = self._step(prog, X, Y, np.arange(X.shape[0]), l2)
        self._binding.kernel_wrote(weights=False)
        return float(value), self._binding.grad[self._pos]

    @_serialized
    def fit(
        self,
        X,
        y,
        loss: LossArg = "hinge",
        optimizer=None,
        epochs: int = 1,
        batch_size: int | None = None,
        rng: int | np.random.Generator | None = 0,
        l2: float = 0.0,
        shuffle: bool = True,
        target_width: int | None = None,
    ) -> np.ndarray:
        """Train in compiled code; returns the batch loss of every step, shape (epochs * ceil(N / batch_size),).

        Starts from the model's current weights. Epoch e visits the rows in the order of the e-th
        ``rng.permutation(N)`` (``rng`` an int seed or a ``np.random.Generator``; ``shuffle=False``: in
        order), in batches of ``batch_size`` (default: all N; the last batch of an epoch may be
        smaller). Each step is forward, mean loss + ``l2*sum(p*p)``, backward and the optimizer's
        update (``micrograd.optim`` SGD or Adam, their formulas and learning-rate schedule). The
        model's Values hold the trained weights (at once: they are the compiled vector) and the
        last step's gradients; the optimizer's state (``t``, momentum buffers or ``m``/``v``) is
        written back, so the Value path can continue where this stopped."""
        X = checks.features(X, self.n_inputs, self.dtype)
        N = X.shape[0]
        Y, width = checks.targets(y, N, loss, self.n_outputs, target_width, self.dtype)
        epochs = checks.integer("epochs", epochs, 0)
        bs = min(N, checks.integer("batch_size", batch_size, 1, none_ok=True) or N)
        l2 = checks.real("l2", l2)
        shuffle = checks.flag("shuffle", shuffle)
        checks.seed(rng)
        kind, hyper = checks.optimizer(optimizer, self.params, self._checked_params)
        self._checked_params = optimizer.params  # checked once per optimizer parameter list
        prog = self._training_program(loss, width)
        if self._binding.stale:
            self._binding.refresh()
        per_epoch = -(-N // bs)
        steps = epochs * per_epoch
        if shuffle and steps:
            gen = checks.generator(rng)
            order = np.concatenate([gen.permutation(N) for _ in range(epochs)])
        else:
            order = np.tile(np.arange(N), epochs)
        t0 = int(optimizer.t)
        lr = optimizer.lr
        lrs = np.array([float(lr(t0 + s)) if callable(lr) else float(lr) for s in range(steps)])
        s1, s2 = optimizer.export_state(self.program.perm)
        history = np.zeros(steps)
        order = order.astype(np.int64)
        state = kernels.opt_state(kind, s1, s2, t0, **hyper)
        s1, s2, opt_t = state.s1, state.s2, tuple(state)  # update writes s1, s2 in place
        if self.chunks(prog, bs) == 1:  # the whole loop in one compiled call
            code, leaves = self._kernel_args(prog)
            blas_threads_for(prog.dense_work * bs)
            V, G, gtheta = self._buffers_for(prog, bs)
            V2, G2, _ = self._buffers_for(prog, N - (per_epoch - 1) * bs)
            status = kernels.fit(
                code,
                leaves,
                self.theta,
                X,
                Y,
                order,
                bs,
                lrs,
                opt_t,
                float(l2),
                history,
                tuple(kernels.Buffers(V, G, V2, G2)),
                gtheta,
            )
            _check(status, prog)
        else:  # big layers: a step takes milliseconds, so a Python loop over parallel compiled steps costs <3%
            for s in range(steps):
                start, count = kernels.batch_bounds(s, N, bs)
                history[s], gtheta = self._step(prog, X, Y, order[start : start + count], l2)
                kernels.update(self.theta, gtheta, opt_t, lrs[s], t0 + s)
        optimizer.import_state(s1, s2, self._pos)
        optimizer.t = t0 + steps
        if steps:
            self._binding.kernel_wrote(weights=True)
        return history
