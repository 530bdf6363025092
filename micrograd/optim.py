"""Optimizers: SGD (momentum, dampening, Nesterov, weight decay) and Adam, as in PyTorch.

The update formulas are defined once, as plain float functions (only
arithmetic and ``math``; bools may be passed as 0/1), so the compiled path
compiles the very same functions with Numba:

    sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first) -> (p, buf)
    adam_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay)              -> (p, m, v)

They follow the operation order of ``torch.optim.SGD`` / ``torch.optim.Adam``
(the default single-tensor path on CPU: ``_single_tensor_sgd``,
``_single_tensor_adam``), so 20 steps agree with PyTorch float64 to round-off.

The classes hold the state as plain attributes (lists of floats:
``momentum_buffer``; ``m``, ``v``; the step count ``t``) over a list of Values
(``params``). ``lr`` is a float or a schedule ``lr(step) -> float`` of the
0-based step number; ``current_lr()`` is the rate the next ``step()`` uses.

Each optimizer also describes its compiled update, so the compiled path
(``micrograd.compile(...).fit``) needs no list of optimizers: ``kernel_update``
(the name of the update the kernel compiles: ``'sgd'``, ``'adam'``) and
``kernel_hyper()`` (its named hyper-parameters). ``kernel_state(head)`` gives
the compiled update its per-parameter state: one float64 array, ``head``
entries for the kernel's own use, then the state rows, which the optimizer
keeps as its state from then on (``momentum_buffer``, ``m``, ``v`` become
NumPy views of it), so ``fit`` and ``step()`` continue from each other with no
copy. An optimizer without a kernel (``kernel_update = None``) trains with
``loss_and_grad`` in a loop.

``clip_grad_norm_(params, max_norm, norm_type=2.0)`` is
``torch.nn.utils.clip_grad_norm_`` on Values: it scales every ``p.grad`` by
``min(1, max_norm / (total_norm + 1e-6))`` and returns the total norm (the
compiled path's ``clip_norm=`` does the same in its kernels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from micrograd.engine import Value

LR = float | Callable[[int], float]


def sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first):
    """One SGD step for one parameter; ``first`` is true on the first step (the buffer starts as the gradient)."""
    if weight_decay != 0.0:
        g = g + weight_decay * p  # grad.add(param, alpha=weight_decay)
    if momentum != 0.0:
        if first:
            buf = g  # buf = grad.clone()
        else:
            buf = buf * momentum + (1.0 - dampening) * g  # buf.mul_(momentum).add_(grad, alpha=1-dampening)
        if nesterov:
            g = g + momentum * buf  # grad.add(buf, alpha=momentum)
        else:
            g = buf
    return p + (-lr) * g, buf  # param.add_(grad, alpha=-lr)


def adam_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One Adam step for one parameter; t is the 1-based step number (after incrementing)."""
    if weight_decay != 0.0:
        g = g + weight_decay * p  # grad.add(param, alpha=weight_decay)
    w = 1.0 - beta1  # exp_avg.lerp_(grad, 1 - beta1), ATen's two branches
    if abs(w) < 0.5:
        m = m + w * (g - m)
    else:
        m = g - (g - m) * (1.0 - w)
    v = v * beta2 + (1.0 - beta2) * g * g  # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
    bias_correction1 = 1.0 - math.pow(beta1, t)
    bias_correction2 = 1.0 - math.pow(beta2, t)
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.pow(bias_correction2, 0.5)  # torch writes bias_correction2**0.5
    denom = math.sqrt(v) / bias_correction2_sqrt + eps
    return p + (-step_size) * m / denom, m, v  # param.addcdiv_(exp_avg, denom, value=-step_size)


def clip_grad_norm_(
    params: Value | Iterable[Value], max_norm: float, norm_type: float | str = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Scale the gradients of ``params`` so that their total norm is at most ``max_norm``; returns the total
    norm before clipping, as a float.

    ``torch.nn.utils.clip_grad_norm_`` with each Value as a one-element tensor: the total norm is the
    ``norm_type``-norm of all the gradients (``inf`` or ``"inf"``: the largest ``|g|``), the coefficient
    ``max_norm / (total_norm + 1e-6)`` clamped to 1 multiplies every ``p.grad`` (a NaN norm makes every
    gradient NaN, as in PyTorch). ``error_if_nonfinite=True`` raises instead when the norm is not finite.
    Call it between ``loss.backward()`` and ``optimizer.step()``."""
    ps = [params] if isinstance(params, Value) else list(params)
    p = float(norm_type)
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm >= 0.0:
        raise ValueError(f"max_norm must be a number >= 0, got {max_norm!r}")
    if not p > 0.0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    grads = [abs(q.grad) for q in ps]
    if not grads:
        return 0.0
    if p == math.inf:
        total = math.nan if any(g != g for g in grads) else max(grads)
    elif p == 1.0:
        total = _fsum(grads)
    else:  # the sum correctly rounded: PyTorch's to round-off; overflow gives inf, as in PyTorch
        total = (
            math.sqrt(_fsum([g * g for g in grads])) if p == 2.0 else _pow(_fsum([_pow(g, p) for g in grads]), 1 / p)
        )
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {p} of the gradients is {total}, so it cannot be clipped; "
            f"error_if_nonfinite=False scales the gradients by it anyway"
        )
    coef = float(max_norm) / (total + 1e-6)
    coef = 1.0 if coef > 1.0 else coef  # torch.clamp(coef, max=1.0): a NaN stays NaN
    for q in ps:
        q.grad = q.grad * coef
    return total


def _fsum(xs: list[float]) -> float:
    try:
        return math.fsum(xs)
    except OverflowError:  # an intermediate sum beyond the largest float
        return math.inf


def _pow(x: float, p: float) -> float:
    try:
        return x**p
    except OverflowError:
        return math.inf


class Optimizer:
    """What SGD and Adam share: the parameter list, the learning rate or schedule, the step count t.

    The compiled path's interface (see the module docstring): the state arrays are float64, in the
    compiled layout: ``s[q]`` belongs to ``params[perm[q]]`` (``pos`` is the inverse permutation).
    """

    kernel_update: str | None = None  # no compiled update unless a subclass names one
    _state: tuple[str, ...] = ()  # names of the per-parameter state lists (at most two)

    def __init__(self, params: Iterable[Value], lr: LR):
        self.params: list[Value] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        bad = [p for p in self.params if not isinstance(p, Value)]
        if bad:
            raise TypeError(f"optimizer parameters must be Values, got {bad[0]!r}; pass model.parameters()")
        if not callable(lr) and not (isinstance(lr, (int, float)) and lr >= 0.0):
            raise ValueError(f"lr must be a non-negative number or a callable lr(step), got {lr!r}")
        self.lr = lr
        self.t = 0  # steps taken so far

    def __setattr__(self, name: str, value) -> None:
        """Counts assignments (``_edits``), the step count's aside: the compiled path reads the state and
        hyper-parameters again only when the count moved (a state list assigned, momentum changed, ...)."""
        object.__setattr__(self, name, value)
        if name != "t":
            d = self.__dict__
            d["_edits"] = d.get("_edits", 0) + 1

    def current_lr(self) -> float:
        """The learning rate of the next step: lr, or lr(t) for a schedule (t = 0 on the first step)."""
        return float(self.lr(self.t)) if callable(self.lr) else float(self.lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0

    def kernel_hyper(self) -> dict[str, float]:
        """The hyper-parameters of the compiled update, named as ``kernels.OptState`` names them."""
        raise NotImplementedError(f"{type(self).__name__} has no compiled update")

    def kernel_state(self, head: int):
        """The compiled update's state: a float64 array of ``head`` entries, then one row per state list of
        this optimizer (``_state``), which it keeps as its state from now on (the same array every call;
        a state list assigned since is copied in)."""
        n, rows = len(self.params), max(len(self._state), 1)
        st = getattr(self, "_kernel_state", None)
        views = getattr(self, "_kernel_views", ())
        if st is None or len(st) != head + rows * n or (views and views[0].base is not st):  # new, or a copy
            import numpy as np  # the Value path alone never needs NumPy

            st = self._kernel_state = np.zeros(head + rows * n)
            self._kernel_views = [st[head + r * n : head + (r + 1) * n] for r in range(len(self._state))]
        for name, view in zip(self._state, self._kernel_views):
            held = getattr(self, name)
            if held is not view:
                view[:] = held
                setattr(self, name, view)
        return st

    def learning_rates(self, t0: int, steps: int):
        """The learning rate of steps t0 .. t0+steps-1: a float, or a list for a schedule."""
        if callable(self.lr):
            return [float(self.lr(t)) for t in range(t0, t0 + steps)]
        return float(self.lr)


class SGD(Optimizer):
    """torch.optim.SGD: p -= lr * (g + momentum terms), with optional Nesterov and weight decay."""

    kernel_update = "sgd"
    _state = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Value],
        lr: LR,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        if nesterov and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch)")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.momentum_buffer: list[float] = [0.0] * len(self.params)

    def kernel_hyper(self) -> dict[str, float]:
        return dict(
            momentum=self.momentum, dampening=self.dampening, nesterov=self.nesterov, weight_decay=self.weight_decay
        )

    def step(self) -> None:
        lr = self.current_lr()
        first = self.t == 0
        buf = self.momentum_buffer
        for i, p in enumerate(self.params):
            p.data, buf[i] = sgd_update(  # float(): the state may be a NumPy view (kernel_state)
                p.data,
                p.grad,
                float(buf[i]),
                lr,
                self.momentum,
                self.dampening,
                self.nesterov,
                self.weight_decay,
                first,
            )
        self.t += 1


class Adam(Optimizer):
    """torch.optim.Adam (L2 weight decay added to the gradient, not AdamW's decoupled decay)."""

    kernel_update = "adam"
    _state = ("m", "v")

    def __init__(
        self,
        params: Iterable[Value],
        lr: LR = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Adam betas must be in [0, 1), got {betas}")
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.m: list[float] = [0.0] * len(self.params)
        self.v: list[float] = [0.0] * len(self.params)

    def kernel_hyper(self) -> dict[str, float]:
        return dict(beta1=self.beta1, beta2=self.beta2, eps=self.eps, weight_decay=self.weight_decay)

    def step(self) -> None:
        lr = self.current_lr()
        self.t += 1
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            p.data, m[i], v[i] = adam_update(  # float(): the state may be a NumPy view (kernel_state)
                p.data,
                p.grad,
                float(m[i]),
                float(v[i]),
                self.t,
                lr,
                self.beta1,
                self.beta2,
                self.eps,
                self.weight_decay,
            )
