"""micrograd: scalar autograd for learning, with diagrams and a compiled fast path.

    from micrograd.engine import Value      # the scalar autograd engine
    from micrograd import nn, losses, optim  # Module / Neuron / Layer / MLP, losses, SGD / Adam
    micrograd.gradcheck(f, inputs)           # backprop against central differences
    micrograd.compile(model)                 # the same graph lowered to Numba kernels
    micrograd.training, micrograd.callbacks  # fit's History, DivergedError, EarlyStopping
    micrograd.check(model, X, y, loss=...)   # the Value path against the compiled path, side by side
    micrograd.interop.to_torch(model)        # to / from PyTorch (optional; needs torch)

Submodules that pull in heavy dependencies (Numba, Graphviz) load on first use.
"""

# Eager for the same reason; micrograd.check imports only the engine until it is called (no NumPy, no torch).
from micrograd.check import check
from micrograd.engine import Value

# Eager, so the function, not the submodule of the same name, is micrograd.gradcheck.
from micrograd.gradcheck import gradcheck

__version__ = "0.1.0"
__all__ = [
    "Value",
    "nn",
    "losses",
    "optim",
    "data",
    "viz",
    "training",
    "callbacks",
    "gradcheck",
    "compile",
    "check",
]  # not interop: it imports torch


def __getattr__(name):
    import importlib

    if name in ("nn", "losses", "optim", "data", "viz", "compiler", "interop", "training", "callbacks"):
        return importlib.import_module(f"micrograd.{name}")
    if name == "compile":
        from micrograd.compiler import compile

        return compile
    raise AttributeError(f"module 'micrograd' has no attribute {name!r}")
