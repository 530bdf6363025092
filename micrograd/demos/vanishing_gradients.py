"""Demo: vanishing gradients in deep networks, and dying ReLU.

Part 1: MLP(8, [8]*10 + [1]) (10 hidden layers of 8; 6 with ``quick``),
Xavier init, with sigmoid, tanh and ReLU; one backward pass of the mean
squared output over 16 random inputs; the norm of each layer's weight
gradients in a table and a plot (``vanishing_gradients.png``). sigmoid's
derivative is at most 1/4, so its gradients shrink layer after layer towards
the input. ``vanishing_graph.svg``: a chain of 6 one-neuron sigmoid layers
drawn with gradient colours, where the fading is visible.
Part 2: dying ReLU. The same MLP(2, [16, 16, 1]) with ReLU and with leaky ReLU
(slope 0.1) takes one SGD step with a far too large learning rate (10) on 60
moons, then trains 30 steps (10 with ``quick``) at lr 0.2. A ReLU unit whose
input is negative for every example outputs 0 and gets exactly zero gradient:
it is dead and stays dead. Leaky ReLU units keep a gradient.

``run`` returns {'norms': {act: [per-layer norm, input side first]}, 'dying': {act: {...}}, 'files'}.
"""
from __future__ import annotations

import math
import random
from typing import Optional, Sequence

from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.demos._common import demo_main, output_dir, progress, pyplot, save_figure, save_graph, wrote

SEED = 1
ACTIVATIONS = ("sigmoid", "tanh", "relu")


def layer_gradient_norms(activation: str, depth: int, rng: random.Random) -> list:
    """sqrt(sum of squared weight gradients) of each hidden layer, input side first."""
    model = nn.MLP(8, [8] * depth + [1], activation=activation, init="xavier", rng=SEED)
    inputs = [[rng.gauss(0, 1) for _ in range(8)] for _ in range(16)]
    loss = losses.mean([model(x) ** 2 for x in inputs])
    model.zero_grad()
    loss.backward()
    return [math.sqrt(sum(p.grad ** 2 for n in layer.neurons for p in n.w)) for layer in model.layers[:-1]]


def fading_chain(out_dir):
    """A chain of one-neuron sigmoid layers, drawn with gradient colours."""
    model = nn.MLP(1, [1] * 6, activation="sigmoid", rng=SEED)
    y = model([1.0])
    y.backward()
    return save_graph(y, out_dir / "vanishing_graph.svg", color_by="grad")


def _units(model, X) -> list:
    """Per hidden layer, per unit: True if its pre-activation is <= 0 for every row of X."""
    inactive = [[True] * len(layer.neurons) for layer in model.layers[:-1]]
    for row in X:
        x = row
        for i, layer in enumerate(model.layers[:-1]):
            x = layer(x)
            for j, n in enumerate(layer.neurons):
                act = n._last_io[1][0]._children[0]  # the neuron's w.x + b, before the nonlinearity
                inactive[i][j] = inactive[i][j] and act.data <= 0.0
    return inactive


def _train(model, X, y, lr: float, steps: int) -> float:
    opt = optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = losses.batch_loss(losses.hinge, [model(r) for r in X], y)
        model.zero_grad()
        loss.backward()
        opt.step()
    return loss.data


def dying_relu(activation: str, steps: int) -> dict:
    Xa, ya = make_moons(60, noise=0.1, rng=0, labels="pm1")
    X, y = Xa.tolist(), ya.tolist()
    model = nn.MLP(2, [16, 16, 1], activation=activation, negative_slope=0.1, init="he", rng=SEED)
    _train(model, X, y, lr=10.0, steps=1)
    after_big = _units(model, X)
    loss = losses.batch_loss(losses.hinge, [model(r) for r in X], y)
    model.zero_grad()
    loss.backward()
    # a unit with zero gradient on every weight, over the whole data set, can never change again
    no_grad = [[all(p.grad == 0.0 for p in n.w + [n.b]) for n in layer.neurons] for layer in model.layers[:-1]]
    final = _train(model, X, y, lr=0.2, steps=steps)
    accuracy = sum((model(r).data > 0) == (t > 0) for r, t in zip(X, y)) / len(y)
    count = lambda flags: sum(map(sum, flags))  # noqa: E731
    return {"inactive_after_big_step": count(after_big), "zero_grad_units": count(no_grad),
            "inactive_after_training": count(_units(model, X)), "loss": final, "accuracy": accuracy}


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    depth = 6 if quick else 10
    rng = random.Random(SEED)
    print(f"Part 1: MLP(8, [8]*{depth} + [1]), Xavier init, one backward pass over 16 random inputs.")
    norms = {act: layer_gradient_norms(act, depth, rng) for act in progress(ACTIVATIONS, "networks")}
    print(f"\n{'layer':>5} " + " ".join(f"{a:>10}" for a in ACTIVATIONS) + "   (norm of the layer's weight gradients)")
    for i in range(depth):
        print(f"{i + 1:>5} " + " ".join(f"{norms[a][i]:>10.2e}" for a in ACTIVATIONS))
    ratio = {a: norms[a][-1] / norms[a][0] for a in ACTIVATIONS}
    print("\nFrom the last hidden layer back to the first the gradient shrinks by "
          + ", ".join(f"{r:.2g}x ({a})" for a, r in ratio.items())
          + ": each sigmoid multiplies it by at most 1/4, so the layers near the input barely learn.")

    steps = 10 if quick else 30
    print(f"\nPart 2: dying ReLU. MLP(2, [16, 16, 1]) on 60 moons: one SGD step at lr 10 (far too large), "
          f"then {steps} steps at lr 0.2.")
    dying = {act: dying_relu(act, steps) for act in progress(("relu", "leaky_relu"), "dying ReLU")}
    print(f"{'':<11} {'inactive units':>15} {'zero-gradient':>14} {'inactive after':>15} {'final':>7} {'train':>6}")
    print(f"{'':<11} {'after the step':>15} {'units':>14} {'training':>15} {'loss':>7} {'acc.':>6}")
    for act, d in dying.items():
        print(f"{act:<11} {d['inactive_after_big_step']:>12}/32 {d['zero_grad_units']:>11}/32 "
              f"{d['inactive_after_training']:>12}/32 {d['loss']:>7.3f} {d['accuracy']:>6.0%}")
    print("A ReLU unit that is negative for every example outputs 0 and gets no gradient: it is dead for good. "
          "Leaky ReLU passes 0.1 of the gradient, so no unit is ever stuck.")

    d = output_dir(out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for act in ACTIVATIONS:
        ax.plot(range(1, depth + 1), norms[act], "o-", label=act)
    ax.set(yscale="log", xlabel="hidden layer (1 = next to the input)", ylabel="|gradient of the weights|",
           title=f"gradient norm per layer, {depth} layers of 8")
    ax.legend()
    files = [save_figure(fig, d / "vanishing_gradients.png"), fading_chain(d)]
    wrote(files)
    return {"norms": norms, "dying": dying, "files": files}


def main(argv: Optional[Sequence[str]] = None) -> dict:
    return demo_main(run, "Vanishing gradients in deep nets, and dying ReLU.", argv)


if __name__ == "__main__":
    main()
