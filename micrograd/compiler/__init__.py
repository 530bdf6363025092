"""The compiled path: the Value graph a model builds, lowered to flat arrays and run by generated Numba kernels.

    cm = micrograd.compile(model)                 # or compile(fn, n_inputs=k, params=[...])
    Y = cm(X)                                     # (N, nin) -> (N, nout)
    loss, grads = cm.loss_and_grad(X, y, loss="hinge", l2=1e-4)
    history = cm.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e-2),
                     epochs=20, batch_size=64, rng=0)

The model's Values are what the user sees: every call computes with the
parameters' current data, and ``loss_and_grad``/``fit`` leave their results in
the Values (weights, ``.grad``) at once (docs/compiled-model-state.md).

Modules: ``trace`` (graph -> flat node lists), ``ir`` (Program, validate,
printer, packed form), ``passes`` (dot/dense fusion, vector ops), ``emit``
(slots and instruction rows), ``codegen`` (a kernel per set of features, from
``template.py``, stored and found again on disk), ``kernels`` (the blocks a
kernel calls: dense layers, fused losses, updates), ``blas`` (the gemm those
call, and its threads), ``jit`` (Numba options and the disk cache),
``runtime`` (CompiledModel), ``params`` (parameter Values bound to the
compiled vector), ``arguments`` (argument checks).
Set ``MICROGRAD_VALIDATE=1`` to re-validate programs before every run, and
``NUMBA_CACHE_DIR`` to choose where compiled kernels are cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from micrograd.compiler.runtime import CompiledModel

__all__ = ["compile", "CompiledModel"]


def compile(
    model: Callable | object, n_inputs: int | None = None, params: Sequence | None = None, dtype=np.float64
) -> CompiledModel:
    """Trace ``model`` once and lower it to a program run by compiled kernels.

    ``model`` is an ``nn.Module`` (input width and parameters read from it) or
    any callable mapping a list of ``n_inputs`` Values to a Value or a list of
    Values, with its parameter Values given as ``params``.

    Tracing calls the model once on placeholder Values (data 0.5): Python
    ``if``s on ``.data`` inside the model are frozen at that moment, and the
    branch taken then is the one compiled. The placeholder data never makes a
    valid graph fail (``log(x0 - x1)`` compiles: an op outside its domain
    gives NaN while tracing). A node the compiler does not know (a
    micrograd-style op, or any node whose ``_backward`` was replaced by hand)
    is refused here, with its ``_op`` named; so is a parameter listed twice.

    The parameter Values are bound to the compiled model's arrays: the model
    and every call of ``cm(X)``, ``cm.loss_and_grad`` and ``cm.fit`` share one
    set of weights, with no copy per call (docs/compiled-model-state.md). A
    compiled model may be called from several threads: calls run one at a time.
    """
    from micrograd.compiler.runtime import CompiledModel

    return CompiledModel(model, n_inputs=n_inputs, params=params, dtype=dtype)


def __getattr__(name):
    if name == "CompiledModel":
        from micrograd.compiler.runtime import CompiledModel

        return CompiledModel
    raise AttributeError(name)
