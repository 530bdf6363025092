"""Demo: house prices, a linear layer trained with MSE and SGD on the Value path.

A synthetic, seeded housing table (``micrograd.data.make_house_prices``: area,
age, rooms, ... 10 features, prices made by a known linear model plus noise).
The features are standardized, a ``Layer(10, 1, nonlin=False)`` predicts the
price, the loss is the mean squared error and ``optim.SGD`` (lr 0.1, full
batch) updates the weights. The first step is narrated in words (forward pass,
loss, backward pass checked against the closed form, update); then 100 steps
(50 with ``quick``) train, and the learned weights, turned back into raw units,
are compared with the true ones. Writes ``house_prices.png``.

``run`` returns {'losses', 'learned', 'true', 'bias', 'true_bias', 'names', 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from micrograd import losses, nn, optim
from micrograd.data import make_house_prices, standardize
from micrograd.demos._common import demo_main, output_dir, progress, pyplot, save_figure, say, wrote

SEED = 7
LR = 0.1


def _loss(model: nn.Layer, X: np.ndarray, y: np.ndarray):
    preds = [model(row) for row in X.tolist()]
    return losses.batch_loss(losses.mse, preds, y.tolist()), preds


def narrate_first_step(model, X, y, names) -> None:
    """Say in words what one training step does, with the numbers of this data."""
    w, b = model.neurons[0].w, model.neurons[0].b
    loss, preds = _loss(model, X, y)
    say("One training step, in words:")
    say(
        f"  forward: each house's standardized features x go through price = b + sum_j w_j x_j. "
        f"House 0 ({names[0]} {X[0, 0]:+.2f}, {names[1]} {X[0, 1]:+.2f}, ...) gets {preds[0].data:.1f} "
        f"(true price {y[0]:.1f} thousand)."
    )
    say(f"  loss: the mean of (prediction - price)^2 over {len(y)} houses = {loss.data:.1f}.")
    model.zero_grad()
    loss.backward()
    residual = np.array([p.data for p in preds]) - y
    by_hand = 2.0 * residual @ X[:, 0] / len(y)  # d/dw_0 of mean((Xw + b - y)^2)
    say(
        f"  backward: loss.backward() fills every .grad; dL/dw_{names[0]} = {w[0].grad:.4f} "
        f"(by hand, 2/n * sum(residual * x) = {by_hand:.4f}), dL/db = {b.grad:.4f}."
    )
    before = w[0].data
    opt = optim.SGD(model.parameters(), lr=LR)
    opt.step()
    say(f"  update: w <- w - lr * grad, so w_{names[0]} goes {before:.4f} -> {w[0].data:.4f} (lr = {LR}).\n")


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    n, steps = (100, 50) if quick else (200, 100)
    data = make_house_prices(n=n, n_features=10, rng=SEED)
    Xs, mean, std = standardize(data.X)
    say(
        f"{n} synthetic houses with {len(data.names)} features ({', '.join(data.names)}); "
        f"prices in thousands, mean {data.y.mean():.0f}."
    )
    say("Features are standardized (mean 0, std 1) so one learning rate suits them all.\n")
    model = nn.Layer(10, 1, nonlin=False, rng=SEED)
    narrate_first_step(model, Xs, data.y, data.names)

    opt = optim.SGD(model.parameters(), lr=LR)
    history = []
    for _ in progress(range(steps), "training", steps):
        loss, _ = _loss(model, Xs, data.y)
        model.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.data)
    neuron = model.neurons[0]
    w_std = np.array([p.data for p in neuron.w])
    learned = w_std / std  # back to price per raw unit
    bias = neuron.b.data - float(learned @ mean)
    say(
        f"MSE after each 10 steps: {' '.join(f'{v:.1f}' for v in history[::10])} ... {history[-1]:.1f} "
        f"(the noise alone gives about {data.noise**2:.0f}).\n"
    )
    say(f"{'feature':<14} {'true weight':>12} {'learned':>10}")
    for name, t, got in zip(data.names, data.weights, learned):
        say(f"{name:<14} {t:>12.3f} {got:>10.3f}")
    say(f"{'bias':<14} {data.bias:>12.3f} {bias:>10.3f}")
    say(
        "\nGradient descent recovered the price per m2, per year of age, per room ... that made the data, "
        "up to the noise in the prices."
    )

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    k = np.arange(len(data.names))
    ax1.bar(k - 0.2, data.weights * std, 0.4, label="true")
    ax1.bar(k + 0.2, learned * std, 0.4, label="learned")
    ax1.set_xticks(k, data.names, rotation=40, ha="right")
    ax1.set(ylabel="price change per 1 std of the feature", title="weights: true vs learned")
    ax1.legend()
    ax2.plot(history)
    ax2.set(xlabel="step", ylabel="MSE", yscale="log", title="training loss")
    fig.tight_layout()
    path = save_figure(fig, output_dir(out) / "house_prices.png")
    wrote([path])
    return {
        "losses": history,
        "learned": learned,
        "true": data.weights,
        "bias": bias,
        "true_bias": data.bias,
        "names": data.names,
        "files": [path],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "House prices: a linear layer, MSE and SGD, narrated.", argv)


if __name__ == "__main__":
    main()
