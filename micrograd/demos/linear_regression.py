"""Demo: linear regression, the classic first lesson of gradient descent.

Fit y = w*x + b to x = [1, 2, 3], y = [2, 4, 6] from w = 0.5, b = 0 with
learning rate 0.01 for 100 epochs (20 with ``quick``), loss
L = 0.5 * sum((w*x + b - y)^2). Every epoch the gradients are computed twice,
by hand (dL/dw = sum(x*(y_pred - y)), dL/db = sum(y_pred - y)) and by
``backward()``; they are printed side by side every 10 epochs and must agree
to 1e-12. Then the trained line is set beside the least-squares answer (the
bottom of the loss bowl, from the normal equations): the lesson says how far
gradient descent still is and why (the bowl's curvatures, the eigenvalues of
its Hessian: one direction is 46 times flatter), and how many epochs at this
learning rate it would take to get within 1e-3 (counted by running the same
descent on). Writes ``linear_regression.png`` (data, fitted line, least-squares
line, loss curve).

``run`` returns {'w', 'b', 'losses', 'max_grad_diff', 'least_squares' (w, b), 'distance',
'curvatures' (large, small), 'epochs_to_agree', 'files'}.
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


def least_squares() -> tuple[float, float]:
    """(w, b) at the bottom of the loss: the normal equations [[sxx, sx], [sx, n]] (w, b) = (sxy, sy)."""
    n, sx, sy = len(XS), sum(XS), sum(YS)
    sxx, sxy = sum(x * x for x in XS), sum(x * y for x, y in zip(XS, YS))
    det = sxx * n - sx * sx
    return (sxy * n - sx * sy) / det, (sxx * sy - sx * sxy) / det


def curvatures() -> tuple[float, float]:
    """The eigenvalues of the loss's Hessian [[sum x^2, sum x], [sum x, n]], largest first."""
    a, c, d = sum(x * x for x in XS), sum(XS), float(len(XS))
    mid, half = (a + d) / 2, (((a - d) / 2) ** 2 + c * c) ** 0.5
    return mid + half, mid - half


def epochs_to_within(w: float, b: float, tol: float, limit: int = 1_000_000) -> int:
    """More epochs of the same descent (hand gradients, plain floats) until (w, b) is within tol of the
    least-squares answer."""
    w_star, b_star = least_squares()
    for k in range(limit):
        if ((w - w_star) ** 2 + (b - b_star) ** 2) ** 0.5 <= tol:
            return k
        gw, gb = hand_gradients(w, b)
        w, b = w - LR * gw, b - LR * gb
    raise RuntimeError(f"not within {tol} of the least-squares answer after {limit} epochs")


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    epochs = 20 if quick else 100
    w, b = Value(0.5, label="w"), Value(0.0, label="b")
    w_star, b_star = least_squares()
    say(
        f"Fitting y = w*x + b to x = {XS}, y = {YS}. The best line (least squares, from the normal "
        f"equations) is w = {w_star:g}, b = {b_star:g}: the bottom of the loss."
    )
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

    distance = ((w.data - w_star) ** 2 + (b.data - b_star) ** 2) ** 0.5
    big, small = curvatures()
    more = epochs_to_within(w.data, b.data, 1e-3)
    say(f"\nFinal: w = {w.data:.6f}, b = {b.data:.6f}, loss {losses[0]:.4f} -> {losses[-1]:.6f}.")
    say(
        f"Least squares: w = {w_star:g}, b = {b_star:g}. After {epochs} epochs gradient descent is still "
        f"{distance:.3f} away from it: the loss is a long, narrow bowl, with curvatures {big:.2f} and "
        f"{small:.2f} (the eigenvalues of its Hessian). Along the flat direction each epoch at lr {LR} "
        f"shrinks the distance by only {LR * small:.2%}, so the same descent needs {more:,} more epochs "
        f"({epochs + more:,} in all) to get within 0.001 of the answer."
    )
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
    ax1.plot(
        grid,
        [w.data * x + b.data for x in grid],
        color="C1",
        label=f"after {epochs} epochs: y = {w.data:.3f} x + {b.data:.3f}",
    )
    ax1.plot(
        grid,
        [w_star * x + b_star for x in grid],
        color="k",
        ls=":",
        label=f"least squares: y = {w_star:.3f} x + {b_star:.3f}",
    )
    ax1.plot(grid, [0.5 * x for x in grid], color="0.6", ls="--", label="start: y = 0.5 x")
    ax1.set_title("data, fitted line and least squares", fontsize=10)
    ax1.set(xlabel="x", ylabel="y")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.plot(losses, color="C2")
    ax2.set_title("loss: fast down the steep side, slow along the valley", fontsize=10)
    ax2.set(xlabel="epoch", ylabel="loss", yscale="log")
    save_figure(fig, path)
    wrote([path])
    return {
        "w": w.data,
        "b": b.data,
        "losses": losses,
        "max_grad_diff": max_diff,
        "least_squares": (w_star, b_star),
        "distance": distance,
        "curvatures": (big, small),
        "epochs_to_agree": epochs + more,
        "files": [path],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Linear regression: hand-derived gradients vs backward().", argv)


if __name__ == "__main__":
    main()
