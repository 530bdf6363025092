"""Demo: two moons, micrograd's own demo, on the Value path and on the compiled path.

MLP(2, [16, 16, 1]) with micrograd's very initial weights (``random.seed(1337)``,
here a ``random.Random(1337)`` passed in), 100 moons samples (seeded), labels
in {-1, +1}, max-margin (hinge) loss plus 1e-4 L2, SGD with learning rate
1.0 - 0.9*k/100, 100 full-batch steps (5 with ``quick``). Trained twice from the
same initial weights: on the Value path (a Python graph of ~66,000 nodes per
step) and with ``micrograd.compile`` (the same graph lowered to Numba kernels).
The two loss curves must agree to 1e-9. Prints a table of both curves, both
wall times (the compiled one warm: compilation is timed apart) and the
speed-up. Writes ``moons_boundary.png`` (the decision boundary) and
``moons_graph.svg`` (the graph of one sample's loss, coloured by gradient).

``run`` returns {'value_losses', 'compiled_losses', 'max_diff', 'accuracy', 'value_seconds',
'compiled_seconds', 'compile_seconds', 'files'}.
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

import numpy as np

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.engine import gc_paused
from micrograd.demos._common import Timer, demo_main, output_dir, progress, pyplot, save_figure, save_graph, wrote

ALPHA = 1e-4
DATA_SEED = 0  # our make_moons draws differ from scikit-learn's; with this seed training reaches 100%


def schedule(k: int) -> float:
    return 1.0 - 0.9 * k / 100


def micrograd_model() -> nn.MLP:
    """micrograd's demo network with micrograd's initial weights (what random.seed(1337) draws)."""
    return nn.MLP(2, [16, 16, 1], rng=random.Random(1337))


def total_loss(model, X: list, y: list):
    """Mean hinge loss + 1e-4 L2, and the accuracy: micrograd's demo loss()."""
    scores = [model(row) for row in X]
    loss = losses.batch_loss(losses.hinge, scores, y) + losses.l2(model.parameters(), ALPHA)
    accuracy = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores)) / len(y)
    return loss, accuracy


def train_value_path(X: np.ndarray, y: np.ndarray, steps: int) -> tuple:
    model = micrograd_model()
    opt = optim.SGD(model.parameters(), lr=schedule)  # p.data -= lr * p.grad, as the demo's loop
    history, Xl, yl = [], X.tolist(), y.tolist()
    bar = progress(range(steps), "Value path", steps)
    with gc_paused(), Timer() as t:  # the collector would only rescan ~66,000 live nodes per step
        for _ in bar:
            loss, acc = total_loss(model, Xl, yl)
            model.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.data)
            bar.note(f"loss {loss.data:.4f} accuracy {acc:.0%}")
    return model, history, t.seconds


def train_compiled(X: np.ndarray, y: np.ndarray, steps: int) -> tuple:
    model = micrograd_model()
    start = model.state_dict()
    with Timer() as t_compile:
        cm = micrograd.compile(model)
        # the first fit compiles (or loads from Numba's cache) the kernels; it is timed apart
        cm.fit(X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=schedule), epochs=1,
               shuffle=False, l2=ALPHA)
    model.load_state_dict(start)
    cm.sync_from_model()
    with Timer() as t:
        history = cm.fit(X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=schedule),
                         epochs=steps, shuffle=False, l2=ALPHA)
    return model, cm, history.tolist(), t.seconds, t_compile.seconds


def draw_boundary(cm, X, y, path) -> None:
    plt = pyplot()
    h = 0.02
    xx, yy = np.meshgrid(np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h),
                         np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, h))
    Z = cm(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape) > 0
    fig, ax = plt.subplots(figsize=(6, 4.8))
    ax.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral, edgecolors="k")
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), title="MLP(2, [16, 16, 1]) decision boundary")
    save_figure(fig, path)


def draw_sample_graph(model, x, yi, path):
    """The graph of one sample's hinge loss, nodes coloured by their gradient; returns the file written."""
    loss = losses.hinge(model(x), yi)
    model.zero_grad()
    loss.backward()
    return save_graph(loss, path, color_by="grad", model=model)  # ~660 Values: drawn one node per neuron


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    steps = 5 if quick else 100
    X, y = make_moons(100, noise=0.1, rng=DATA_SEED, labels="pm1")
    print(f"micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons, hinge loss + {ALPHA:g} L2, "
          f"SGD lr 1.0 - 0.9*k/100, {steps} steps.")
    print("Trained twice from the same initial weights: first on the Value path (a Python graph of about "
          "66,000 nodes per step: this takes a while, which is the point), then on the compiled path.\n")
    value_model, value_losses, value_s = train_value_path(X, y, steps)
    model, cm, compiled_losses, compiled_s, compile_s = train_compiled(X, y, steps)
    diffs = [abs(a - b) for a, b in zip(value_losses, compiled_losses)]
    accuracy = float(np.mean((cm(X)[:, 0] > 0) == (y > 0)))
    value_accuracy = total_loss(value_model, X.tolist(), y.tolist())[1]

    print(f"{'step':>4} {'Value path loss':>20} {'compiled loss':>20} {'difference':>11}")
    for k in sorted({*range(0, steps, 10), steps - 1}):
        print(f"{k:>4} {value_losses[k]:>20.15f} {compiled_losses[k]:>20.15f} {diffs[k]:>11.1e}")
    print(f"\nThe two loss curves agree to {max(diffs):.1e} over all {steps} steps "
          f"({'within' if max(diffs) <= 1e-9 else 'NOT within'} 1e-9): the compiled path computes the same "
          f"numbers.")
    print(f"Training accuracy: {value_accuracy:.0%} (Value path), {accuracy:.0%} (compiled).")
    print(f"Wall time for {steps} steps: Value path {value_s:.2f} s ({value_s / steps * 1e3:.0f} ms/step), "
          f"compiled {compiled_s * 1e3:.2f} ms ({compiled_s / steps * 1e6:.0f} us/step): "
          f"{value_s / compiled_s:,.0f}x faster (compiling and the first call took {compile_s:.2f} s, "
          f"timed apart; Numba caches the kernels on disk, so later runs start faster).")

    d = output_dir(out)
    files = [d / "moons_boundary.png"]
    draw_boundary(cm, X, y, files[0])
    files.append(draw_sample_graph(value_model, X[0].tolist(), float(y[0]), d / "moons_graph.svg"))
    wrote(files)
    return {"value_losses": value_losses, "compiled_losses": compiled_losses, "max_diff": max(diffs),
            "accuracy": accuracy, "value_accuracy": value_accuracy, "value_seconds": value_s,
            "compiled_seconds": compiled_s, "compile_seconds": compile_s, "files": files}


def main(argv: Optional[Sequence[str]] = None) -> dict:
    return demo_main(run, "Two moons: micrograd's demo, Value path and compiled path side by side.", argv)


if __name__ == "__main__":
    main()
