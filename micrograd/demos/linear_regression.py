"""Demo: linear regression, the classic first lesson of gradient descent.

Fit y = w*x + b to x = [1, 2, 3], y = [2, 4, 6] from w = 0.5, b = 0 with
learning rate 0.01 for 100 epochs (20 with ``quick``), loss
L = 0.5 * sum((w*x + b - y)^2). Every epoch the gradients are computed twice,
by hand (dL/dw = sum(x*(y_pred - y)), dL/db = sum(y_pred - y)) and by
``backward()``; they are printed side by side every 10 epochs and must agree
to 1e-12. Writes ``linear_regression.png`` (data, fitted line, loss curve).

``run`` returns {'w', 'b', 'losses', 'max_grad_diff', 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

from micrograd.demos._common import demo_main, output_dir, pyplot, save_figure, say, wrote
from micrograd.engine import Value

XS = [1.0, 2.0, 3.0]
YS = [2.0, 4.0, 6.0]
LR = 0.01


def hand_gradients(w: float, b: float) -> tuple:
    """dL/dw and dL/db of L = 0.5 * sum((w*x + b - y)^2), derived on paper."""
    residuals = [w * x + b - y for x, y in zip(XS, YS)]
    return sum(x * r for x, r in zip(XS, residuals)), sum(residuals)


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    epochs = 20 if quick else 100
    w, b = Value(0.5, label="w"), Value(0.0, label="b")
    say(f"Fitting y = w*x + b to x = {XS}, y = {YS} (the answer is w = 2, b = 0).")
    say(f"Start: w = {w.data}, b = {b.data}; learning rate {LR}; {epochs} epochs.\n")
    say(
        f"{'epoch':>5} {'loss':>12} {'dL/dw hand':>14} {'dL/dw backward':>15} {'dL/db hand':>14} {'dL/db backward':>15}"
    )
    losses, max_diff = [], 0.0
    for epoch in range(epochs):
        loss = 0.5 * sum((w * x + b - y) ** 2 for x, y in zip(XS, YS))
        w.grad = b.grad = 0.0
        loss.backward()
        gw, gb = hand_gradients(w.data, b.data)
        max_diff = max(max_diff, abs(gw - w.grad), abs(gb - b.grad))
        losses.append(loss.data)
        if epoch % 10 == 0 or epoch == epochs - 1:
            say(f"{epoch:>5} {loss.data:>12.6f} {gw:>14.9f} {w.grad:>15.9f} {gb:>14.9f} {b.grad:>15.9f}")
        w.data -= LR * w.grad
        b.data -= LR * b.grad

    say(f"\nFinal: w = {w.data:.6f}, b = {b.data:.6f}, loss {losses[0]:.4f} -> {losses[-1]:.6f}.")
    say(
        f"Hand-derived and backward() gradients differ by at most {max_diff:.1e} "
        f"({'agree to 1e-12' if max_diff <= 1e-12 else 'DISAGREE'})."
    )
    say("backward() applied the chain rule for us: the same numbers, no calculus by hand.")

    path = output_dir(out) / "linear_regression.png"
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax1.scatter(XS, YS, color="C0", zorder=3, label="data")
    grid = [0.0, 4.0]
    ax1.plot(grid, [w.data * x + b.data for x in grid], color="C1", label=f"fit: y = {w.data:.3f} x + {b.data:.3f}")
    ax1.plot(grid, [0.5 * x for x in grid], color="0.6", ls="--", label="start: y = 0.5 x")
    ax1.set(xlabel="x", ylabel="y", title="data and fitted line")
    ax1.legend()
    ax2.plot(losses, color="C2")
    ax2.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    save_figure(fig, path)
    wrote([path])
    return {"w": w.data, "b": b.data, "losses": losses, "max_grad_diff": max_diff, "files": [path]}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Linear regression: hand-derived gradients vs backward().", argv)


if __name__ == "__main__":
    main()
