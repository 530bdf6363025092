"""Demo: two moons, micrograd's own demo, on the Value path and on the compiled path.

MLP(2, [16, 16, 1]) with micrograd's very initial weights (``random.seed(1337)``,
here a ``random.Random(1337)`` passed in), 100 moons samples (seeded), labels
in {-1, +1}, max-margin (hinge) loss plus 1e-4 L2, SGD with learning rate
1.0 - 0.9*k/100, 100 full-batch steps (5 with ``quick``). Trained twice from the
same initial weights: on the Value path (a Python graph of ~66,000 nodes per
step) and with ``micrograd.compile`` (the same graph lowered to Numba kernels).
The two loss curves must agree to 1e-9. Prints a table of both curves, both
wall times (the compiled one warm: compilation is timed apart) and the
speed-up. Writes ``moons_boundary.png`` (the decision boundary),
``moons_losses.png`` (both loss curves on one axis, with the wall times),
``moons_graph.svg`` (the graph of the hardest sample's loss, one box per neuron,
coloured by gradient, with a legend) and ``moons_training.html`` (the compiled
training recorded epoch by epoch, to replay in a browser).

``run`` returns {'value_losses', 'compiled_losses', 'max_diff', 'accuracy', 'value_accuracy',
'value_seconds', 'compiled_seconds', 'compile_seconds', 'graph_sample', 'record', 'files'}.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.demos._common import (
    Timer,
    demo_main,
    draw_classes,
    output_dir,
    progress,
    pyplot,
    save_diagram,
    save_figure,
    say,
    wrote,
)
from micrograd.engine import gc_paused
from micrograd.viz.training import record_fit, training_html

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
        cm.fit(
            X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=schedule), epochs=1, shuffle=False, l2=ALPHA
        )
    model.load_state_dict(start)  # the same start again: cm computes with the model's Values
    with Timer() as t:
        history = cm.fit(
            X,
            y,
            loss="hinge",
            optimizer=optim.SGD(model.parameters(), lr=schedule),
            epochs=steps,
            shuffle=False,
            l2=ALPHA,
        )
    return model, cm, history.tolist(), t.seconds, t_compile.seconds


def draw_boundary(cm, X, y, path) -> None:
    plt = pyplot()
    h = 0.02
    xx, yy = np.meshgrid(
        np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h), np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, h)
    )
    Z = cm(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(6, 4.8))
    draw_classes(ax, X, y, xx, yy, Z)  # +1 red, -1 blue: the colours of the training page
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), title="MLP(2, [16, 16, 1]) decision boundary")
    save_figure(fig, path)


def draw_loss_curves(value_losses, compiled_losses, value_s: float, compiled_s: float, path) -> None:
    """Both loss curves on one axis, the wall time of each path in the legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    steps = np.arange(len(value_losses))
    ax.plot(steps, value_losses, lw=4, alpha=0.5, label=f"Value path ({value_s:.2f} s)")
    ax.plot(steps, compiled_losses, "k--", lw=1.2, label=f"compiled path ({compiled_s * 1e3:.2f} ms)")
    diff = max(abs(a - b) for a, b in zip(value_losses, compiled_losses))
    ax.set(
        yscale="log",
        xlabel="training step",
        ylabel="loss (hinge + L2)",
        title=f"the same loss on both paths (largest difference {diff:.1e})",
    )
    ax.legend(title="wall time of the training")
    save_figure(fig, path)


def hardest_sample(model, X: list, y: list) -> tuple:
    """(index, margin) of the sample with the smallest margin y*score: the one the model gets least
    right. Its hinge loss max(0, 1 - y*score) has a gradient unless even that margin is >= 1."""
    margins = [yi * model(x).data for x, yi in zip(X, y)]
    i = min(range(len(X)), key=margins.__getitem__)
    return i, margins[i]


def draw_sample_graph(model, X: list, y: list, path) -> tuple:
    """The graph of one sample's hinge loss: one box per neuron, neurons in reading order, nodes
    coloured by their gradient, and a legend for the boxes. The sample is the trained model's
    hardest one; if every sample is past the margin (no gradient anywhere), the untrained model's.
    Returns (file written, sample index, whether the trained model was drawn)."""
    i, margin = hardest_sample(model, X, y)
    trained = margin < 1.0
    if not trained:
        model = micrograd_model()
        i, margin = hardest_sample(model, X, y)
    score = model(X[i])
    loss = losses.hinge(score, y[i])  # (1 + -y*score).relu()
    model.zero_grad()
    loss.backward()
    total = loss._children[0]
    one, product = total._children
    names = {
        loss: "hinge loss",
        total: "1 - y*score",
        one: "1",
        product: "-y*score",
        product._children[0]: "-y",
        score: "score",
    }
    names.update({v: f"x[{k}]" for k, v in enumerate(model._last_io[0])})  # the sample's inputs
    from micrograd.viz import draw_dot

    g = draw_dot(loss, color_by="grad", model=model, collapse="neuron", names=names)
    neurons_in_reading_order(g)
    g.node("legend_boxes", label=box_legend(model), shape="plaintext")
    return save_diagram(g, path), i, trained


def neurons_in_reading_order(g) -> None:
    """Each layer's boxes in one column, neuron 0 at the top. draw_dot lists every box's incoming
    edges in neuron order; ``ordering=in`` makes dot keep that order (left alone, it rotated the
    columns to start at neuron 10)."""
    g.graph_attr["ordering"] = "in"


def box_legend(model) -> str:
    """A Graphviz HTML label that says how to read a collapsed neuron box, with this model's numbers."""
    nin = len(model.layers[1].neurons[0].w)
    rows = [
        "<B>How to read a box</B>",
        "Neuron 1.10 = layer 1, neuron 10 (both counted from 0)",
        f"{3 * nin + 2} nodes = the Values inside: {nin} weights, the bias, "
        f"{nin} products w*x, {nin} additions, the ReLU",
        "out data / grad = the neuron's output and d(loss)/d(output)",
        "fill = the largest gradient that reaches the neuron's weights and bias (|grad| table)",
        "grey = none: a ReLU at 0 on this sample passes no gradient back, whatever its out grad",
        "columns from left to right: inputs, layer 0, 1, 2 (the score), the loss",
        "top to bottom in each column: neuron 0, 1, 2, ...",
    ]
    cells = "".join(f'<TR><TD ALIGN="LEFT">{r}</TD></TR>' for r in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{cells}</TABLE>>'


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    steps = 5 if quick else 100
    X, y = make_moons(100, noise=0.1, rng=DATA_SEED, labels="pm1")
    say(
        f"micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons, hinge loss + {ALPHA:g} L2, "
        f"SGD lr 1.0 - 0.9*k/100, {steps} steps."
    )
    say(
        "Trained twice from the same initial weights: first on the Value path (a Python graph of "
        "about 66,000 nodes per step: this takes a while, which is the point), then on the compiled "
        "path.\n"
    )
    value_model, value_losses, value_s = train_value_path(X, y, steps)
    model, cm, compiled_losses, compiled_s, compile_s = train_compiled(X, y, steps)
    diffs = [abs(a - b) for a, b in zip(value_losses, compiled_losses)]
    accuracy = float(np.mean((cm(X)[:, 0] > 0) == (y > 0)))
    value_accuracy = total_loss(value_model, X.tolist(), y.tolist())[1]

    print(f"{'step':>4} {'Value path loss':>20} {'compiled loss':>20} {'difference':>11}")
    for k in sorted({*range(0, steps, 10), steps - 1}):
        print(f"{k:>4} {value_losses[k]:>20.15f} {compiled_losses[k]:>20.15f} {diffs[k]:>11.1e}")
    say(
        f"\nThe two loss curves agree to {max(diffs):.1e} over all {steps} steps "
        f"({'within' if max(diffs) <= 1e-9 else 'NOT within'} 1e-9): the compiled path computes the "
        f"same numbers."
    )
    say(f"Training accuracy: {value_accuracy:.0%} (Value path), {accuracy:.0%} (compiled).")
    say(
        f"Wall time for {steps} steps: Value path {value_s:.2f} s ({value_s / steps * 1e3:.0f} ms/step), "
        f"compiled {compiled_s * 1e3:.2f} ms ({compiled_s / steps * 1e6:.0f} us/step): "
        f"{value_s / compiled_s:,.0f}x faster. Compiling and the first call took {compile_s:.2f} s, "
        f"timed apart; Numba caches the kernels on disk, so later runs start faster."
    )

    d = output_dir(out)
    files = [d / "moons_boundary.png", d / "moons_losses.png"]
    draw_boundary(cm, X, y, files[0])
    draw_loss_curves(value_losses, compiled_losses, value_s, compiled_s, files[1])
    graph, sample, trained = draw_sample_graph(value_model, X.tolist(), y.tolist(), d / "moons_graph.svg")
    files.append(graph)
    say(
        f"moons_graph: the loss of sample {sample}, the one the "
        f"{'trained' if trained else 'untrained'} model gets least right, one box per neuron, "
        f"coloured by gradient."
    )
    record = record_training(cm, model, X, y, steps)
    if record.history != compiled_losses:  # the recorded run is the same training, step for step
        raise AssertionError("the recorded training differs from the timed one")
    files.append(training_html(record, d / "moons_training.html"))
    say("moons_training: open it in a browser to replay the compiled training (slider, play, arrow keys).")
    wrote(files)
    return {
        "value_losses": value_losses,
        "compiled_losses": compiled_losses,
        "max_diff": max(diffs),
        "accuracy": accuracy,
        "value_accuracy": value_accuracy,
        "value_seconds": value_s,
        "compiled_seconds": compiled_s,
        "compile_seconds": compile_s,
        "graph_sample": sample,
        "record": record,
        "files": files,
    }


def record_training(cm, model, X, y, steps: int):
    """The compiled training again from micrograd's initial weights, recorded epoch by epoch."""
    model.load_state_dict(micrograd_model().state_dict())
    return record_fit(
        cm,
        X,
        y,
        loss="hinge",
        optimizer=optim.SGD(model.parameters(), lr=schedule),
        epochs=steps,
        shuffle=False,
        l2=ALPHA,
        title="micrograd's moons demo, compiled",
    )


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Two moons: micrograd's demo, Value path and compiled path side by side.", argv)


if __name__ == "__main__":
    main()
