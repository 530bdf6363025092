"""Demo: activation functions and their derivatives, backward() against the closed form.

For identity, sigmoid, tanh, ReLU, leaky ReLU, PReLU, ELU, SELU and softmax,
each point of a grid on [-4, 4] (161 points, 41 with ``quick``) is pushed
through the Value op, ``backward()`` gives the derivative, and a closed form
written here independently (from the textbook formulas, with ``math``) checks it.
Softmax is a vector function: we plot p0 = softmax(x, 0, 1)[0] against x and
check its whole 3x3 Jacobian s_i (delta_ij - s_j) at one point.
At a kink (x = 0) micrograd takes the left derivative, and so do the closed forms.
Writes ``activations.png``: one panel per function, the curve and its derivative.

``run`` returns {'max_diff': {name: largest |backward - closed form|}, 'files'}.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from micrograd.demos._common import demo_main, output_dir, pyplot, save_figure, say, wrote
from micrograd.engine import Value

LEAK, PRELU_SLOPE, ELU_ALPHA = 0.1, 0.25, 1.0
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
SOFTMAX_OTHERS = (0.0, 1.0)  # the fixed logits beside x in the plotted softmax


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def softmax_values(logits: list) -> list:
    """softmax of Values, built from exp, + and / (shifted by the max so exp cannot overflow)."""
    m = max(v.data for v in logits)
    exps = [(v - m).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def _softmax_p0(x: Value) -> Value:
    return softmax_values([x] + [Value(c) for c in SOFTMAX_OTHERS])[0]


def _softmax_p0_closed(x: float) -> tuple:
    z = [x, *SOFTMAX_OTHERS]
    p0 = math.exp(x) / sum(math.exp(v) for v in z)
    return p0, p0 * (1.0 - p0)


# name -> (Value function, closed form x -> (f(x), f'(x)))
FUNCTIONS: dict = {
    "identity": (lambda v: v, lambda x: (x, 1.0)),
    "sigmoid": (Value.sigmoid, lambda x: (_sigmoid(x), _sigmoid(x) * (1 - _sigmoid(x)))),
    "tanh": (Value.tanh, lambda x: (math.tanh(x), 1 - math.tanh(x) ** 2)),
    "ReLU": (Value.relu, lambda x: (max(x, 0.0), 1.0 if x > 0 else 0.0)),
    f"leaky ReLU ({LEAK})": (
        lambda v: v.leaky_relu(LEAK),
        lambda x: (x if x > 0 else LEAK * x, 1.0 if x > 0 else LEAK),
    ),
    f"PReLU (a={PRELU_SLOPE})": (
        lambda v: v.prelu(Value(PRELU_SLOPE)),
        lambda x: (x if x > 0 else PRELU_SLOPE * x, 1.0 if x > 0 else PRELU_SLOPE),
    ),
    "ELU": (
        lambda v: v.elu(ELU_ALPHA),
        lambda x: (x if x > 0 else ELU_ALPHA * (math.exp(x) - 1), 1.0 if x > 0 else ELU_ALPHA * math.exp(x)),
    ),
    "SELU": (
        Value.selu,
        lambda x: (
            SELU_SCALE * x if x > 0 else SELU_SCALE * SELU_ALPHA * (math.exp(x) - 1),
            SELU_SCALE if x > 0 else SELU_SCALE * SELU_ALPHA * math.exp(x),
        ),
    ),
    "softmax(x, 0, 1)[0]": (_softmax_p0, _softmax_p0_closed),
}


def derivative_by_backward(f: Callable, x: float) -> tuple:
    v = Value(x)
    y = f(v)
    y.backward()
    return y.data, v.grad


def softmax_jacobian_diff(z: Sequence[float]) -> float:
    """Largest |backward - s_i (delta_ij - s_j)| over the Jacobian of softmax at z."""
    worst = 0.0
    for i in range(len(z)):
        leaves = [Value(c) for c in z]
        s = softmax_values(leaves)
        s[i].backward()
        for j, leaf in enumerate(leaves):
            closed = s[i].data * ((i == j) - s[j].data)
            worst = max(worst, abs(leaf.grad - closed))
    return worst


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    n = 41 if quick else 161
    grid = [-4.0 + 8.0 * k / (n - 1) for k in range(n)]
    say(f"Each activation at {n} points on [-4, 4]: backward() against the closed-form derivative.\n")
    say(f"{'function':<20} {'max |f - closed|':>17} {'max |backward - closed|':>24}")
    curves, max_diff = {}, {}
    for name, (f, closed) in FUNCTIONS.items():
        rows = [(derivative_by_backward(f, x), closed(x)) for x in grid]
        value_err = max(abs(got[0] - want[0]) for got, want in rows)
        max_diff[name] = max(abs(got[1] - want[1]) for got, want in rows)
        curves[name] = rows
        say(f"{name:<20} {value_err:>17.1e} {max_diff[name]:>24.1e}")
    jac = softmax_jacobian_diff([0.5, -1.0, 2.0])
    max_diff["softmax Jacobian"] = jac
    say(f"{'softmax Jacobian':<20} {'':>17} {jac:>24.1e}   (all 9 entries at z = [0.5, -1, 2])")
    worst = max(max_diff.values())
    say(
        f"\nEvery derivative agrees with its closed form to {worst:.1e}. Note the shapes: sigmoid and tanh "
        "flatten out (derivative -> 0) for large |x|, ReLU's derivative is 0 for every negative x, "
        "leaky ReLU / PReLU / ELU / SELU keep a gradient there."
    )

    plt = pyplot()
    fig, axes = plt.subplots(3, 3, figsize=(11, 9))
    for ax, (name, rows) in zip(axes.flat, curves.items()):
        ax.plot(grid, [r[1][0] for r in rows], color="C0", label="f(x)")
        ax.plot(grid, [r[1][1] for r in rows], color="C1", label="f'(x) closed form")
        step = max(1, n // 20)
        ax.plot(grid[::step], [r[0][1] for r in rows][::step], "o", ms=3.5, color="C3", label="backward()")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(name)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    path = save_figure(fig, output_dir(out) / "activations.png")
    wrote([path])
    return {"max_diff": max_diff, "files": [path]}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Activation functions: backward() derivatives against closed forms.", argv)


if __name__ == "__main__":
    main()
