"""The compiled path: the Value graph a model builds, lowered to flat arrays and run by generic Numba kernels.

    cm = micrograd.compile(model)                 # or compile(fn, n_inputs=k, params=[...])
    Y = cm(X)                                     # (N, nin) -> (N, nout)
    loss, grads = cm.loss_and_grad(X, y, loss="hinge", l2=1e-4)
    history = cm.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e-2),
                     epochs=20, batch_size=64, rng=0)

Modules: ``trace`` (graph -> flat node lists), ``ir`` (Program, validate,
printer), ``passes`` (dot/dense fusion, vector ops, slot allocation),
``kernels`` (Numba interpreters, cached on disk), ``runtime`` (CompiledModel).
Set ``MICROGRAD_VALIDATE=1`` to re-validate programs before every run, and
``NUMBA_CACHE_DIR`` to choose where compiled kernels are cached.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np

__all__ = ["compile", "CompiledModel"]


def compile(model: Union[Callable, object], n_inputs: Optional[int] = None, params: Optional[Sequence] = None,
            dtype=np.float64) -> "CompiledModel":  # noqa: A001 - the public name
    """Trace ``model`` once and lower it to a program run by compiled kernels.

    ``model`` is an ``nn.Module`` (input width and parameters read from it) or
    any callable mapping a list of ``n_inputs`` Values to a Value or a list of
    Values, with its parameter Values given as ``params``.

    Tracing calls the model once on placeholder Values (data 0.5): Python
    ``if``s on ``.data`` inside the model are frozen at that moment, and the
    branch taken then is the one compiled. A node the compiler does not know
    (a micrograd-style op with a hand-written ``_backward``) is refused here,
    with its ``_op`` named.
    """
    from micrograd.compiler.runtime import CompiledModel
    return CompiledModel(model, n_inputs=n_inputs, params=params, dtype=dtype)


def __getattr__(name):
    if name == "CompiledModel":
        from micrograd.compiler.runtime import CompiledModel
        return CompiledModel
    raise AttributeError(name)
