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
- Every argument is checked (``compiler.arguments``); buffers are allocated per
  (program, batch size) and reused.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

import numpy as np

from micrograd import training
from micrograd.compiler import arguments, kernels, threads
from micrograd.compiler.arguments import LossArg
from micrograd.compiler.fitsteps import FitSteps
from micrograd.compiler.ir import DEBUG_VALIDATE, Program, validate
from micrograd.compiler.params import Binding, check_params
from micrograd.compiler.passes import lower
from micrograd.compiler.trace import call_model, trace_model
from micrograd.training import History


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
        self.dtype = arguments.float_dtype(dtype)
        self.n_inputs = arguments.input_width(model, n_inputs)
        self._inputs, self._outputs = call_model(model, self.n_inputs)
        self.n_outputs = len(self._outputs)
        self.program: Program = lower(trace_model(self._inputs, self._outputs, self.params))
        self._pos = np.empty(len(self.params), dtype=np.int64)  # model index -> theta position
        self._pos[self.program.perm] = np.arange(len(self.params))
        self._programs: dict = {}
        self._buffers: dict = {}
        self._checked_params = None
        self._lock = threading.RLock()  # a fit's callbacks may call the model
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
        self._lock = threading.RLock()  # a fit's callbacks may call the model
        self._attach()

    # ------------------------------------------------------------ programs and buffers
    @_serialized
    def training_program(self, loss: LossArg = "hinge", target_width: int | None = None) -> Program:
        """The program of model + per-example loss (cached); its last instruction computes the loss."""
        return self._training_program(loss, target_width)

    def _training_program(self, loss: LossArg, target_width: int | None) -> Program:
        key = arguments.loss_spec(loss, self.n_outputs, target_width)  # (fn, width, scalar)
        if key not in self._programs:
            graph = trace_model(self._inputs, self._outputs, self.params, *key)
            # the forward program's parameter layout, whatever the loss: theta serves every program
            self._programs[key] = lower(graph, has_loss=True, layout=self.program.perm)
        return self._programs[key]

    def chunks(self, prog: Program, batch: int) -> int:
        """How many batch chunks the kernels run in parallel for ``prog`` (``threads.chunks``)."""
        return threads.chunks(prog.dense_work, batch)

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
        threads.blas_threads_for(prog.dense_work * len(rows))
        if self.chunks(prog, len(rows)) > 1:
            threads.passive_openmp()
            Vs, Gs, gthetas, gtheta = self._chunk_buffers(prog, len(rows))
            value, status = kernels.step_chunks(
                code, leaves, self.theta, X, Y, rows, float(l2), Vs, Gs, gthetas, gtheta
            )
        else:
            V, G, gtheta = self._buffers_for(prog, len(rows))
            _, value, status = kernels.loss_and_grad(
                code, leaves, self.theta, X, Y, rows, 1.0 / len(rows), float(l2), V, G, gtheta
            )
        kernels.check(status, prog)
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
        threads.limit_blas_threads()  # once, before the first kernel runs (not in compile: it imports SciPy)
        if DEBUG_VALIDATE:  # MICROGRAD_VALIDATE=1: re-check the program before every run
            validate(prog)
        return prog.kernel_args

    # ------------------------------------------------------------ running
    @_serialized
    def __call__(self, X) -> np.ndarray:
        """(N, nout) outputs of the model for the rows of X (N, nin): float64 (float32 for a float32 model)."""
        X = arguments.features(X, self.n_inputs, self.dtype)
        if self._binding.stale:
            self._binding.refresh()
        prog = self.program
        V, _, _ = self._buffers_for(prog, X.shape[0])
        code, leaves = self._kernel_args(prog)
        threads.blas_threads_for(prog.dense_work * X.shape[0])
        kernels.load(V, X, np.zeros((X.shape[0], 0), self.dtype), np.arange(X.shape[0]), leaves, self.theta)
        kernels.check(kernels.forward(code, self.theta, V), prog)
        return V[prog.output_slots].T.copy()

    @_serialized
    def loss_and_grad(
        self,
        X,
        y,
        loss: LossArg = "hinge",
        l2: float = 0.0,
        target_width: int | None = None,
        clip_norm: float | None = None,
    ) -> tuple:
        """(batch loss, grads) with grads[i] = d loss / d model.parameters()[i] (a new float64 array).

        Each parameter's ``.grad`` is set to the same number (overwritten, not accumulated), so a
        micrograd optimizer's ``step()`` can follow, as after ``loss.backward()`` on zeroed grads.
        ``clip_norm``: the gradient clipped as ``optim.clip_grad_norm_(params, clip_norm)`` does
        (a non-finite norm leaves it as it is)."""
        X = arguments.features(X, self.n_inputs, self.dtype)
        Y, width = arguments.targets(y, X.shape[0], loss, self.n_outputs, target_width, self.dtype)
        l2 = arguments.real("l2", l2)
        norm = arguments.clip_norm(clip_norm)
        prog = self._training_program(loss, width)
        if self._binding.stale:
            self._binding.refresh()
        value, gtheta = self._step(prog, X, Y, np.arange(X.shape[0]), l2)
        if norm:
            kernels.clip_grad(gtheta, norm)
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
        *,
        validation: tuple | None = None,
        callbacks: Sequence[Callable] | None = None,
        clip_norm: float | None = None,
        progress: bool = True,
    ) -> History:
        """Train in compiled code; returns a ``History``: the batch loss of every step, an array of shape
        (epochs * ceil(N / batch_size),), with per-epoch values (``micrograd.training``, docs/training.md).

        Starts from the model's current weights. Epoch e visits the rows in the order of the e-th
        ``rng.permutation(N)`` (``rng`` an int seed or a ``np.random.Generator``; ``shuffle=False``: in
        order), in batches of ``batch_size`` (default: all N; the last batch of an epoch may be
        smaller). Each step is forward, mean loss + ``l2*sum(p*p)``, backward, clipping of the gradient
        to ``clip_norm`` (as ``optim.clip_grad_norm_``) and the optimizer's update (``micrograd.optim``
        SGD or Adam, their formulas and learning-rate schedule). ``validation=(X_val, y_val)``: the loss
        (and accuracy) on those rows after every epoch; ``callbacks``: ``cb(epoch, logs)`` after every
        epoch, True stops; ``progress``: a progress bar for long fits in a terminal. A non-finite loss or
        gradient raises ``training.DivergedError``; Ctrl-C raises KeyboardInterrupt within ~0.1 s; both
        carry ``.history`` and leave the weights of the last completed step. The model's Values hold
        the trained weights (at once: they are the compiled vector) and the last step's gradients;
        the optimizer's state (``t``, momentum buffers or ``m``/``v``) is written back, so the Value
        path can continue where this stopped."""
        X = arguments.features(X, self.n_inputs, self.dtype)
        N = X.shape[0]
        Y, width = arguments.targets(y, N, loss, self.n_outputs, target_width, self.dtype)
        epochs = arguments.integer("epochs", epochs, 0)
        bs = min(N, arguments.integer("batch_size", batch_size, 1, none_ok=True) or N)
        l2 = arguments.real("l2", l2)
        shuffle = arguments.flag("shuffle", shuffle)
        arguments.seed(rng)
        norm = arguments.clip_norm(clip_norm)
        cbs = arguments.callbacks(callbacks)
        progress = arguments.flag("progress", progress)
        val = None
        if validation is not None:
            Xv, yv = arguments.pair("validation", validation)
            Xv = arguments.features(Xv, self.n_inputs, self.dtype)
            val = (Xv, arguments.targets(yv, Xv.shape[0], loss, self.n_outputs, target_width, self.dtype)[0])
        kind, hyper = arguments.optimizer(optimizer, self.params, self._checked_params)
        self._checked_params = optimizer.params  # checked once per optimizer parameter list
        prog = self._training_program(loss, width)
        if self._binding.stale:
            self._binding.refresh()
        gen = arguments.generator(rng) if shuffle and epochs else None
        steps = FitSteps(self, prog, X, Y, loss, optimizer, kind, hyper, epochs, bs, gen, l2, norm)
        return training.run_fit(steps, epochs, validation=val, callbacks=cbs, progress=progress, model=self)
