"""Demo: handwritten digits, an MLP trained on the compiled path.

The UCI 8x8 digits (1,797 images, shipped with the package), pixels scaled to
[0, 1], 75% / 25% train / held-out split (seeded). MLP(64, [32, 10]) with ReLU
and He init, softmax cross-entropy, Adam (lr 0.01), mini-batches of 64, 20
epochs (5 with ``quick``), trained by ``micrograd.compile(model).fit``; the
held-out accuracy reaches 95% or more. Before training, a few Value-path steps
(2, 1 with ``quick``) on a copy of the network are timed to estimate how long
the Value path would take for the same training, and the first batch's loss
from both paths is compared. Writes ``digits_misclassified.png``.

``run`` returns {'test_accuracy', 'train_accuracy', 'losses', 'compiled_seconds',
'value_seconds_estimate', 'loss_diff', 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import load_digits, train_test_split
from micrograd.demos._common import Timer, demo_main, duration, output_dir, progress, pyplot, save_figure, say, wrote

SEED = 0
LR, BATCH = 1e-2, 64


def make_model() -> nn.MLP:
    return nn.MLP(64, [32, 10], init="he", rng=SEED)


def time_value_steps(X: np.ndarray, y: np.ndarray, n_steps: int) -> tuple:
    """Seconds per Value-path training step (batch of 64) on a copy of the network, and its first loss."""
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=LR)
    first = None
    with Timer() as t:
        for s in progress(range(n_steps), "timing Value-path steps", n_steps):
            rows = slice(s * BATCH, (s + 1) * BATCH)
            loss = losses.batch_loss(losses.cross_entropy, [model(r) for r in X[rows].tolist()], y[rows].tolist())
            model.zero_grad()
            loss.backward()
            opt.step()
            first = loss.data if first is None else first
    return t.seconds / n_steps, first


def draw_misclassified(X: np.ndarray, y: np.ndarray, pred: np.ndarray, path) -> None:
    plt = pyplot()
    all_wrong = np.flatnonzero(pred != y)
    wrong = all_wrong[:24]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.35), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{y[i]} -> {pred[i]}", fontsize=9, color="C3")
    shown = f"{len(wrong)} of them shown, " if len(wrong) < len(all_wrong) else ""
    fig.suptitle(
        f"the {len(all_wrong)} of {len(y)} held-out digits the network got wrong ({shown}true -> predicted)",
        fontsize=10,
    )
    save_figure(fig, path)


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    epochs, value_steps = (5, 1) if quick else (20, 2)
    X, y = load_digits()
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_fraction=0.25, rng=SEED)
    say(
        f"8x8 handwritten digits: {len(Xtr)} for training, {len(Xte)} held out. "
        f"MLP(64, [32, 10]), softmax cross-entropy, Adam lr {LR}, batches of {BATCH}, {epochs} epochs.\n"
    )
    value_step_s, value_first_loss = time_value_steps(Xtr, ytr, value_steps)

    model = make_model()
    with Timer() as t_compile:
        cm = micrograd.compile(model)
        first_loss, _ = cm.loss_and_grad(Xtr[:BATCH], ytr[:BATCH], loss="cross_entropy")  # compiles the kernels
    opt = optim.Adam(model.parameters(), lr=LR)
    gen = np.random.default_rng(SEED)
    history, seconds = [], 0.0
    bar = progress(range(epochs), "compiled training", epochs)
    for epoch in bar:
        with Timer() as t:
            h = cm.fit(Xtr, ytr, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=BATCH, rng=gen)
        seconds += t.seconds if epoch > 0 else 0.0  # the first epoch compiles the training loop
        history.extend(h.tolist())
        bar.note(f"loss {h.mean():.4f}")
    steps_per_epoch = len(history) // epochs
    timed_steps = steps_per_epoch * (epochs - 1)
    per_step = seconds / max(timed_steps, 1)
    pred_te, pred_tr = cm(Xte).argmax(axis=1), cm(Xtr).argmax(axis=1)
    test_acc, train_acc = float(np.mean(pred_te == yte)), float(np.mean(pred_tr == ytr))
    total_steps = len(history)
    value_estimate = value_step_s * total_steps

    say(
        f"First batch loss: Value path {value_first_loss:.15f}, compiled {first_loss:.15f} "
        f"(difference {abs(value_first_loss - first_loss):.1e})."
    )
    say(
        "Loss per epoch: "
        + " ".join(f"{np.mean(history[e * steps_per_epoch : (e + 1) * steps_per_epoch]):.3f}" for e in range(epochs))
    )
    say(f"Accuracy: {train_acc:.1%} on the training set, {test_acc:.1%} on {len(Xte)} held-out digits.")
    say(
        f"Time for {total_steps} steps: compiled {per_step * total_steps:.3f} s ({per_step * 1e6:.0f} us/step, "
        f"measured after the first epoch; compiling took {t_compile.seconds:.2f} s). The Value path takes "
        f"{value_step_s:.2f} s per step (measured on {value_steps}), so about {duration(value_estimate)} "
        f"for the same training: {value_step_s / per_step:,.0f}x slower."
    )

    path = output_dir(out) / "digits_misclassified.png"
    draw_misclassified(Xte, yte, pred_te, path)
    wrote([path])
    return {
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "losses": history,
        "compiled_seconds": per_step * total_steps,
        "value_seconds_estimate": value_estimate,
        "loss_diff": abs(value_first_loss - first_loss),
        "files": [path],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Handwritten digits on the compiled path, with the Value path's time estimated.", argv)


if __name__ == "__main__":
    main()
