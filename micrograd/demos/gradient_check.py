"""Demo: gradient checking, backprop against central differences, and a buggy op caught.

Part 1: an MLP(3, [8, 8, 1]) with tanh (3-4-1 with ``quick``), squared error on
one example; ``micrograd.gradcheck`` compares every parameter's ``backward()``
gradient with (f(p + eps) - f(p - eps)) / 2 eps. All agree.
Part 2: ``cube(x)``, a custom op written micrograd-style with its own
``_backward``, whose derivative has a bug (3x instead of 3x^2). Used inside a
small expression, backprop gives wrong gradients and gradcheck names the inputs
that disagree; the corrected op passes. Writes ``gradient_check.png``
(backprop vs numerical gradient, one dot per input: good ones lie on the diagonal).

``run`` returns {'network': GradcheckResult, 'buggy': GradcheckResult, 'fixed': GradcheckResult, 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

from micrograd import nn
from micrograd.demos._common import demo_main, output_dir, pyplot, save_figure, say, wrote
from micrograd.engine import Value
from micrograd.gradcheck import gradcheck

SEED = 3


def cube(x: Value, buggy: bool) -> Value:
    """x**3 as a hand-made node, the way micrograd's ops are written."""
    out = Value(x.data**3, (x,), "cube")

    def _backward():
        if buggy:
            x.grad += 3 * x.data * out.grad  # BUG: d(x^3)/dx is 3x^2, not 3x
        else:
            x.grad += 3 * x.data**2 * out.grad

    out._backward = _backward
    return out


def check_network(quick: bool):
    sizes = [4, 1] if quick else [8, 8, 1]
    model = nn.MLP(3, sizes, activation="tanh", rng=SEED)
    x, target = [0.5, -1.2, 2.0], 0.7
    params = model.parameters()
    result = gradcheck(lambda *_: (model(x) - target) ** 2, params)
    say(f"Part 1: MLP(3, {sizes}) with tanh, loss (out - {target})^2 on one example, {len(params)} parameters.")
    errors = [abs(a - n) for a, n in zip(result.analytic, result.numeric)]
    say(
        f"  backward() vs central differences: {len(params) - len(result.mismatches)}/{len(params)} agree, "
        f"largest difference {max(errors):.1e} -> gradcheck {'passed' if result.passed else 'FAILED'}.\n"
    )
    return result


def check_cube(buggy: bool):
    # f(a, b, c) = cube(a*b + c) * a: the bug reaches every input through the chain rule
    return gradcheck(lambda a, b, c: cube(a * b + c, buggy) * a, [0.8, -1.5, 2.0])


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    network = check_network(quick)
    say("Part 2: a custom op cube(x) with its own _backward, used in f(a, b, c) = cube(a*b + c) * a.")
    buggy = check_cube(buggy=True)
    say("  with the bug (derivative written as 3x):")
    say("    " + str(buggy).replace("\n", "\n    "))
    fixed = check_cube(buggy=False)
    say("  fixed (3x^2):")
    say("    " + str(fixed).replace("\n", "\n    "))
    say(
        f"\ngradcheck caught the wrong derivative at inputs {buggy.mismatches}: backprop trusts each "
        f"node's local derivative, the numerical check trusts only forward values."
    )

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    for res, style, label in (
        (network, "o", "network parameters"),
        (fixed, "s", "cube, fixed"),
        (buggy, "X", "cube with the bug"),
    ):
        ax.plot(res.numeric, res.analytic, style, ms=7 if style == "X" else 5, label=label, alpha=0.85)
    everything = [v for r in (network, fixed, buggy) for v in r.numeric + r.analytic]
    lo, hi = min(everything), max(everything)
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, zorder=0)
    ax.set(xlabel="central difference", ylabel="backward()", title="gradient check: on the diagonal = agree")
    ax.legend()
    path = save_figure(fig, output_dir(out) / "gradient_check.png")
    wrote([path])
    return {"network": network, "buggy": buggy, "fixed": fixed, "files": [path]}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Gradient checking: backprop vs central differences, and a buggy op caught.", argv)


if __name__ == "__main__":
    main()
