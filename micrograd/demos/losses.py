"""Demo: four losses side by side: MSE, hinge, logistic (bce_with_logits) and cross-entropy.

The margin m = y * score says how right a model is on one example (y in {-1, +1}): m > 0 is
right, m >= 1 right with room to spare. Part 1 draws each loss and its gradient as functions of
the margin, both computed on Values (the gradient by ``backward()``) at 121 margins in [-3, 3]:
``mse(m, 1)`` = (1 - m)^2, ``hinge(m, 1)`` = max(0, 1 - m), ``bce_with_logits(m, 1)`` =
log(1 + e^-m), and ``cross_entropy([m, 0], 0)``, two logits whose difference is the margin:
the logistic loss again (the demo prints how far apart the two curves are: 0).
Part 2 trains the same model, MLP(2, [8, 1]) (cross-entropy: MLP(2, [8, 2]), one output per
class, the same hidden layer), from the same start, on the same data (100 moons and 8 far, easy
points of the +1 class), with the same optimizer (SGD, lr 0.05, momentum 0.9) for the same 2,000
full-batch steps (400 with ``quick``), once per loss, compiled; and MSE once more without the far
points, to show what they cost it. Each loss's labels as it wants them: -1/+1 for mse and hinge,
0/1 for bce_with_logits, class indices for cross_entropy.
Writes ``losses_margin.png`` (loss and gradient against the margin) and ``losses_trained.png``
(the four decision boundaries, and every example's margin after training, per loss), and prints
the lesson in one paragraph. Every number printed is computed from the arrays the pictures draw.

``run`` returns {'margin', 'curves': {loss: {'loss', 'grad'}}, 'X', 'y', 'steps', 'trained':
{loss: {'history', 'margins', 'accuracy', 'model', 'cm', 'labels'}}, 'mse_without_far' (the same
for MSE on the moons alone), 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.demos._common import demo_main, draw_classes, output_dir, pyplot, save_figure, say, wrote
from micrograd.engine import Value

SEED = 3  # the model's initial weights (the same hidden layer for every loss)
LR, MOMENTUM = 0.05, 0.9
FAR = 8  # far, easy examples of the +1 class: right by a wide margin from the start of the boundary
LOSSES = ("mse", "hinge", "bce_with_logits", "cross_entropy")
STYLE = {"mse": "C0", "hinge": "C1", "bce_with_logits": "C2", "cross_entropy": "C3"}


def at_margin(name: str, m: float) -> tuple[float, float]:
    """(loss, d loss / d m) of one example whose margin is m, on Values: a +1 example with score m
    (cross-entropy: logits [m, 0], class 0)."""
    v = Value(m)
    if name == "cross_entropy":
        out = losses.cross_entropy([v, Value(0.0)], 0)
    else:
        out = losses.BY_NAME[name](v, 1.0)
    out.backward()
    return out.data, v.grad


def margin_curves(margins: np.ndarray) -> dict:
    curves = {}
    for name in LOSSES:
        pairs = [at_margin(name, float(m)) for m in margins]
        curves[name] = {"loss": [p[0] for p in pairs], "grad": [p[1] for p in pairs]}
    return curves


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """100 moons (labels -1/+1) and FAR easy +1 examples far from the other class (bottom right)."""
    X, y = make_moons(100, noise=0.15, rng=0, labels="pm1")
    rng = np.random.default_rng(1)
    far = np.c_[rng.normal(4.0, 0.3, FAR), rng.normal(-2.0, 0.3, FAR)]
    return np.r_[X, far], np.r_[y, np.ones(FAR)]


def labels_for(name: str, y: np.ndarray) -> np.ndarray:
    """-1/+1 labels as each loss wants them."""
    if name == "bce_with_logits":
        return (y + 1) / 2
    if name == "cross_entropy":
        return ((y + 1) // 2).astype(np.int64)
    return y


def make_model(name: str) -> nn.MLP:
    return nn.MLP(2, [8, 2 if name == "cross_entropy" else 1], rng=SEED)


def margins_of(name: str, outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y * score; for cross-entropy the score is logit 1 - logit 0 (the margin of the true class)."""
    score = outputs[:, 1] - outputs[:, 0] if name == "cross_entropy" else outputs[:, 0]
    return y * score


def train(name: str, X: np.ndarray, y: np.ndarray, steps: int) -> dict:
    model = make_model(name)
    cm = micrograd.compile(model)
    t = labels_for(name, y)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    history = cm.fit(X, t, loss=name, optimizer=opt, epochs=steps, shuffle=False)
    m = margins_of(name, cm(X), y)
    return {
        "history": history.tolist(),
        "margins": m,
        "accuracy": float(np.mean(m > 0)),
        "model": model,
        "cm": cm,
        "labels": t,
    }


def margin_figure(margins: np.ndarray, curves: dict):
    """Each loss and its gradient against the margin (``losses_margin.png``)."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, c in curves.items():
        dashed = name == "cross_entropy"
        kw = dict(color=STYLE[name], ls="--" if dashed else "-", lw=1.5 if dashed else 2.5, label=name)
        ax1.plot(margins, c["loss"], **kw)
        ax2.plot(margins, c["grad"], **kw)
    for ax in (ax1, ax2):
        ax.axvline(0, color="0.5", lw=0.8)
        ax.axvline(1, color="0.5", lw=0.8, ls=":")
        ax.set(xlabel="margin m = y * score  (> 0: right; >= 1: right with room)")
    ax1.set(ylim=(-0.2, 6), ylabel="loss", title="each loss against the margin")
    ax2.set(ylabel="d loss / d m (from backward())", title="its gradient: what a step pushes on")
    ax2.axhline(0, color="0.5", lw=0.8)
    ax1.legend(title="cross_entropy: logits [m, 0]")
    return fig


def trained_figure(X: np.ndarray, y: np.ndarray, trained: dict, steps: int):
    """One boundary panel per loss, and every example's margin after training, one row per loss
    (``losses_trained.png``)."""
    plt = pyplot()
    fig = plt.figure(figsize=(16, 7.5))
    grid = fig.add_gridspec(2, len(trained), height_ratios=[1.25, 1])
    xx, yy = np.meshgrid(np.linspace(-2, 4.8, 160), np.linspace(-2.8, 1.8, 120))
    points = np.c_[xx.ravel(), yy.ravel()]
    for k, (name, t) in enumerate(trained.items()):
        ax = fig.add_subplot(grid[0, k])
        out = t["cm"](points)
        score = out[:, 1] - out[:, 0] if name == "cross_entropy" else out[:, 0]
        draw_classes(ax, X, y, xx, yy, score.reshape(xx.shape))
        ax.set_title(f"{name}\n{t['accuracy']:.0%} right, largest margin {t['margins'].max():.2f}", fontsize=10)
    ax = fig.add_subplot(grid[1, :])
    for row, (name, t) in enumerate(trained.items()):
        m = t["margins"]  # the moons, then the far examples (drawn as rings)
        ax.scatter(m[:-FAR], np.full(len(m) - FAR, row), s=14, color=STYLE[name], alpha=0.6)
        ax.scatter(m[-FAR:], np.full(FAR, row), s=60, facecolors="none", edgecolors=STYLE[name])
    ax.axvline(0, color="0.5", lw=0.8)
    ax.axvline(1, color="0.5", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=1)  # linear from -1 to 1, where the losses differ most; log beyond
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_yticks(range(len(trained)), list(trained))
    ax.set(
        xlabel=f"margin y * score of each example after training (rings: the {FAR} far, easy examples; "
        "linear scale in [-1, 1], log scale beyond)",
        ylim=(len(trained) - 0.5, -0.5),
    )
    ax.set_title(f"the same model, start, data and {steps} SGD steps; only the loss differs", fontsize=11)
    return fig


def lesson(curves: dict, trained: dict, without_far: dict, n: int) -> str:
    """The lesson in one paragraph, every number from the curves and margins the pictures draw."""
    mse, hinge, bce = trained["mse"]["margins"], trained["hinge"]["margins"], trained["bce_with_logits"]["margins"]
    far = mse[-FAR:]
    past = int(np.sum(hinge >= 1))
    with_far, alone = trained["mse"]["accuracy"], without_far["accuracy"]
    same = max(abs(a - b) for a, b in zip(curves["cross_entropy"]["loss"], curves["bce_with_logits"]["loss"]))
    acc = ", ".join(f"{name} {t['accuracy']:.0%}" for name, t in trained.items())
    return (
        f"The margin m = y*score says how right the model is on an example. MSE, (1 - m)^2, punishes "
        f"being too right: past m = 1 its gradient pushes the margin back down. It holds the {FAR} far, "
        f"easy examples at margins {far.min():.3f} to {far.max():.3f}"
        + (
            f", and that costs it the boundary: {with_far:.0%} right, against {alone:.0%} for the same "
            f"training without them. "
            if alone > with_far
            else f": {with_far:.0%} right ({alone:.0%} for the same training without them). "
        )
        + "Hinge, max(0, 1 - m), passes no gradient past m = 1: "
        + (
            f"at the end all {n} examples are past it, its loss is {trained['hinge']['history'][-1]:g} and it "
            f"has stopped learning. "
            if past == n
            else f"at the end {past} of the {n} examples are past it and teach it nothing; only the "
            f"{n - past} inside the margin move its boundary. "
        )
        + f"Logistic, log(1 + e^-m), never stops pushing, ever more gently: its median "
        f"margin grew to {np.median(bce):.2f} (hinge: {np.median(hinge):.2f}). Cross-entropy on two "
        f"logits is the logistic loss of their difference (the curves differ by at most {same:.1g}), "
        f"the form that extends to any number of classes. Right after training: {acc}."
    )


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    steps = 400 if quick else 2000
    margins = np.linspace(-3, 3, 121)
    say(
        "Four losses, as functions of the margin m = y*score of one example (> 0: right, >= 1: right "
        "with room), each computed on Values, its gradient by backward()."
    )
    curves = margin_curves(margins)
    print(f"\n{'':>7} " + " ".join(f"{'loss  d loss/dm':>18}" for _ in LOSSES))
    print(f"{'margin':>7} " + " ".join(f"{name:>18}" for name in LOSSES))
    for m in (-2.0, 0.0, 1.0, 2.0):
        i = int(np.argmin(np.abs(margins - m)))
        print(f"{m:>7.1f} " + " ".join(f"{c['loss'][i]:>8.3f} {c['grad'][i]:>9.3f}" for c in curves.values()))
    X, y = make_data()
    say(
        f"\nThen one model, MLP(2, [8, 1]) (cross_entropy: [8, 2], one output per class), from one start, "
        f"on {len(X) - FAR} moons and {FAR} far, easy +1 examples, SGD lr {LR} momentum {MOMENTUM}, "
        f"{steps} full-batch steps, compiled: once per loss."
    )
    trained = {name: train(name, X, y, steps) for name in LOSSES}
    without_far = train("mse", X[:-FAR], y[:-FAR], steps)
    print(f"\n{'loss':<16} {'first':>7} {'last':>7} {'right':>6} {'margin: min':>12} {'median':>7} {'max':>7}")
    for name, t in trained.items():
        m = t["margins"]
        print(
            f"{name:<16} {t['history'][0]:>7.3f} {t['history'][-1]:>7.3f} {t['accuracy']:>6.0%} "
            f"{m.min():>12.2f} {np.median(m):>7.2f} {m.max():>7.2f}"
        )
    print(
        f"{'mse, moons only':<16} {without_far['history'][0]:>7.3f} {without_far['history'][-1]:>7.3f} "
        f"{without_far['accuracy']:>6.0%}"
    )
    say("\n" + lesson(curves, trained, without_far, len(X)))

    d = output_dir(out)
    files = [d / "losses_margin.png", d / "losses_trained.png"]
    save_figure(margin_figure(margins, curves), files[0])
    save_figure(trained_figure(X, y, trained, steps), files[1])
    wrote(files)
    return {
        "margin": margins,
        "curves": curves,
        "X": X,
        "y": y,
        "steps": steps,
        "trained": trained,
        "mse_without_far": without_far,
        "files": files,
    }


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Four losses side by side: against the margin, and what each trains to.", argv)


if __name__ == "__main__":
    main()
