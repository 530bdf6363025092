"""The losses lesson (micrograd/demos/losses.py): its pictures and its text, read back and checked against
closed forms and a NumPy forward pass of the trained weights (independent of the Value path and the compiler)."""

import math
import re

import numpy as np
import pytest

from tests.figures import keep_figures


@pytest.fixture
def figures(monkeypatch):
    yield from keep_figures(monkeypatch)


CLOSED = {  # loss and d loss / dm of an example with margin m, by hand
    "mse": (lambda m: (1 - m) ** 2, lambda m: -2 * (1 - m)),
    "hinge": (lambda m: np.maximum(0, 1 - m), lambda m: np.where(1 - m > 0, -1.0, 0.0)),
    "bce_with_logits": (lambda m: np.log1p(np.exp(-m)), lambda m: -1 / (1 + np.exp(m))),
    "cross_entropy": (lambda m: np.log1p(np.exp(-m)), lambda m: -1 / (1 + np.exp(m))),
}


def numpy_scores(model, X):
    """The model's outputs by a NumPy forward pass of its weights (ReLU hidden layers, linear output)."""
    h = X
    for i, layer in enumerate(model.layers):
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        h = h @ W.T + np.array([n.b.data for n in layer.neurons])
        if i < len(model.layers) - 1:
            h = np.maximum(h, 0)
    return h


def test_the_curves_are_the_closed_forms():
    from micrograd.demos import losses as demo

    m = np.linspace(-3, 3, 121)
    curves = demo.margin_curves(m)
    for name, (loss, grad) in CLOSED.items():
        assert np.allclose(curves[name]["loss"], loss(m), rtol=1e-13, atol=1e-15), name
        assert np.allclose(curves[name]["grad"], grad(m), rtol=1e-13, atol=1e-15), name


def test_at_margin_refuses_an_unknown_loss():
    from micrograd.demos import losses as demo

    with pytest.raises(KeyError):
        demo.at_margin("huber", 0.5)


@pytest.mark.slow
def test_losses_demo_pictures_and_text_agree(tmp_path, capsys, figures):
    from micrograd.demos import losses as demo

    r = demo.run(quick=True, out=tmp_path)
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if len(line) >= 100]
    text = " ".join(out.split())
    X, y = r["X"], r["y"]
    assert X.shape == (100 + demo.FAR, 2) and np.all(y[-demo.FAR :] == 1)
    for f in r["files"]:
        assert f.stat().st_size > 0

    # losses_margin.png: each loss and its gradient against the margin, as the closed forms give them
    left, right = figures["losses_margin.png"].axes
    for ax, k in ((left, 0), (right, 1)):
        lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert set(lines) == set(CLOSED)
        for name, line in lines.items():
            m = np.asarray(line.get_xdata())
            assert np.allclose(line.get_ydata(), CLOSED[name][k](m), rtol=1e-13, atol=1e-15), (name, k)

    # losses_trained.png: the margins drawn are those of the trained weights, by NumPy
    fig = figures["losses_trained.png"]
    boundaries, strip = fig.axes[:4], fig.axes[4]
    rows = {}
    for c in strip.collections:
        row = int(round(c.get_offsets()[0, 1]))
        rows.setdefault(row, []).extend(np.asarray(c.get_offsets())[:, 0])
    labels = [t.get_text() for t in strip.get_yticklabels()]
    assert labels == list(demo.LOSSES)
    margins = {}
    for row, name in enumerate(labels):
        t = r["trained"][name]
        out_ = numpy_scores(t["model"], X)
        score = out_[:, 1] - out_[:, 0] if name == "cross_entropy" else out_[:, 0]
        margins[name] = y * score
        assert np.allclose(sorted(rows[row]), sorted(margins[name]), rtol=1e-9, atol=1e-9), name
        # every loss trained the same model from the same start: its first loss, by hand, at those weights
        start = numpy_scores(demo.make_model(name), X)
        s0 = start[:, 1] - start[:, 0] if name == "cross_entropy" else start[:, 0]
        first = float(np.mean(CLOSED[name][0](y * s0)))
        assert t["history"][0] == pytest.approx(first, rel=1e-12), name
        assert len(t["history"]) == r["steps"]
        acc = np.mean(margins[name] > 0)
        title = boundaries[row].get_title()
        assert title == f"{name}\n{acc:.0%} right, largest margin {margins[name].max():.2f}", title
    # the paragraph: every number from those margins
    mse, hinge, bce = margins["mse"], margins["hinge"], margins["bce_with_logits"]
    far = mse[-demo.FAR :]
    assert f"at margins {far.min():.3f} to {far.max():.3f}" in text
    past = int(np.sum(hinge >= 1))
    assert (f"all {len(X)} examples are past it" in text) if past == len(X) else (f"{past} of the {len(X)}" in text)
    assert f"median margin grew to {np.median(bce):.2f} (hinge: {np.median(hinge):.2f})" in text
    assert "the curves differ by at most 0)" in text  # cross-entropy on [m, 0] is the logistic loss, exactly
    alone = numpy_scores(r["mse_without_far"]["model"], X[: -demo.FAR])[:, 0] * y[: -demo.FAR]
    assert f"{np.mean(alone > 0):.0%} for the same training without them" in text
    right = ", ".join(f"{name} {np.mean(m > 0):.0%}" for name, m in margins.items())
    assert f"Right after training: {right}." in text
    assert math.isclose(r["trained"]["hinge"]["accuracy"], np.mean(hinge > 0))
    assert re.search(r"hinge\s+[\d.]+\s+[\d.]+\s+\d+%", out)  # the table
