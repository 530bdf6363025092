"""Demo: four optimizers from the same start: SGD, momentum, Nesterov and Adam.

Part 1, two loss surfaces in two parameters (x, y), each a Value graph that ``backward()``
differentiates, each optimizer a ``micrograd.optim`` object stepping the two Values:

- a valley, f = x^2/2 + 10 y^2, from (-4, 1): curvature 1 along the valley and 20 across it.
  SGD at lr 0.09 (just under 2/20, the largest rate the steep side allows) zigzags across the
  floor; momentum (0.7) and Nesterov at lr 0.04 average the zigzag away; Adam (lr 0.3) scales
  each parameter's step by that parameter's own gradient size, so its first step moves x and y
  by the same lr although the gradient in y is 5 times larger. 50 steps (25 with ``quick``).
- a saddle, f = x^2/2 + y^4/4 - y^2/2, from (2, 0.001): the gradient along y starts at 0.001;
  the minima are at y = +-1. The same optimizers at lr 0.1 (momentum 0.9); the demo counts the
  steps each needs to leave the saddle (|y| > 0.5). 80 steps (40 with ``quick``).

Part 2, one real task: the 8x8 digits, MLP(64, [32, 10]) (He init), softmax cross-entropy,
batches of 64 in the same shuffled order, from the same initial weights, trained compiled for 10
epochs (3 with ``quick``) by SGD (lr 0.1), momentum 0.9 and Nesterov at the same lr, and Adam
(lr 0.01). Writes ``optimizers_paths.png`` (the paths over each surface's contours) and
``optimizers_digits.png`` (the loss of every step, and each epoch's mean), and prints the lesson in
one paragraph. Every number printed is computed from the paths and curves the pictures draw.

``run`` returns {'surfaces': {name: {'paths': {optimizer: (steps+1, 2) array}, 'values':
{optimizer: [f per point]}}}, 'digits': {optimizer: {'history', 'test_accuracy'}}, 'epochs',
'files'}.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

import micrograd
from micrograd import nn, optim
from micrograd.data import load_digits, train_test_split
from micrograd.demos._common import demo_main, output_dir, pyplot, save_figure, say, wrote
from micrograd.engine import Value

OPTIMIZERS = ("SGD", "momentum", "Nesterov", "Adam")
STYLE = {"SGD": "C0", "momentum": "C1", "Nesterov": "C2", "Adam": "C3"}


class Surface(NamedTuple):
    name: str
    f: Callable  # f(x, y) on Values or on NumPy arrays
    start: tuple[float, float]
    lrs: dict[str, float]
    momentum: float
    steps: int
    box: tuple[float, float, float, float]  # x0, x1, y0, y1 of the contour plot


def valley(x, y):
    return 0.5 * x**2 + 10 * y**2


def saddle(x, y):
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


SURFACES = (
    Surface(
        "valley",
        valley,
        (-4.0, 1.0),
        {"SGD": 0.09, "momentum": 0.04, "Nesterov": 0.04, "Adam": 0.3},
        0.7,
        50,
        (-4.5, 1.5, -1.3, 1.3),
    ),
    Surface(
        "saddle",
        saddle,
        (2.0, 0.001),
        {"SGD": 0.1, "momentum": 0.1, "Nesterov": 0.1, "Adam": 0.1},
        0.9,
        80,
        (-1.2, 2.4, -1.5, 1.5),
    ),
)


def make_optimizer(name: str, params: list, lr: float, momentum: float) -> optim.Optimizer:
    if name == "SGD":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=momentum)
    if name == "Nesterov":
        return optim.SGD(params, lr=lr, momentum=momentum, nesterov=True)
    if name == "Adam":
        return optim.Adam(params, lr=lr)
    raise KeyError(f"no optimizer named {name!r}; choose one of {OPTIMIZERS}")


def descend(surface: Surface, name: str, steps: int) -> np.ndarray:
    """The path (steps + 1, 2) of one optimizer on a surface: f on Values, backward(), opt.step()."""
    x, y = Value(surface.start[0]), Value(surface.start[1])
    opt = make_optimizer(name, [x, y], surface.lrs[name], surface.momentum)
    path = [(x.data, y.data)]
    for _ in range(steps):
        loss = surface.f(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        path.append((x.data, y.data))
    return np.array(path)


def walk_surfaces(quick: bool = False) -> dict:
    """{surface: {'paths': {optimizer: path}, 'values': {optimizer: [f at each point]}}} for every
    surface and optimizer (half the steps with ``quick``)."""
    surfaces = {}
    for s in SURFACES:
        steps = s.steps // 2 if quick else s.steps
        paths = {name: descend(s, name, steps) for name in OPTIMIZERS}
        surfaces[s.name] = {"paths": paths, "values": {n: [float(s.f(*xy)) for xy in p] for n, p in paths.items()}}
    return surfaces


def crossings(path: np.ndarray) -> int:
    """How often a path crosses the valley floor y = 0 (its y changes sign)."""
    return int(np.sum(np.sign(path[1:, 1]) != np.sign(path[:-1, 1])))


def escape_step(path: np.ndarray) -> int | None:
    """The first step at which |y| > 0.5 (off the saddle, on the way to a minimum), or None."""
    off = np.flatnonzero(np.abs(path[:, 1]) > 0.5)
    return int(off[0]) if len(off) else None


def first_step_ratio(path: np.ndarray) -> float:
    """|step in y| / |step in x| of the first step."""
    dx, dy = np.abs(path[1] - path[0])
    return float(dy / dx)


def train_digits(epochs: int) -> dict:
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_fraction=0.25, rng=0)
    out = {}
    for name in OPTIMIZERS:
        model = nn.MLP(64, [32, 10], init="he", rng=0)  # the same start for every optimizer
        cm = micrograd.compile(model)
        opt = make_optimizer(name, model.parameters(), 0.01 if name == "Adam" else 0.1, 0.9)
        rng = np.random.default_rng(0)  # the same batches in the same order
        history = cm.fit(Xtr, ytr, loss="cross_entropy", optimizer=opt, epochs=epochs, batch_size=64, rng=rng)
        out[name] = {"history": history.tolist(), "test_accuracy": float(np.mean(cm(Xte).argmax(axis=1) == yte))}
    return out


def epoch_means(history: list, epochs: int) -> list[float]:
    per = len(history) // epochs
    return [float(np.mean(history[e * per : (e + 1) * per])) for e in range(epochs)]


def paths_figure(surfaces: dict):
    """Each optimizer's path over each surface's contours (``optimizers_paths.png``)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(surfaces), figsize=(13, 5))
    for ax, s in zip(axes, SURFACES):
        x0, x1, y0, y1 = s.box
        xx, yy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        ax.contour(xx, yy, s.f(xx, yy), levels=25, cmap="Greys", linewidths=0.6)
        for name, p in surfaces[s.name]["paths"].items():
            lr = s.lrs[name]
            label = f"{name} (lr {lr:g}" + (f", momentum {s.momentum:g})" if name in ("momentum", "Nesterov") else ")")
            ax.plot(p[:, 0], p[:, 1], "o-", ms=2.5, lw=1.2, color=STYLE[name], label=label)
        ax.plot(*s.start, "ks", ms=7)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")
        ax.legend(fontsize=8, loc="lower right" if s.name == "valley" else "lower left")
    axes[0].set_title("a valley, x^2/2 + 10 y^2: 20 times steeper across than along", fontsize=10)
    axes[1].set_title("a saddle, x^2/2 + y^4/4 - y^2/2: from (2, 0.001)", fontsize=10)
    return fig


def digits_figure(digits: dict, epochs: int):
    """The loss of every step and each epoch's mean, per optimizer (``optimizers_digits.png``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, d in digits.items():
        h = d["history"]
        per = len(h) // epochs
        ax.plot(np.arange(1, len(h) + 1), h, color=STYLE[name], lw=0.8, alpha=0.35)
        ax.plot(np.arange(1, epochs + 1) * per, epoch_means(h, epochs), "o-", color=STYLE[name], label=name)
    ax.set(
        yscale="log",
        xlabel="step (batches of 64)",
        ylabel="cross-entropy",
        title=f"digits, MLP(64, [32, 10]): the same start and batches, {epochs} epochs",
    )
    ax.set_ylim(bottom=0.02)
    ax.legend(title="dots: each epoch's mean")
    return fig


def lesson(surfaces: dict, digits: dict, epochs: int) -> str:
    """The lesson in one paragraph, every number from the paths and curves the pictures draw."""
    v, s = surfaces["valley"], surfaces["saddle"]
    cross = {name: crossings(p) for name, p in v["paths"].items()}
    last = {name: vals[-1] for name, vals in v["values"].items()}
    esc = {name: escape_step(p) for name, p in s["paths"].items()}
    ratio = {name: first_step_ratio(p) for name, p in v["paths"].items()}
    steps = len(v["paths"]["SGD"]) - 1
    final = {name: epoch_means(d["history"], epochs)[-1] for name, d in digits.items()}
    best = min(final, key=final.get)

    def when(k):
        return f"at step {k}" if k is not None else f"not within {len(s['paths']['SGD']) - 1} steps"

    return (
        f"In the valley SGD crosses the floor {cross['SGD']} times in {steps} steps: its rate is near the "
        f"limit of the steep side, so each step overshoots it. Momentum steps along a decaying sum of "
        f"the gradients, in which the zigzag cancels and the slope along the valley adds up: "
        f"{cross['momentum']} crossings (Nesterov {cross['Nesterov']}), and f = {last['momentum']:.1e} "
        f"after {steps} steps against SGD's {last['SGD']:.1e}. Adam divides each parameter's step by "
        f"the size of that parameter's own recent gradients: its first step moves y {ratio['Adam']:.2f} "
        f"times as far "
        f"as x, where SGD's moves it {ratio['SGD']:.2f} times as far (the gradients' ratio). On the "
        f"saddle the gradient along y starts at 0.001, and that scaling is what gets off it: Adam "
        f"leaves (|y| > 0.5) {when(esc['Adam'])}, Nesterov {when(esc['Nesterov'])}, momentum "
        f"{when(esc['momentum'])}, SGD {when(esc['SGD'])}. On the digits, from one start and in one "
        f"order of batches, the last epoch's mean loss is "
        + ", ".join(f"{name} {loss:.3f}" for name, loss in final.items())
        + f" ({best} lowest), held-out accuracy "
        + ", ".join(f"{name} {d['test_accuracy']:.1%}" for name, d in digits.items())
        + "."
    )


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    epochs = 3 if quick else 10
    say("SGD, momentum, Nesterov and Adam from the same start, on Values: f(x, y), backward(), step().")
    surfaces = walk_surfaces(quick)
    print(f"\n{'':<10} {'valley: f at the end':>21} {'floor crossings':>16} {'saddle: left at step':>21}")
    for name in OPTIMIZERS:
        p, q = surfaces["valley"]["paths"][name], surfaces["saddle"]["paths"][name]
        esc = escape_step(q)
        print(
            f"{name:<10} {surfaces['valley']['values'][name][-1]:>21.2e} {crossings(p):>16} "
            f"{'never' if esc is None else esc:>21}"
        )
    say(f"\nThen the digits, MLP(64, [32, 10]), {epochs} epochs per optimizer, compiled.")
    digits = train_digits(epochs)
    print(f"\n{'epoch:':<10}" + "".join(f"{e + 1:>7}" for e in range(epochs)) + f" {'held out':>9}")
    for name, d in digits.items():
        means = epoch_means(d["history"], epochs)
        print(f"{name:<10}" + "".join(f"{m:>7.3f}" for m in means) + f" {d['test_accuracy']:>9.1%}")
    say("\n" + lesson(surfaces, digits, epochs))

    d = output_dir(out)
    files = [d / "optimizers_paths.png", d / "optimizers_digits.png"]
    save_figure(paths_figure(surfaces), files[0])
    save_figure(digits_figure(digits, epochs), files[1])
    wrote(files)
    return {"surfaces": surfaces, "digits": digits, "epochs": epochs, "files": files}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "SGD, momentum, Nesterov and Adam: paths on two surfaces, curves on digits.", argv)


if __name__ == "__main__":
    main()
