"""Demo: vanishing gradients in deep networks, and dying ReLU.

Part 1: MLP(8, [8]*10 + [1]) (10 hidden layers of 8; 6 with ``quick``),
Xavier init, with sigmoid, tanh and ReLU; one backward pass of the mean
squared output over 16 random inputs; the norm of each layer's weight
gradients in a table and a plot (``vanishing_gradients.png``). sigmoid's
derivative is at most 1/4, so its gradients shrink layer after layer towards
the input. ``vanishing_graph.svg``: a chain of 6 one-neuron sigmoid layers
drawn top to bottom, every node named (x, w1, b1, z1, a1 ...), with gradient
colours, where the fading is visible.
Part 2: dying ReLU. The same MLP(2, [16, 16, 1]) with ReLU and with leaky ReLU
(slope 0.1) takes one SGD step with a far too large learning rate (10) on 60
moons, then trains 30 steps (10 with ``quick``) at lr 0.2. Each unit's
activation rate (the fraction of examples where w.x + b > 0) is recorded after
every step and drawn as one row per unit (``dying_relu.png``). A unit is dead at
a step when its w.x + b is <= 0 on every one of the 60 examples (rate 0): a
ReLU unit then outputs 0 everywhere and its weights get a gradient of exactly 0.
In layer 0 (fixed inputs) it stays dead; in layer 1 it can come back when
layer 0 moves its inputs, for a few steps or for good. Leaky ReLU units keep a
gradient. Every number printed (and every unit that came back, with the steps
it was alive) is counted from the same rates the picture shows.

``run`` returns {'norms': {act: [per-layer norm, input side first]}, 'dying': {act: {'rates' (steps+2, 32),
'dead_before', 'dead_after_big_step', 'dead_already', 'dead_in_layer0', 'dead_with_zero_grad', 'dead_at_end',
'comebacks' {unit: [(first, last) alive step spans]}, 'revived', 'died_later', 'loss', 'accuracy',
'model'}}, 'files'}.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.demos._common import demo_main, output_dir, progress, pyplot, save_diagram, save_figure, say, wrote
from micrograd.engine import topological_order
from micrograd.viz import draw_dot

SEED = 1
ACTIVATIONS = ("sigmoid", "tanh", "relu")


def layer_gradient_norms(activation: str, depth: int, rng: random.Random) -> list:
    """sqrt(sum of squared weight gradients) of each hidden layer, input side first."""
    model = nn.MLP(8, [8] * depth + [1], activation=activation, init="xavier", rng=SEED)
    inputs = [[rng.gauss(0, 1) for _ in range(8)] for _ in range(16)]
    loss = losses.mean([model(x) ** 2 for x in inputs])
    model.zero_grad()
    loss.backward()
    return [math.sqrt(sum(p.grad**2 for n in layer.neurons for p in n.w)) for layer in model.layers[:-1]]


def fading_chain(out_dir):
    """A chain of 6 one-neuron sigmoid layers drawn top to bottom, every node named, coloured by
    gradient: the colours fade layer after layer towards the input."""
    model = nn.MLP(1, [1] * 6, activation="sigmoid", rng=SEED)
    y = model([1.0])
    y.backward()
    names = chain_names(model)
    g = draw_dot(y, color_by="grad", rankdir="TB", names=names)
    # heavy invisible edges along x, w1*x, z1, a1, ... keep the chain one straight column
    # (left alone, dot drifted it sideways layer after layer: 2,464 pt wide)
    ids = {v: f"v{i}" for i, v in enumerate(topological_order([y]))}
    chain = [v for v in ids if names.get(v, "").startswith(("x", "z", "a")) or "*" in names.get(v, "")]
    for a, b in zip(chain, chain[1:]):
        g.edge(ids[a], ids[b], style="invis", weight="100")
    return save_diagram(g, out_dir / "vanishing_graph.svg")


def chain_names(model) -> dict:
    """x, then per layer k: w_k, b_k, w_k*a_(k-1), z_k = b_k + w_k*a_(k-1), a_k = sigmoid(z_k)."""
    names = {}
    for k, layer in enumerate(model.layers, 1):
        (inp,), (out,) = layer.neurons[0]._last_io
        z = out._children[0] if len(out._children) == 1 else out  # the last layer is linear: out is z
        b, product = z._children
        w = product._children[0]
        prev = "x" if k == 1 else f"a{k - 1}"
        names.update({w: f"w{k}", b: f"b{k}", product: f"w{k}*{prev}", z: f"z{k}"})
        names.setdefault(inp, prev)
        if out is not z:
            names[out] = f"a{k} = sigmoid(z{k})"
    return names


def activation_rates(model, X: np.ndarray) -> np.ndarray:
    """Per hidden unit (layer 0's, then layer 1's ...): the fraction of the rows of X on which its
    pre-activation w.x + b is > 0. A NumPy forward pass from the weights' current values."""
    h, rates = X, []
    for layer in model.layers[:-1]:
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        z = h @ W.T + np.array([n.b.data for n in layer.neurons])
        rates.append((z > 0).mean(axis=0))
        n0 = layer.neurons[0]
        h = np.where(z > 0, z, n0.negative_slope * z if n0.activation == "leaky_relu" else 0.0)
    return np.concatenate(rates)


def _step(model, X, y, lr: float) -> float:
    loss = losses.batch_loss(losses.hinge, [model(r) for r in X], y)
    model.zero_grad()
    loss.backward()
    optim.SGD(model.parameters(), lr=lr).step()
    return loss.data


def _zero_grad_units(model, X, y) -> np.ndarray:
    """Per hidden unit: True if the full-data loss gives every weight and the bias a gradient of 0."""
    loss = losses.batch_loss(losses.hinge, [model(r) for r in X], y)
    model.zero_grad()
    loss.backward()
    return np.array([all(p.grad == 0.0 for p in n.w + [n.b]) for layer in model.layers[:-1] for n in layer.neurons])


def dying_relu(activation: str, steps: int) -> dict:
    """One SGD step at lr 10, then ``steps`` at lr 0.2; each unit's activation rate after every step."""
    Xa, ya = make_moons(60, noise=0.1, rng=0, labels="pm1")
    X, y = Xa.tolist(), ya.tolist()
    model = nn.MLP(2, [16, 16, 1], activation=activation, negative_slope=0.1, init="he", rng=SEED)
    rates = [activation_rates(model, Xa)]
    _step(model, X, y, lr=10.0)
    rates.append(activation_rates(model, Xa))
    dead = rates[1] == 0.0
    zero_grad = _zero_grad_units(model, X, y)
    final = None
    for _ in range(steps):
        final = _step(model, X, y, lr=0.2)
        rates.append(activation_rates(model, Xa))
    accuracy = sum((model(r).data > 0) == (t > 0) for r, t in zip(X, y)) / len(y)
    rates_a = np.array(rates)
    end = rates_a[-1] == 0.0
    first = np.arange(len(dead)) < len(model.layers[0].neurons)
    comebacks = comeback_spans(rates_a)
    return {
        "rates": rates_a,
        "dead_before": int(np.sum(rates_a[0] == 0.0)),
        "dead_after_big_step": int(dead.sum()),
        "dead_already": int((dead & (rates_a[0] == 0.0)).sum()),
        "dead_in_layer0": int((dead & first).sum()),
        "dead_with_zero_grad": int((dead & zero_grad).sum()),
        "dead_at_end": int(end.sum()),
        "comebacks": comebacks,
        "revived": len(comebacks),
        "died_later": int((~dead & end).sum()),
        "loss": final,
        "accuracy": accuracy,
        "model": model,
    }


def comeback_spans(rates: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    """The units dead after the big step (row 1 of rates: steps x units) that are alive (rate > 0) at a
    later step: {unit: [(first step, last step) of each run of alive steps]}."""
    out = {}
    for unit in np.flatnonzero(rates[1] == 0.0):
        spans, start = [], None
        for step in range(2, len(rates) + 1):
            alive = step < len(rates) and rates[step, unit] > 0.0
            if alive and start is None:
                start = step
            elif not alive and start is not None:
                spans.append((start, step - 1))
                start = None
        if spans:
            out[int(unit)] = spans
    return out


def steps_text(spans: list[tuple[int, int]]) -> str:
    """'step 3', 'steps 3-6 and 11-13': runs of steps in words."""
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans]
    many = len(parts) > 1 or spans[0][0] != spans[0][1]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return ("steps " if many else "step ") + listed


def comebacks_text(d: dict, last_step: int) -> str:
    """'unit 25 at steps 3-6 and 11-13 (dead again at the end)', one clause per unit that came back."""
    clauses = []
    for unit, spans in d["comebacks"].items():
        for_good = spans[-1][1] == last_step
        clauses.append(f"unit {unit} at {steps_text(spans)} ({'alive' if for_good else 'dead again'} at the end)")
    return "; ".join(clauses)


def draw_dying(dying: dict, steps: int, path) -> None:
    """Each unit's activation rate over training, one panel per activation: a dead unit is a dark row."""
    plt = pyplot()
    cmap = plt.get_cmap("viridis").with_extremes(under="#d62728")  # a rate of 0 (below vmin): negative everywhere
    fig, axes = plt.subplots(1, len(dying), figsize=(6.2 * len(dying), 4.8), sharey=True)
    for ax, (act, d) in zip(axes, dying.items()):
        im = ax.imshow(d["rates"].T, aspect="auto", cmap=cmap, vmin=1e-9, vmax=1, interpolation="nearest")
        ax.axvline(0.5, color="w", ls="--", lw=1)
        ax.axhline(15.5, color="w", lw=1)
        ax.set_title(
            f"{act}: {d['dead_after_big_step']}/32 red after the lr-10 step, {d['dead_at_end']}/32 at the end",
            fontsize=10,
        )
        ax.set(xlabel=f"step (0: before; 1: lr 10; 2-{steps + 1}: lr 0.2)")
    axes[0].set_ylabel("unit (0-15: layer 0, 16-31: layer 1)")
    fig.colorbar(im, ax=list(axes), extend="min", label="fraction of the 60 examples where it is active")
    fig.suptitle(
        "Each unit's activation rate over training; red: negative on every example (for ReLU: dead, no gradient)",
        fontsize=11,
        y=1.0,
    )
    save_figure(fig, path)


def report_dying(dying: dict, steps: int) -> None:
    """The table and the story, every number from the same counts the picture shows."""
    print(f"{'':<11} {'dead units (negative on all 60 examples)':^42} {'final':>6} {'train':>6}")
    print(f"{'':<11} {'before':>8} {'after lr 10':>13} {f'after {steps} steps':>19} {'loss':>6} {'acc.':>6}")
    for act, d in dying.items():
        print(
            f"{act:<11} {d['dead_before']:>5}/32 {d['dead_after_big_step']:>10}/32 {d['dead_at_end']:>16}/32 "
            f"{d['loss']:>6.3f} {d['accuracy']:>6.0%}"
        )
    r, k = dying["relu"], dying["leaky_relu"]
    last = steps + 1
    say(
        "A unit is dead at a step when w.x + b <= 0 on every one of the 60 examples: a ReLU unit then "
        "outputs 0 everywhere and its weights get a gradient of exactly 0. In the picture it is red."
    )
    back = comebacks_text(r, last)
    say(
        f"ReLU: after the step at lr 10, {r['dead_after_big_step']} of 32 units are dead "
        f"({r['dead_already']} of them {'was' if r['dead_already'] == 1 else 'were'} dead before it already), "
        f"and their weights get a gradient of "
        f"exactly 0 (checked: {r['dead_with_zero_grad']} of {r['dead_after_big_step']}). The "
        f"{r['dead_in_layer0']} dead units of layer 0 see fixed inputs: dead for good. A dead unit of "
        f"layer 1 comes back only when layer 0 moves its inputs: "
        + (f"{r['revived']} came back, {back}" if r["revived"] else "none came back")
        + f"; {r['died_later']} more died. {r['dead_at_end']} {_are(r['dead_at_end'])} dead after {steps} steps."
    )
    kback = comebacks_text(k, last)
    say(
        f"Leaky ReLU: {k['dead_after_big_step']} units were negative on every example after the big step "
        f"too, but they "
        f"pass 0.1 of the gradient ({k['dead_after_big_step'] - k['dead_with_zero_grad']} of them got "
        f"one), so they keep learning: "
        + (f"{k['revived']} came back, {kback}" if k["revived"] else "none came back yet")
        + f"; {k['dead_at_end']} {_are(k['dead_at_end'])} negative everywhere after {steps} steps."
    )


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    depth = 6 if quick else 10
    rng = random.Random(SEED)
    say(f"Part 1: MLP(8, [8]*{depth} + [1]), Xavier init, one backward pass over 16 random inputs.")
    norms = {act: layer_gradient_norms(act, depth, rng) for act in progress(ACTIVATIONS, "networks")}
    print(f"\n{'layer':>5} " + " ".join(f"{a:>10}" for a in ACTIVATIONS) + "   (norm of the weight gradients)")
    for i in range(depth):
        print(f"{i + 1:>5} " + " ".join(f"{norms[a][i]:>10.2e}" for a in ACTIVATIONS))
    ratio = {a: norms[a][-1] / norms[a][0] for a in ACTIVATIONS}
    say(
        "\nFrom the last hidden layer back to the first the gradient shrinks by "
        + ", ".join(f"{r:.2g}x ({a})" for a, r in ratio.items())
        + ": each sigmoid multiplies it by at most 1/4, so the layers near the input barely learn."
    )

    steps = 10 if quick else 30
    say(
        f"\nPart 2: dying ReLU. MLP(2, [16, 16, 1]) on 60 moons: one SGD step at lr 10 (far too "
        f"large), then {steps} steps at lr 0.2."
    )
    dying = {act: dying_relu(act, steps) for act in progress(("relu", "leaky_relu"), "dying ReLU")}
    report_dying(dying, steps)

    d = output_dir(out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for act in ACTIVATIONS:
        ax.plot(range(1, depth + 1), norms[act], "o-", label=act)
    ax.set(
        yscale="log",
        xlabel="hidden layer (1 = next to the input)",
        ylabel="|gradient of the weights|",
        title=f"gradient norm per layer, {depth} layers of 8",
    )
    ax.legend()
    files = [save_figure(fig, d / "vanishing_gradients.png"), fading_chain(d)]
    draw_dying(dying, steps, d / "dying_relu.png")
    files.append(d / "dying_relu.png")
    wrote(files)
    return {"norms": norms, "dying": dying, "files": files}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Vanishing gradients in deep nets, and dying ReLU.", argv)


if __name__ == "__main__":
    main()
