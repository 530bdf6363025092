"""micrograd compatibility: micrograd's demo training loop (demo.ipynb) runs unchanged on
``micrograd.engine`` / ``micrograd.nn``, separates make_moons, and gives the numbers of Karpathy's
original code (tests/reference_micrograd.py): the same weights after random.seed(1337), the same
loss and gradients, the same weights after training steps."""

import contextlib
import gc
import random
import types

import numpy as np
import pytest

import micrograd.engine
import micrograd.nn
from micrograd.data import make_moons
from tests import reference_micrograd

OURS = (micrograd.engine, micrograd.nn)
KARPATHY = (types.SimpleNamespace(Value=reference_micrograd.Value), reference_micrograd)
X, y = make_moons(n_samples=100, noise=0.1, rng=0)
y = y * 2 - 1  # make y be -1 or 1, as the demo does


def micrograd_demo(engine, nn, steps=100):
    """The demo notebook's cells, verbatim but for print -> yield (the caller may stop early)."""
    Value, MLP = engine.Value, nn.MLP
    np.random.seed(1337)
    random.seed(1337)
    model = MLP(2, [16, 16, 1])  # 2-layer neural network

    # loss function
    def loss(batch_size=None):

        # inline DataLoader :)
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(map(Value, xrow)) for xrow in Xb]

        # forward the model to get scores
        scores = list(map(model, inputs))

        # svm "max-margin" loss
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        # L2 regularization
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss

        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    # optimization
    for k in range(steps):
        # forward
        total_loss, acc = loss()

        # backward
        model.zero_grad()
        total_loss.backward()

        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad

        yield k, total_loss.data, acc, model


@contextlib.contextmanager
def no_gc():
    """Value graphs hold no reference cycles; cyclic collections only cost time (about 3x on the demo)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_same_weights_and_repr_after_seed_1337():
    random.seed(1337)
    ours = micrograd.nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    theirs = reference_micrograd.MLP(2, [16, 16, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)


def test_same_loss_gradients_and_weights_as_karpathys_code():
    with no_gc():
        for (k, loss_a, acc_a, ours), (_, loss_b, acc_b, theirs) in zip(
            micrograd_demo(*OURS, steps=3), micrograd_demo(*KARPATHY, steps=3)
        ):
            assert loss_a == pytest.approx(loss_b, rel=1e-12, abs=0) and acc_a == acc_b
            for attr in ("grad", "data"):  # the gradients of this step, the weights after its update
                a, b = ([getattr(p, attr) for p in m.parameters()] for m in (ours, theirs))
                assert np.allclose(a, b, rtol=1e-12, atol=1e-300), (k, attr)


@pytest.mark.slow
def test_demo_training_loop_separates_the_moons():
    """Within the demo's 100 steps the training accuracy reaches 100% (we stop there to save time)."""
    history = []
    with no_gc():
        for k, loss, acc, _ in micrograd_demo(*OURS):
            history.append((k, loss, acc))
            if acc == 1.0:
                break
    assert history[-1][2] == 1.0, history[::10]
    assert history[-1][1] < 0.1 * history[0][1]
