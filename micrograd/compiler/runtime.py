"""CompiledModel: a traced, lowered model with its parameter vector, buffers and training loop.

Contract (see ``micrograd.compile`` for the user-facing story):
- ``cm(X)`` -> (N, nout) outputs for X (N, nin); ``cm.loss_and_grad(X, y, loss, l2)``
  -> (batch loss, gradients in ``model.parameters()`` order) with the batch loss
  ``mean_i loss(model(X[i]), y[i]) + l2 * sum(p*p)``, what the Value path gives;
  ``cm.fit(...)`` trains in compiled code and writes the weights back.
- The parameters live in ``cm.theta`` (the forward program's layout, a
  permutation of the model's order); ``sync_from_model`` / ``sync_to_model``
  copy them from / to the model's Values. ``__call__`` and ``loss_and_grad``
  read ``theta`` and do not sync by themselves.
- Buffers are allocated per (program, batch size) and reused.
"""
from __future__ import annotations

import os
from collections import deque
from itertools import repeat
from operator import is_
from typing import Callable, Optional, Sequence, Union

import numpy as np

from micrograd import losses as _losses
from micrograd.compiler import kernels
from micrograd.compiler.ir import DEBUG_VALIDATE, Program, validate
from micrograd.compiler.passes import lower
from micrograd.compiler.trace import call_model, trace_model

LossArg = Union[str, Callable]
SCALAR_TARGET = ("hinge", "bce_with_logits")  # named losses with one target number per example
CHUNKS = 2                 # batch chunks run in parallel (fixed, so results do not depend on the thread count)
PARALLEL_WORK = 1 << 22    # dense multiply-adds per batch from which chunks pay: 784-128-10 at batch 256 (26M)
#                            ran 1.3-1.8x faster on the 2 idle cores; 64-64-10 at batch 128 (0.6M) stays serial
# MICROGRAD_PARALLEL=1: batch chunks in parallel (step_chunks) for big layers. Off by default: BLAS on 2 threads
# won (784-128-10 fit step, batch 256, quiet 2-core machine, 2-3 runs each, one after the other: BLAS 2 threads
# 2.13-2.40 ms, chunks + BLAS 1 thread 2.59-3.34 ms, serial 2.70-2.82 ms; docs/compiler.md "Performance"), and
# the parallel kernel is the costliest to compile (29 s CPU cold against 14 s for fit's).
PARALLEL = os.environ.get("MICROGRAD_PARALLEL", "0") == "1"


def _input_width(model, n_inputs: Optional[int]) -> int:
    if n_inputs is not None:
        return int(n_inputs)
    nin = getattr(model, "nin", None)
    if nin is None:
        try:
            nin = len(model.layers[0].neurons[0].w)
        except (AttributeError, IndexError, TypeError):
            nin = len(getattr(model, "w", ())) or None
    if nin is None:
        raise ValueError("micrograd.compile: cannot tell the model's input width; pass n_inputs=")
    return int(nin)


_blas_limited = False
_blas_libs: list = []      # SciPy's BLAS controllers (threadpoolctl), found once
_blas_now = [0]            # the thread count they run with now


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
    _blas_libs[:] = [lib for lib in ThreadpoolController().lib_controllers
                     if lib.user_api == "blas" and "numpy" not in lib.filepath]
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


def _loss_by_name(name: str) -> Callable:
    if name not in _losses.BY_NAME:
        raise ValueError(f"unknown loss {name!r}; use one of {sorted(_losses.BY_NAME)} or a function")
    return _losses.BY_NAME[name]


def _check(status: int, prog: Program) -> None:
    if status >= 0:
        from micrograd.compiler.ir import format_instruction
        raise RuntimeError(f"compiled kernel cannot run instruction {status}: {format_instruction(prog, status)}")


class CompiledModel:
    """A model lowered to a Program and run by the generic kernels (see the module docstring)."""

    def __init__(self, model, n_inputs: Optional[int] = None, params: Optional[Sequence] = None,
                 dtype=np.float64):
        if params is None:
            if not hasattr(model, "parameters"):
                raise ValueError("micrograd.compile(fn, ...): pass params=[...] (the parameter Values), "
                                 "or [] if the function has none")
            params = model.parameters()
        self.model = model
        self.params = list(params)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
        self.n_inputs = _input_width(model, n_inputs)
        self._inputs, self._outputs = call_model(model, self.n_inputs)
        self.n_outputs = len(self._outputs)
        self.program: Program = lower(trace_model(self._inputs, self._outputs, self.params))
        self.theta = np.empty(len(self.params), dtype=self.dtype)
        self._pos = np.empty(len(self.params), dtype=np.int64)  # model index -> theta position
        self._pos[self.program.perm] = np.arange(len(self.params))
        self._programs: dict = {}
        self._buffers: dict = {}
        self._checked_params = None
        self.sync_from_model()

    # ------------------------------------------------------------ parameters
    def sync_from_model(self) -> None:
        """theta <- the model's parameter Values."""
        self.theta[:] = [self.params[j].data for j in self.program.perm]

    def sync_to_model(self) -> None:
        """The model's parameter Values <- theta."""
        # map(setattr, ...) runs the loop in C: 100k parameters in a few milliseconds
        deque(map(setattr, self.params, repeat("data"), self.theta[self._pos].tolist()), maxlen=0)

    # ------------------------------------------------------------ programs and buffers
    def training_program(self, loss: LossArg = "hinge", target_width: Optional[int] = None) -> Program:
        """The program of model + per-example loss (cached); its last instruction computes the loss."""
        fn, width, scalar = self._loss_spec(loss, target_width)
        key = (fn, width, scalar)
        if key not in self._programs:
            graph = trace_model(self._inputs, self._outputs, self.params, fn, width, scalar)
            # the forward program's parameter layout, whatever the loss: theta serves every program
            self._programs[key] = lower(graph, has_loss=True, layout=self.program.perm)
        return self._programs[key]

    def _loss_spec(self, loss: LossArg, target_width: Optional[int]) -> tuple:
        if isinstance(loss, str):
            fn = _loss_by_name(loss)
            if loss in SCALAR_TARGET:
                return fn, 1, True
            return fn, self.n_outputs, loss == "mse" and self.n_outputs == 1
        if not callable(loss):
            raise TypeError(f"loss must be a name or a function loss(outputs, target), got {loss!r}")
        width = 1 if target_width is None else int(target_width)
        return loss, width, target_width is None

    def chunks(self, prog: Program, batch: int) -> int:
        """How many batch chunks the kernels run in parallel: CHUNKS for big dense layers, else 1."""
        return CHUNKS if PARALLEL and batch >= 64 and prog.dense_work * batch >= PARALLEL_WORK else 1

    def _chunk_buffers(self, prog: Program, batch: int) -> tuple:
        key = (id(prog), batch, "chunks")
        if key not in self._buffers:
            C = self.chunks(prog, batch)
            shape = (C, prog.n_slots, -(-batch // C))
            self._buffers[key] = (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype),
                                  np.zeros((C, len(self.theta)), self.dtype), np.zeros(len(self.theta), self.dtype))
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
            value, status = kernels.step_chunks(code, leaves, self.theta, X, Y, rows, float(l2), Vs, Gs, gthetas,
                                                gtheta)
        else:
            V, G, gtheta = self._buffers_for(prog, len(rows))
            _, value, status = kernels.loss_and_grad(code, leaves, self.theta, X, Y, rows, 1.0 / len(rows),
                                                     float(l2), V, G, gtheta)
        _check(status, prog)
        return value, gtheta

    def _buffers_for(self, prog: Program, batch: int) -> tuple:
        key = (id(prog), batch)
        if key not in self._buffers:
            shape = (prog.n_slots, batch)
            self._buffers[key] = (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype),
                                  np.zeros(len(self.theta), self.dtype))
        return self._buffers[key]

    @staticmethod
    def _kernel_args(prog: Program) -> tuple:
        """The program as the kernels take it: ir.Code and ir.Leaves as plain tuples (see kernels.py)."""
        limit_blas_threads()  # once, before the first kernel runs (not in compile: it imports SciPy)
        if DEBUG_VALIDATE:  # MICROGRAD_VALIDATE=1: re-check the program before every run
            validate(prog)
        return prog.kernel_args

    # ------------------------------------------------------------ validation
    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must hold real numbers, got dtype {X.dtype}; expected shape (N, {self.n_inputs})")
        if X.ndim != 2 or X.shape[1] != self.n_inputs or X.shape[0] == 0:
            raise ValueError(f"X has shape {X.shape}; expected (N, {self.n_inputs}) with N >= 1 "
                             f"(one row per example; reshape a single example with X.reshape(1, -1))")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _targets(self, y, N: int, loss: LossArg, target_width: Optional[int]) -> tuple:
        """(Y as an (N, width) array, target_width for the program) following PyTorch's conventions."""
        if isinstance(loss, str):
            _loss_by_name(loss)
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
        if y.shape[:1] != (N,):
            raise ValueError(f"y has shape {y.shape}; expected {N} rows, one per row of X")
        if loss == "cross_entropy" and y.ndim == 1:
            k = self.n_outputs
            if not np.all((y == np.round(y)) & (y >= 0) & (y < k)):
                raise ValueError(f"cross_entropy: y must hold integer class indices in [0, {k}) of shape (N,), "
                                 f"or (N, {k}) probabilities")
            Y = np.zeros((N, k), self.dtype)
            Y[np.arange(N), y.astype(np.int64)] = 1.0
            return Y, None
        if y.ndim == 1:
            y = y.reshape(N, 1)
        if y.ndim != 2:
            raise ValueError(f"y has shape {y.shape}; expected (N,) or (N, width)")
        if isinstance(loss, str):
            want = 1 if loss in SCALAR_TARGET else self.n_outputs
            if y.shape[1] != want:
                raise ValueError(f"y has shape {y.shape} for loss {loss!r}; expected (N,) or (N, {want})"
                                 if want == 1 else f"y has shape {y.shape}; expected (N, {want}) for {loss!r}")
            return np.ascontiguousarray(y, dtype=self.dtype), None
        width = None if (target_width is None and y.shape[1] == 1) else y.shape[1]
        return np.ascontiguousarray(y, dtype=self.dtype), width

    # ------------------------------------------------------------ running
    def __call__(self, X) -> np.ndarray:
        """(N, nout) outputs of the model for the rows of X (N, nin): float64 (float32 for a float32 model)."""
        X = self._check_X(X)
        prog = self.program
        V, _, _ = self._buffers_for(prog, X.shape[0])
        code, leaves = self._kernel_args(prog)
        blas_threads_for(prog.dense_work * X.shape[0])
        kernels.load(V, X, np.zeros((X.shape[0], 0), self.dtype), np.arange(X.shape[0]), leaves, self.theta)
        _check(kernels.forward(code, self.theta, V), prog)
        return V[prog.output_slots].T.copy()

    def loss_and_grad(self, X, y, loss: LossArg = "hinge", l2: float = 0.0,
                      target_width: Optional[int] = None) -> tuple:
        """(batch loss, grads) with grads[i] = d loss / d model.parameters()[i] (float64 array)."""
        X = self._check_X(X)
        Y, width = self._targets(y, X.shape[0], loss, target_width)
        prog = self.training_program(loss, width)
        value, gtheta = self._step(prog, X, Y, np.arange(X.shape[0]), l2)
        return float(value), gtheta[self._pos].astype(np.float64)

    def fit(self, X, y, loss: LossArg = "hinge", optimizer=None, epochs: int = 1,
            batch_size: Optional[int] = None, rng: Union[int, np.random.Generator, None] = 0,
            l2: float = 0.0, shuffle: bool = True, target_width: Optional[int] = None) -> np.ndarray:
        """Train in compiled code; returns the batch loss of every step, shape (epochs * ceil(N / batch_size),).

        Epoch e visits the rows in the order of the e-th ``rng.permutation(N)`` (``rng`` a seed or a
        ``np.random.Generator``; ``shuffle=False``: in order), in batches of ``batch_size`` (default: all
        N; the last batch of an epoch may be smaller). Each step is forward, mean loss + ``l2*sum(p*p)``,
        backward and the optimizer's update (``micrograd.optim`` SGD or Adam, their formulas and
        learning-rate schedule). Afterwards the model's Values hold the trained weights and the
        optimizer's state (``t``, momentum buffers or ``m``/``v``) is written back, so the Value path can
        continue where this stopped; the parameters' ``.grad`` are not set."""
        from micrograd import optim
        X = self._check_X(X)
        N = X.shape[0]
        Y, width = self._targets(y, N, loss, target_width)
        prog = self.training_program(loss, width)
        if optimizer is None:
            raise ValueError("fit needs an optimizer, e.g. micrograd.optim.SGD(model.parameters(), lr=0.1)")
        if optimizer.params is not self._checked_params:  # checked once per optimizer parameter list
            if len(optimizer.params) != len(self.params) or not all(map(is_, optimizer.params, self.params)):
                raise ValueError("the optimizer must hold the model's parameters in model.parameters() order")
            self._checked_params = optimizer.params
        bs = N if batch_size is None else int(batch_size)
        if not 1 <= bs:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        bs = min(bs, N)
        per_epoch = -(-N // bs)
        steps = int(epochs) * per_epoch
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        order = np.concatenate([gen.permutation(N) if shuffle else np.arange(N) for _ in range(int(epochs))]
                               ) if steps else np.zeros(0, np.int64)
        t0 = int(optimizer.t)
        lr = optimizer.lr
        lrs = np.array([float(lr(t0 + s)) if callable(lr) else float(lr) for s in range(steps)])
        pos = self._pos
        if isinstance(optimizer, optim.Adam):
            kind, hyper = kernels.ADAM, dict(beta1=optimizer.beta1, beta2=optimizer.beta2, eps=optimizer.eps,
                                             weight_decay=optimizer.weight_decay)
            s1, s2 = np.array(optimizer.m)[self.program.perm], np.array(optimizer.v)[self.program.perm]
        elif isinstance(optimizer, optim.SGD):
            kind = kernels.SGD
            hyper = dict(momentum=optimizer.momentum, dampening=optimizer.dampening, nesterov=optimizer.nesterov,
                         weight_decay=optimizer.weight_decay)
            s1, s2 = np.array(optimizer.momentum_buffer)[self.program.perm], np.zeros(1)
        else:
            raise TypeError(f"fit supports micrograd.optim.SGD and Adam, got {type(optimizer).__name__}")
        history = np.zeros(steps)
        order = order.astype(np.int64)
        state = kernels.opt_state(kind, s1, s2, t0, **hyper)
        s1, s2, opt_t = state.s1, state.s2, tuple(state)  # update writes s1, s2 in place
        if self.chunks(prog, bs) == 1:  # the whole loop in one compiled call
            code, leaves = self._kernel_args(prog)
            blas_threads_for(prog.dense_work * bs)
            V, G, gtheta = self._buffers_for(prog, bs)
            V2, G2, _ = self._buffers_for(prog, N - (per_epoch - 1) * bs)
            status = kernels.fit(code, leaves, self.theta, X, Y, order, bs, lrs, opt_t, float(l2), history,
                                 tuple(kernels.Buffers(V, G, V2, G2)), gtheta)
            _check(status, prog)
        else:  # big layers: a step takes milliseconds, so a Python loop over parallel compiled steps costs <3%
            for s in range(steps):
                start, count = kernels.batch_bounds(s, N, bs)
                history[s], gtheta = self._step(prog, X, Y, order[start:start + count], l2)
                kernels.update(self.theta, gtheta, opt_t, lrs[s], t0 + s)
        if kind == kernels.ADAM:
            optimizer.m, optimizer.v = s1[pos].tolist(), s2[pos].tolist()
        else:
            optimizer.momentum_buffer = s1[pos].tolist()
        optimizer.t = t0 + steps
        self.sync_to_model()
        return history
