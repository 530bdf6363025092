"""The lessons, runnable from an installed package.

Each demo is a module ``micrograd.demos.<name>`` with

    run(quick: bool = False, out: str = "micrograd-out") -> dict   # prints the lesson, writes pictures,
                                                                   # returns key results
    main(argv: list[str] | None = None) -> dict                    # the same from a command line (--out, --quick)

``DEMOS`` lists them in teaching order with one line each; ``load(name)``
imports one (modules load on demand: the compiled-path demos pull in Numba).
Run one with ``python -m micrograd demo NAME`` or ``python demos/NAME.py``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DEMOS = {
    "linear_regression": "fit y = w*x + b by gradient descent; hand-derived gradients vs backward()",
    "house_prices": "a linear layer (10 features -> price) with MSE and SGD, one step narrated",
    "losses": "MSE, hinge, logistic, cross-entropy against the margin; what each trains to",
    "optimizers": "SGD, momentum, Nesterov and Adam on a valley and a saddle, and on the digits",
    "moons": "the main demo: an MLP learns two moons, Value path and compiled path side by side",
    "digits": "8x8 handwritten digits, MLP 64-32-10 with softmax cross-entropy and Adam, compiled",
    "activations": "nine activation functions and their derivatives, backward() vs closed form",
    "vanishing_gradients": "gradient norms per layer in deep sigmoid/tanh/ReLU nets; dying ReLU",
    "gradient_check": "numerical gradients vs backprop, and a buggy custom op caught",
    "backprop_stepper": "a browser page that steps through backprop of a tanh neuron",
}


def load(name: str) -> ModuleType:
    """The demo module called name; KeyError with the list of demos if there is none."""
    if name not in DEMOS:
        raise KeyError(f"no demo named {name!r}; choose one of: {', '.join(DEMOS)}")
    return importlib.import_module(f"micrograd.demos.{name}")
