"""to_torch: a compiled Program, instruction by instruction, as a ``torch.nn.Module``.

Contract:
- ``to_torch(cm_or_model, loss=None)`` reads the Program (``cm.program``, or
  ``cm.training_program(loss)`` when a loss is given) and nothing else about
  the model: every instruction becomes a PyTorch op. DENSE is
  ``F.linear`` with its W block and bias as ``nn.Parameter``s, GATHER is
  indexing, every op-table op goes through ``TORCH_OPS`` (elementwise, over
  the instruction's n slots), a fused LOSS through ``TORCH_LOSSES`` (the
  per-example loss of ``micrograd.losses``, reading the targets y). An op
  without a mapping is refused by name. The piecewise ops follow the op
  table's NaN rule (NaN derivatives at x = NaN, where PyTorch's own relu, abs,
  leaky_relu and prelu give a number). So any Value graph that compiles
  exports: MLPs, hand-written networks, PReLU slopes, shared sub-expressions.
- Parameters come from the model's Values in the compiled vector's order (the
  model's own, ``theta[j]``). Each DENSE block gives a weight (n, k) and a bias (n,); every
  other parameter (scalar-op parameters such as PReLU slopes, and parameters
  the outputs do not depend on) is a 0-d ``nn.Parameter``.
- Names (``state_dict()`` keys): a scalar parameter keeps its name from the
  model's ``named_parameters()`` (``layers.0.neurons.3.slope``); a DENSE
  block's weight and bias take the common name of their entries with the row
  and column indices dropped (``layers.0.neurons.w`` / ``layers.0.neurons.b``;
  a layer of one neuron keeps its index: ``layers.2.neurons.0.w``). Fallback,
  for a function compiled with ``params=[...]``: ``params.<j>`` for parameter
  j of that list, ``dense<i>.weight`` / ``dense<i>.bias`` for the i-th DENSE
  instruction. Where a model's names cannot be keys (collapsed names collide,
  or a part is a torch Module attribute such as ``forward``), the blocks are
  numbered, and if that is not enough, every name is the fallback. ``module.micrograd_names``
  maps each tensor's entries back to model names; ``micrograd_state_dict()``
  gives ``{model name: float}`` for ``model.load_state_dict``.
- ``module(X)`` returns the (N, nout) outputs; a loss module's ``module(X, y)``
  returns the batch mean of the per-example loss, with y as
  ``cm.loss_and_grad`` takes it ((N,) class indices or (N, k) probabilities
  for cross_entropy, (N,) or (N, width) otherwise). float64 unless
  ``dtype=`` says otherwise. The sums of a DENSE run in BLAS order, so results
  equal the Value path's to rounding (1e-12 relative on random inputs), not bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from micrograd import ops
from micrograd.compiler.ir import DENSE, GATHER, LOSS, LOSSES, OP_NAMES, Program, format_instruction
from micrograd.nn import parameter_names


class _NaNBranch(torch.autograd.Function):
    """``out`` unchanged; backward: the gradient reaching it made NaN where ``x`` is NaN.

    The op table's rule for piecewise ops (``micrograd.ops.PIECEWISE``): at x = NaN every derivative
    is NaN. PyTorch's relu, abs, leaky_relu and prelu give a number there (1, 0, the slope); with a NaN
    gradient flowing into their backward, every derivative they pass on is NaN, and nothing else changes.
    """

    @staticmethod
    def forward(ctx, out, x):
        ctx.save_for_backward(x)
        return out.clone()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.masked_fill(torch.isnan(x), float("nan")), None


def _piecewise(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return _NaNBranch.apply(out, x)


def _prelu(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x if x > 0 else y * x, with the slope's derivative 0 (not 0 * x) where x > 0, so x = inf gives 0, not
    NaN. (F.prelu wants one weight per channel; here the slope may be one per element.)"""
    negative = torch.where(x > 0, torch.zeros_like(x), x)
    return _piecewise(torch.where(x > 0, x, y * negative), x)


# op name -> f(x, y, arg) on tensors; y is None for unary ops. Written to match micrograd.ops exactly
# (branch at x > 0 as the op table does, its NaN rule for piecewise ops; tests/test_interop.py checks every
# row against the Value path, NaN and infinities included).
TORCH_OPS: dict[str, Callable] = {
    "add": lambda x, y, c: x + y,
    "sub": lambda x, y, c: x - y,
    "mul": lambda x, y, c: x * y,
    "div": lambda x, y, c: x / y,
    "powv": lambda x, y, c: torch.pow(x, y),
    "prelu": lambda x, y, c: _prelu(x, y),
    "logaddexp": lambda x, y, c: torch.logaddexp(x, y),
    "pow": lambda x, y, c: torch.pow(x, c),
    "neg": lambda x, y, c: -x,
    "exp": lambda x, y, c: torch.exp(x),
    "log": lambda x, y, c: torch.log(x),
    "tanh": lambda x, y, c: torch.tanh(x),
    "sigmoid": lambda x, y, c: torch.sigmoid(x),
    "relu": lambda x, y, c: _piecewise(torch.relu(x), x),
    "leaky_relu": lambda x, y, c: _piecewise(F.leaky_relu(x, c), x),
    "elu": lambda x, y, c: _piecewise(F.elu(x, c), x),
    "selu": lambda x, y, c: _piecewise(F.selu(x), x),
    # torch's softplus is linear above `threshold` (default 20, off by 2e-9 there): micrograd's is exact
    "softplus": lambda x, y, c: F.softplus(x, threshold=700.0),
    "abs": lambda x, y, c: _piecewise(torch.abs(x), x),
}

X_SRC, Y_SRC, C_SRC = 0, 1, 2  # sources of slot values: inputs, targets, constants, then the rest


def _collapse(names: list[str]) -> str:
    """The common name of a block's entries: the dotted components that vary (row, column) dropped."""
    parts = [n.split(".") for n in names]
    if len({len(p) for p in parts}) != 1:
        return ""
    return ".".join(c[0] for c in zip(*parts) if len(set(c)) == 1)


_PROBE = torch.nn.Module()  # its attributes (forward, training, ...) cannot be parameter names


def _bad_name(names: list[str]) -> str | None:
    """The first name that cannot be a state_dict key of its own (empty part, clash, prefix of another)."""
    seen = set(names)
    if len(seen) != len(names):
        return next(n for i, n in enumerate(names) if n in names[:i])
    for n in names:
        parts = n.split(".")
        if any(not c or c.startswith("_mg") or hasattr(_PROBE, c) for c in parts):
            return n
        if any(".".join(parts[:i]) in seen for i in range(1, len(parts))):
            return n
    return None


def _cross_entropy(z, y):
    lse = torch.logsumexp(z, dim=1, keepdim=True)
    if y.shape[1] == 1:  # class indices
        return lse - z.gather(1, y.long())
    return lse - (y * z).sum(dim=1, keepdim=True)


# fused loss name -> f(z (N, n) outputs, y (N, width) targets) -> (N, 1) per-example losses, as micrograd.losses
TORCH_LOSSES: dict[str, Callable] = {
    "hinge": lambda z, y: torch.relu(1.0 + (-y) * z),
    "mse": lambda z, y: ((z - y) ** 2).sum(dim=1, keepdim=True) * (1.0 / z.shape[1]),
    "bce_with_logits": lambda z, y: F.softplus(z, threshold=700.0) - y * z,
    "cross_entropy": _cross_entropy,
}


class _Names(torch.nn.Module):
    """An empty container: one part of the dotted parameter names (its repr lists its tensors' shapes)."""

    def extra_repr(self) -> str:
        return ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self._parameters.items())


class TorchProgram(torch.nn.Module):
    """A micrograd Program as a torch Module (see the module docstring). Build it with ``to_torch``."""

    def __init__(
        self, prog: Program, params: list, names: list[str], named: bool, class_targets: bool, dtype=torch.float64
    ):
        super().__init__()
        self._mg_has_loss = prog.loss_slot >= 0
        self._mg_class_targets = class_targets
        self._mg_n_inputs = len(prog.input_slots)
        self._mg_fused = prog.fused_loss
        self._mg_n_targets = len(prog.target_slots) or {"mse": len(prog.output_slots), "cross_entropy": len(
            prog.output_slots)}.get(prog.fused_loss or "", 1)  # fmt: skip
        theta = np.array([p.data for p in params], dtype=np.float64)
        model_name = list(names)  # theta position -> model name
        owner = np.full(len(theta), -1)  # theta position -> which tensor holds it (checked once)
        tensors = []  # (kind: 'w' weight, 'b' bias, 's' 0-d; dense instruction number; theta positions)
        dense = [i for i in range(len(prog)) if prog.op[i] == DENSE]
        for d, i in enumerate(dense):
            n, k, p, b, ld, bs = (int(getattr(prog, f)[i]) for f in ("n", "k", "p", "b", "ld", "bs"))
            tensors.append(("w", d, p + ld * np.arange(n)[:, None] + np.arange(k)[None, :]))
            if b >= 0:
                tensors.append(("b", d, b + bs * np.arange(n)))
        # scalar-op parameters and the ones the program does not read: 0-d tensors after the blocks
        in_block = np.zeros(len(theta), dtype=bool)
        for _, _, pos in tensors:
            in_block[pos.ravel()] = True
        tensors += [("s", -1, np.array(j)) for j in np.flatnonzero(~in_block)]
        for t, (_, _, pos) in enumerate(tensors):
            if (owner[pos.ravel()] >= 0).any():
                raise AssertionError("internal error: a parameter appears in two tensors of the program")
            owner[pos.ravel()] = t
        for level in (0, 1, 2) if named else (2,):  # the model's names if they can be keys, else numbers
            key = [self._name(kind, d, pos, model_name, level) for kind, d, pos in tensors]
            if _bad_name(key) is None:
                break
        else:
            raise AssertionError(f"internal error: {_bad_name(key)!r} is not a valid state_dict key")
        self._mg_refs = []  # (container module, attribute) per tensor, read at every call (survives .to())
        self.micrograd_names = {}
        for name, (_, _, pos) in zip(key, tensors):
            value = torch.tensor(theta[pos], dtype=dtype)
            self._mg_refs.append(self._register(name, torch.nn.Parameter(value)))
            self.micrograd_names[name] = np.asarray(np.array(model_name, dtype=object)[pos], dtype=object)
        self.register_buffer("_mg_consts", torch.tensor(prog.const_vals.reshape(1, -1), dtype=dtype), persistent=False)
        self._mg_plan = self._plan(prog, owner, tensors)
        self._mg_summary = f"{len(prog)} instructions {prog.counts()}, {self._mg_n_inputs} inputs -> " + (
            "the mean loss" if self._mg_has_loss else f"{len(prog.output_slots)} outputs"
        )

    def extra_repr(self) -> str:
        return self._mg_summary

    @staticmethod
    def _name(kind: str, d: int, pos, model_name: list, level: int) -> str:
        """level 0: the model's names (a block's collapsed); 1: blocks numbered; 2: everything numbered."""
        if kind == "s":
            return model_name[int(pos)] if level < 2 else f"params.{int(pos)}"
        name = _collapse([model_name[j] for j in pos.ravel()]) if level == 0 else ""
        return name or f"dense{d}.{'weight' if kind == 'w' else 'bias'}"

    def _register(self, dotted: str, param: torch.nn.Parameter) -> tuple:
        """Register param under a dotted name through empty container modules; (container, attribute)."""
        *path, last = dotted.split(".")
        mod = self
        for part in path:
            if part not in mod._modules:
                mod.add_module(part, _Names())
            mod = mod._modules[part]
        mod.register_parameter(last, param)
        return mod, last

    def _plan(self, prog: Program, owner, tensors) -> list:
        """Per instruction: (opcode, torch function, arg, where to read x, y, and for DENSE its tensors)."""
        S = prog.n_slots
        src = np.full(S, -1)
        col = np.zeros(S, dtype=np.int64)
        for s_src, slots in ((X_SRC, prog.input_slots), (Y_SRC, prog.target_slots), (C_SRC, prog.const_slots)):
            src[slots], col[slots] = s_src, np.arange(len(slots))
        scalar_src = {}  # tensor index of a 0-d parameter -> its source number
        for s, j in zip(prog.param_slots, prog.param_index):
            t = int(owner[j])
            scalar_src.setdefault(t, 3 + len(scalar_src))
            src[s], col[s] = scalar_src[t], 0
        self._mg_scalars = [t for t, _ in sorted(scalar_src.items(), key=lambda kv: kv[1])]
        first = 3 + len(scalar_src)

        def read(slots):  # slot numbers -> runs (source, first column, end column)
            segs = []
            for s in np.asarray(slots).tolist():
                if src[s] < 0:
                    raise AssertionError(f"internal error: slot {s} is read before it is written")
                if segs and segs[-1][0] == src[s] and segs[-1][2] == col[s]:
                    segs[-1][2] += 1
                else:
                    segs.append([int(src[s]), int(col[s]), int(col[s]) + 1])
            return tuple(map(tuple, segs))

        plan = []
        for i in range(len(prog)):
            op, o, a, b, n = (int(getattr(prog, f)[i]) for f in ("op", "out", "a", "b", "n"))
            if op == DENSE:
                k = int(prog.k[i])
                w = int(owner[int(prog.p[i])])
                bias = int(owner[b]) if b >= 0 else -1
                plan.append((DENSE, None, 0.0, read(np.arange(a, a + k)), (w, bias)))
            elif op == GATHER:
                plan.append((GATHER, None, 0.0, read(prog.gidx[a : a + n]), None))
            elif op == LOSS:
                plan.append((LOSS, TORCH_LOSSES[LOSSES[int(prog.k[i])]], 0.0, read(np.arange(a, a + n)), None))
                n = 1  # it writes one slot: the example's loss
            else:
                name = OP_NAMES[op]
                fn = TORCH_OPS.get(name)
                if fn is None:
                    raise NotImplementedError(
                        f"to_torch: op {name!r} has no PyTorch mapping (instruction {i}: "
                        f"{format_instruction(prog, i)}); add it to micrograd.interop.TORCH_OPS"
                    )
                y = read(np.arange(b, b + n)) if ops.OPS[op].arity == 2 else None
                plan.append((op, fn, float(prog.arg[i]), read(np.arange(a, a + n)), y))
            src[o : o + n], col[o : o + n] = first + i, np.arange(n)
        self._mg_out = read(prog.output_slots)
        self._mg_loss = read(np.array([prog.loss_slot])) if prog.loss_slot >= 0 else None
        return plan

    # ------------------------------------------------------------ running
    def _tensor(self, t: int) -> torch.Tensor:
        mod, attr = self._mg_refs[t]
        return getattr(mod, attr)

    def _as_input(self, X, width: int, what: str) -> torch.Tensor:
        dtype = self._mg_consts.dtype
        X = torch.as_tensor(X, dtype=dtype, device=self._mg_consts.device)
        if X.ndim != 2 or X.shape[1] != width or X.shape[0] == 0:
            raise ValueError(f"{what} has shape {tuple(X.shape)}; expected (N, {width}) with N >= 1")
        return X

    def _targets(self, y, N: int) -> torch.Tensor:
        if y is None:
            raise TypeError("this module computes a loss: call it as module(X, y)")
        w = self._mg_n_targets
        y = torch.as_tensor(y)
        if self._mg_class_targets and y.ndim == 1:
            if y.dtype.is_floating_point and not torch.equal(y, y.round()) or (y < 0).any() or (y >= w).any():
                raise ValueError(
                    f"cross_entropy: y must hold integer class indices in [0, {w}) of shape (N,), "
                    f"or (N, {w}) probabilities"
                )
            if self._mg_fused:  # the fused loss reads class indices themselves
                return self._as_input(y.reshape(-1, 1), 1, "y")
            y = F.one_hot(y.long(), w)
        elif y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.shape[:1] != (N,):
            raise ValueError(f"y has shape {tuple(y.shape)}; expected {N} rows, one per row of X")
        return self._as_input(y, w, "y")

    def forward(self, X, y=None) -> torch.Tensor:
        X = self._as_input(X, self._mg_n_inputs, "X")
        N = X.shape[0]
        Y = self._targets(y, N) if self._mg_has_loss else X[:, :0]
        env = [X, Y, self._mg_consts] + [self._tensor(t).reshape(1, 1) for t in self._mg_scalars]

        def read(segs):
            if len(segs) == 1:
                s, c0, c1 = segs[0]
                v = env[s]
                return v if c0 == 0 and c1 == v.shape[1] else v[:, c0:c1]
            return torch.cat([env[s][:, c0:c1].expand(N, -1) for s, c0, c1 in segs], dim=1)

        for op, fn, arg, xs, extra in self._mg_plan:
            if op == DENSE:
                w, b = extra
                env.append(F.linear(read(xs), self._tensor(w), self._tensor(b) if b >= 0 else None))
            elif op == GATHER:
                env.append(read(xs))
            elif op == LOSS:
                env.append(fn(read(xs), Y))
            else:
                env.append(fn(read(xs), read(extra) if extra is not None else None, arg))
        if self._mg_has_loss:
            return read(self._mg_loss).expand(N, 1).mean()
        return read(self._mg_out).expand(N, -1)

    def micrograd_state_dict(self) -> dict[str, float]:
        """{model parameter name: value} of the current tensors, for ``model.load_state_dict``."""
        out = {}
        for name, names in self.micrograd_names.items():
            values = self.get_parameter(name).detach().cpu().double().numpy()
            out.update(zip(names.ravel().tolist(), values.ravel().tolist()))
        return out


def to_torch(
    cm_or_model,
    loss: None | str | Callable = None,
    *,
    target_width: int | None = None,
    n_inputs: int | None = None,
    params: list | None = None,
    dtype=torch.float64,
) -> TorchProgram:
    """The compiled program of a model as a torch Module (the loss program's batch mean when ``loss`` is given).

    ``cm_or_model`` is a ``CompiledModel`` or anything ``micrograd.compile`` takes (then ``n_inputs=`` and
    ``params=`` are passed to it). ``loss`` and ``target_width`` are what ``cm.loss_and_grad`` takes."""
    if hasattr(cm_or_model, "program") and hasattr(cm_or_model, "training_program"):
        cm = cm_or_model
    else:
        from micrograd.compiler import compile as mg_compile

        cm = mg_compile(cm_or_model, n_inputs=n_inputs, params=params)
    prog = cm.program if loss is None else cm.training_program(loss, target_width)
    params = cm.model_params
    names, named = parameter_names(cm.model, params)
    return TorchProgram(prog, params, names, named, class_targets=loss == "cross_entropy", dtype=dtype)
