"""CompiledModel: a traced, lowered model, its parameter vector, and the calls into its kernels.

Contract (see ``micrograd.compile`` for the user-facing story, docs/compiled-model-state.md for state):
- ``cm(X)`` -> (N, nout) outputs for X (N, nin); ``cm.loss_and_grad(X, y, loss, l2)``
  -> (batch loss, gradients in ``cm.params`` order) with the batch loss
  ``mean_i loss(model(X[i]), y[i]) + l2 * sum(p*p)``, what the Value path gives;
  ``cm.fit(...)`` trains in compiled code.
- The model's Values are what the user sees: every call computes with their current
  data, and what a call computes is in them at once. The model's parameter Values are
  bound (``compiler.params``) to ``cm.theta`` (their own order) and to the gradient
  vector, so no call copies the weights; ``loss_and_grad`` and ``fit`` leave each
  parameter's ``.grad`` holding the (last) batch's gradient, overwritten, so
  ``optimizer.step()`` works after them. ``params=`` chooses what trains; every
  parameter of the model is read where it is.
- Calls are serialized: one lock per set of parameter Values, shared by every compiled
  model of the same model (``Binding.lock``).
- A changed model is noticed: every call compares ``nn.mutations()`` with the count it saw
  (O(1)); when it moved, the model's parameters and program are compared with the compiled
  ones, and a model that changed (a parameter replaced, a layer added, an activation changed)
  is compiled again, with one warning that says what changed. A function compiled with
  ``params=`` has no such containers: compile it again after changing it.
- A kernel is the one generated for the features a program needs (``compiler.codegen``);
  a call looks it up once per program and mode, then reuses it.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Sequence
from operator import is_ as _is

import numpy as np

from micrograd import nn, training
from micrograd.compiler import arguments, blas, codegen
from micrograd.compiler.arguments import LossArg
from micrograd.compiler.codegen import (
    BAD_LABEL,
    CTL_BLAS,
    CTL_IDX,
    CTL_T0,
    CTL_WHERE,
    DIVERGED,
    FORWARD,
    GRAD,
    GRAD_DIVERGED,
    OK,
    UNKNOWN,
)
from micrograd.compiler.fitsteps import FitSteps
from micrograd.compiler.ir import DEBUG_VALIDATE, GATHER, LOSS, LOSSES, Program, format_instruction, validate
from micrograd.compiler.params import Binding, aligned_zeros, check_params, model_parameters, positions
from micrograd.compiler.passes import lower_model
from micrograd.training import History

FORWARD_ROWS = 1024  # cm(X) runs X in batches of this many rows (bounded buffers for any N)


def _serialized(method):
    """One call at a time per set of parameters (the kernels share their buffers and parameter vector), each
    following a changed model and taking its parameters back first (``CompiledModel._ready``)."""

    @functools.wraps(method)
    def serialized(self, *args, **kwargs):
        with self._binding.lock:
            self._ready()
            return method(self, *args, **kwargs)

    return serialized


def _assignments(optimizer) -> tuple:
    """What fit's memo of an optimizer compares: its assignment count (``Optimizer._edits``) and its
    parameter list's identity and length (a list changed in place)."""
    params = getattr(optimizer, "params", ())
    return getattr(optimizer, "__dict__", {}).get("_edits"), id(params), len(params)


def with_loss(prog: Program, loss: str) -> Program:
    """The training program of a named loss: the forward program, a GATHER when its outputs are not one
    block of slots, and one LOSS instruction over them (no re-tracing, the parameter layout unchanged)."""
    rows = prog.rows()
    gidx = prog.gidx.tolist()
    rg = prog.requires_grad.tolist()
    outs = prog.output_slots.tolist()
    first, n = (outs[0] if outs else 0), len(outs)
    S = prog.n_slots
    if outs != list(range(first, first + n)):
        rows.append((GATHER, S, len(gidx), -1, n, 0, -1, 0, 0, 0.0))
        gidx += outs
        rg += [rg[s] for s in outs]
        first, S = S, S + n
    rows.append((LOSS, S, first, -1, n, LOSSES.index(loss), -1, 0, 0, 0.0))
    rg.append(1)
    fused = Program(rows, gidx, S + 1, prog.input_slots, prog.target_slots, outs, S, prog.param_slots,
                    prog.param_index, prog.const_slots, prog.const_vals, prog.n_params, rg)  # fmt: skip
    fused.source_nodes = prog.source_nodes
    return validate(fused)


class CompiledModel:
    """A model lowered to a Program and run by generated kernels (see the module docstring)."""

    def __init__(self, model, n_inputs: int | None = None, params: Sequence | None = None, dtype=np.float64):
        self.model = model
        self._given_params = None if params is None else list(params)  # what compile() was told to train
        self.params = check_params(model, params)
        self.dtype = arguments.float_dtype(dtype)
        self.n_inputs = arguments.input_width(model, n_inputs)
        # every parameter Value theta holds, in its order: the model's own, then other listed ones; params trains
        self.model_params = model_parameters(model, self.params)
        self._idx = positions(self.params, self.model_params)
        self._lower()
        self._binding = Binding(self.model_params, self.dtype)
        self._attach()

    def _lower(self, program: Program | None = None) -> None:
        """Trace the model once and lower its forward program; training programs are made on demand."""
        self._seen = nn.mutations()
        self.program: Program = program or self._trace()
        self.n_outputs = len(self.program.output_slots)
        self._programs: dict = {}  # loss key -> training program
        self._kernels: dict = {}  # the features this model's calls needed -> the kernel that ran them
        self._buffers: dict = {}  # (id(program), batch, target width) -> workspace
        self._plans: dict = {}  # what a call needs, found once (_plan)
        self._forward_plans: dict = {}  # cm(X)'s plans by batch size (a lookup a third of _plan's)
        self._fit_options: tuple = ()  # the last fit's options as given, and as checked (fit)

    def _trace(self) -> Program:
        return lower_model(self.model, self.n_inputs, self.model_params)[0]

    def _follow_model(self) -> None:
        """Some module changed since this model was last looked at (nn.mutations() moved): if its parameters
        or its program are not the compiled ones any more, compile it again, saying what changed."""
        params = check_params(self.model, self._given_params)
        every = model_parameters(self.model, params)
        same_params = len(every) == len(self.model_params) and all(map(_is, every, self.model_params))
        program = self._trace()
        if same_params and program.tobytes() == self.program.tobytes():
            self._seen = nn.mutations()
            return
        what = "its parameters" if not same_params else "its structure"
        warnings.warn(f"micrograd: the compiled model {self.model!r:.60} changed since compile() ({what}); "
                      f"compiled it again", RuntimeWarning, stacklevel=4)  # fmt: skip
        self.params, self.model_params = params, every
        self._idx = positions(params, every)
        self._lower(program)
        self._binding = Binding(every, self.dtype)
        self._attach()

    def _attach(self) -> None:
        self.theta, self._gtheta = self._binding.theta, self._binding.gtheta
        self._ctl = np.zeros(CTL_IDX + len(self._idx), dtype=np.int64)
        self._ctl[CTL_IDX:] = self._idx
        self._whole = len(self._idx) == len(self.model_params) and bool(
            (self._idx == np.arange(len(self.model_params))).all()
        )
        lib = blas.library()
        self._ctl[CTL_BLAS : CTL_BLAS + 3] = (
            lib.gemm["d" if self.dtype == np.float64 else "f"],
            lib.abi,
            lib.set_threads,
        )
        self._ctl_items = memoryview(self._ctl)  # type: ignore[arg-type]  # per-call writes: half NumPy's cost
        self._no_order = np.zeros(1, dtype=np.int64)
        self._no_out = np.zeros((1, max(self.n_outputs, 1)), dtype=self.dtype)
        self._st = np.zeros(codegen.ST_STATE, dtype=np.float64)  # l2 and clip for calls without an optimizer
        self._hs = np.zeros((2, 1), dtype=np.float64)
        self._optimizer_seen: tuple = (None, None, "", None)  # fit's optimizer as checked and read (_optimizer)

    def __repr__(self) -> str:
        model = repr(self.model)
        if len(model) > 40 or model.startswith("<"):
            model = getattr(self.model, "__qualname__", type(self.model).__name__)
        return (
            f"<CompiledModel of {model}: {self.n_inputs} -> {self.n_outputs}, {len(self.program)} instructions "
            f"{self.program.counts()}, {len(self.params)} parameters, {self.dtype.name}; "
            f"kernels: {self.kernels() or 'none compiled yet'}>"
        )

    def kernels(self) -> str:
        """What this model's calls ran, e.g. 'relu; relu, loss hinge, training (sgd)' (cm(X), then fit)."""
        return "; ".join(codegen.describe(needs) for needs in self._kernels)

    def kernel_source(self, loss: LossArg | None = None, optimizer=None) -> str:
        """The source of the kernel a call runs: ``cm(X)`` (no loss), ``loss_and_grad`` (a loss) or ``fit`` (a
        loss and an optimizer). Generated for exactly what the program uses (``compiler.codegen``)."""
        prog = self.program if loss is None else self.training_program(loss)
        update = None if optimizer is None else arguments.optimizer(optimizer, self.params)
        return codegen.source(codegen.features(prog, train=loss is not None, update=update))

    # ------------------------------------------------------------ copies
    def sync_from_model(self) -> None:
        """Kept for compatibility: every call already computes with the model's current Values."""

    def sync_to_model(self) -> None:
        """Kept for compatibility, does nothing: the model's Values always hold the current weights."""

    def __getstate__(self) -> dict:
        """copy/pickle: the model and its parameters (plain Values in the copy), nothing compiled."""
        keep = ("model", "_given_params", "params", "dtype", "n_inputs", "model_params", "_idx")
        return {name: self.__dict__[name] for name in keep}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lower()
        self._binding = Binding(self.model_params, self.dtype)
        self._attach()

    def __copy__(self) -> CompiledModel:
        """A copy has its own model and parameters (a shallow copy would rebind this model's Values to it)."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------ programs and kernels
    @_serialized
    def training_program(self, loss: LossArg = "hinge", target_width: int | None = None) -> Program:
        """The program of model + per-example loss (cached): a named loss is one fused LOSS instruction."""
        return self._training_program(loss, target_width)

    def _training_program(self, loss: LossArg, target_width: int | None) -> Program:
        name = arguments.loss_name(loss)
        fused = name in LOSSES  # a loss registered by name elsewhere is lowered op by op
        key = (name, target_width) if fused else arguments.loss_spec(loss, self.n_outputs, target_width)
        prog = self._programs.get(key)
        if prog is None:
            if name is not None and fused:
                arguments.loss_spec(loss, self.n_outputs, target_width)  # refuses a bad width
                prog = with_loss(self.program, name)
            else:
                prog, _ = lower_model(self.model, self.n_inputs, self.model_params, *key)
            self._programs[key] = prog
        return prog

    def _plan(self, prog: Program, batch: int, width: int, train: bool = False, update: str | None = None,
              shuffle: bool = False, clip: bool = False) -> tuple:  # fmt: skip
        """(kernel run, ints, reals, workspace, BLAS threads) of a call, found once per program, batch and features."""
        key = (id(prog), batch, width, train, update, shuffle, clip)
        plan = self._plans.get(key)
        if plan is None:
            needs = codegen.features(prog, train, update, shuffle, clip)
            kernel = codegen.STORE.kernel(needs, self.dtype)
            self._kernels[needs] = kernel
            W = self._buffers.get((id(prog), batch, width))
            if W is None:
                size = 2 * prog.n_slots * batch + batch * (self.n_inputs + width)
                W = self._buffers[(id(prog), batch, width)] = aligned_zeros(size, self.dtype)
            ints, reals = prog.pack()
            plan = self._plans[key] = (kernel.run, ints, reals, W, blas.threads_for(prog.dense_work * batch))
        if DEBUG_VALIDATE:  # MICROGRAD_VALIDATE=1: re-check the program before every run
            validate(prog)
        return plan

    def _run(self, plan, mode, prog, X, Y, order, out, hs, st, s0, s1, bs, shuffled, e0, t0) -> int:
        """One kernel call, its products on the BLAS threads they want (set by the kernel). Returns OK, or
        DIVERGED / GRAD_DIVERGED (fit's steps stopped at step ``self._where``); raises what else the kernel
        reports."""
        run, ints, reals, W, nt = plan
        c = self._ctl_items
        c[0], c[1], c[2], c[3], c[4], c[CTL_T0], c[CTL_BLAS + 3] = s0, s1, bs, shuffled, e0, t0, nt
        status = run(mode, ints, reals, self.theta, self._gtheta, X, Y, order, W, out, hs, st, self._ctl)
        if status != OK and status != DIVERGED and status != GRAD_DIVERGED:
            self._fail(status, prog, Y)
        return status

    @property
    def _where(self) -> int:
        """Where the last kernel call's status points (an instruction, a row, a step)."""
        return int(self._ctl[CTL_WHERE])

    def _fail(self, status: int, prog: Program, Y: np.ndarray) -> None:
        where = self._where
        if status == UNKNOWN:
            raise RuntimeError(f"compiled kernel cannot run instruction {where}: {format_instruction(prog, where)}")
        if status == BAD_LABEL:
            raise ValueError(arguments.label_error(prog.fused_loss, Y, where, self.n_outputs))
        raise RuntimeError(f"compiled kernel returned status {status}")

    def _fit_checks(self, Y, width, loss, epochs, batch_size, rng, l2, shuffle, target_width, clip_norm, progress,
                    update) -> tuple:  # fmt: skip
        """fit's options checked, its program and plan: (epochs, batch size, progress, l2, clip_norm as the kernel
        takes it, whether it shuffles, program, plan)."""
        N = Y.shape[0]
        epochs = arguments.integer("epochs", epochs, 0)
        bs = min(N, arguments.integer("batch_size", batch_size, 1, none_ok=True) or N)
        progress = arguments.flag("progress", progress)
        l2, clip = arguments.real("l2", l2), arguments.clip_norm(clip_norm)
        shuffled = arguments.flag("shuffle", shuffle) and -(-N // bs) > 1
        arguments.seed(rng)
        prog = self._training_program(loss, width)
        plan = self._plan(prog, bs, Y.shape[1], True, update, shuffled, clip_norm is not None)
        return epochs, bs, progress, l2, clip, shuffled, prog, plan

    def _optimizer(self, optimizer) -> str:
        """fit's optimizer checked, again when it is another one, was assigned to (its ``_edits``: a parameter
        list, a state list, momentum, ...) or its list changed length; the update it compiles."""
        seen = self._optimizer_seen  # (optimizer, _assignments when its state was read, update, state array)
        if seen[0] is not optimizer or seen[1] != _assignments(optimizer):
            seen = self._optimizer_seen = (optimizer, None, arguments.optimizer(optimizer, self.params), None)
        return seen[2]

    def _optimizer_state(self) -> np.ndarray:
        """The state array of the optimizer ``_optimizer`` checked (``kernel_state``), its kind and
        hyper-parameters written: read once per check, after fit's other arguments are checked."""
        optimizer, _, update, st = self._optimizer_seen
        if st is None:
            st = optimizer.kernel_state(codegen.ST_STATE)  # may assign its state lists: the count after it
            st[codegen.ST_KIND] = codegen.ST_KINDS[update]
            for name, value in optimizer.kernel_hyper().items():
                st[codegen.ST_HYPER[name]] = value
            self._optimizer_seen = (optimizer, _assignments(optimizer), update, st)
        return st

    def _ready(self) -> None:
        """Before a kernel call: follow a changed model; bind the parameters again if another binding took
        them (float32: copy)."""
        if nn.mutations() != self._seen:
            self._follow_model()
        if self._binding.stale:
            self._binding.refresh()

    # ------------------------------------------------------------ running
    def __call__(self, X) -> np.ndarray:
        """(N, nout) outputs of the model for the rows of X (N, nin): float64 (float32 for a float32 model)."""
        with self._binding.lock:  # what _serialized does, written out: this is the call made most often
            self._ready()
            X = arguments.features(X, self.n_inputs, self.dtype)
            prog = self.program
            N = X.shape[0]
            bs = min(N, FORWARD_ROWS)
            plan = self._forward_plans.get(bs)
            if plan is None or DEBUG_VALIDATE:
                plan = self._forward_plans[bs] = self._plan(prog, bs, 0)
            out = np.empty((N, self.n_outputs), self.dtype)
            self._run(plan, FORWARD, prog, X, self._no_out, self._no_order, out, self._hs, self._st, 0, -(-N // bs),
                      bs, 0, 0, 0)  # fmt: skip
            return out

    @_serialized
    def loss_and_grad(self, X, y, loss: LossArg = "hinge", l2: float = 0.0, target_width: int | None = None,
                      clip_norm: float | None = None) -> tuple:  # fmt: skip
        """(batch loss, grads) with grads[i] = d loss / d params[i] (a new float64 array).

        Each parameter's ``.grad`` is set to the same number (overwritten, not accumulated), so a
        micrograd optimizer's ``step()`` can follow, as after ``loss.backward()`` on zeroed grads.
        ``clip_norm``: the gradient of ``params`` scaled as ``optim.clip_grad_norm_`` does."""
        X = arguments.features(X, self.n_inputs, self.dtype)
        N = X.shape[0]
        Y, width = arguments.targets(y, N, loss, self.n_outputs, target_width, self.dtype)
        st = self._st
        st[codegen.ST_L2] = arguments.real("l2", l2)
        st[codegen.ST_CLIP] = arguments.clip_norm(clip_norm)
        prog = self._training_program(loss, width)
        plan = self._plan(prog, N, Y.shape[1], train=True, clip=clip_norm is not None)
        self._run(plan, GRAD, prog, X, Y, self._no_order, self._no_out, self._hs, st, 0, 1, N, 0, 0, 0)
        self._binding.kernel_wrote(weights=False)
        grad = self._binding.grad
        return float(self._hs[1, 0]), (grad.copy() if self._whole else grad[self._idx])

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
        smaller; a single full batch is not permuted: that would change only the order of its sum).
        Each step is forward, mean loss + ``l2*sum(p*p)``, backward, clipping of the gradient to
        ``clip_norm`` (as ``optim.clip_grad_norm_``) and the optimizer's update (``micrograd.optim`` SGD
        or Adam, their formulas and learning-rate schedule). ``validation=(X_val, y_val)``: the loss
        (and accuracy) on those rows after every epoch; ``callbacks``: ``cb(epoch, logs)`` after every
        epoch, True stops; ``progress``: a progress bar for long fits in a terminal. A non-finite loss or
        gradient raises ``training.DivergedError``; Ctrl-C raises KeyboardInterrupt within ~0.1 s; both
        carry ``.history`` and leave the weights of the last completed step. The model's Values hold
        the trained weights (at once: they are the compiled vector) and the last step's gradients; the
        optimizer's state (``t``, momentum buffers or ``m``/``v``) is the kernel's, so the Value path
        continues where this stopped."""
        with self._binding.lock:  # what _serialized does, written out (a call of 14 arguments: half a microsecond)
            self._ready()
            X = arguments.features(X, self.n_inputs, self.dtype)
            N = X.shape[0]
            Y, width = arguments.targets(y, N, loss, self.n_outputs, target_width, self.dtype)
            update = self._optimizer(optimizer)
            given = (loss, epochs, batch_size, rng, l2, shuffle, target_width, clip_norm, progress, update)
            shapes, last = (N, Y.shape[1], width), self._fit_options
            if not (last and last[0] == shapes and all(map(_is, given, last[1]))) or DEBUG_VALIDATE:
                last = self._fit_options = (shapes, given, self._fit_checks(Y, width, *given))
            epochs, bs, progress, l2, clip, shuffled, prog, plan = last[2]  # checked once per set of option objects
            cbs = arguments.callbacks(callbacks)
            val = None
            if validation is not None:
                Xv, yv = arguments.pair("validation", validation)
                Xv = arguments.features(Xv, self.n_inputs, self.dtype)
                val = (Xv, arguments.targets(yv, Xv.shape[0], loss, self.n_outputs, target_width, self.dtype)[0])
            st = self._optimizer_state()
            st[codegen.ST_L2], st[codegen.ST_CLIP] = l2, clip
            gen = arguments.generator(rng) if shuffled else None
            steps = FitSteps(self, prog, plan, X, Y, loss, optimizer, st, epochs, bs, gen)
            return training.run_fit(steps, epochs, validation=val, callbacks=cbs, progress=progress, model=self)
