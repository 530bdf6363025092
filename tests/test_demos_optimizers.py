"""The optimizers lesson (micrograd/demos/optimizers.py): the paths it draws against the update rules written
out in NumPy (as PyTorch documents SGD, momentum, Nesterov and Adam) on the surfaces' gradients by hand, and
its text against the pictures' data. PyTorch's own optimizers, where installed, are a second oracle."""

import re

import numpy as np
import pytest

from tests.figures import keep_figures


@pytest.fixture
def figures(monkeypatch):
    yield from keep_figures(monkeypatch)


GRADS = {  # the surfaces' gradients, by hand
    "valley": lambda p: np.array([p[0], 20 * p[1]]),  # x^2/2 + 10 y^2
    "saddle": lambda p: np.array([p[0], p[1] ** 3 - p[1]]),  # x^2/2 + y^4/4 - y^2/2
}


def reference_path(surface, name: str, steps: int) -> np.ndarray:
    """torch.optim.SGD (momentum, nesterov) and torch.optim.Adam's documented updates, in NumPy."""
    lr, mu = surface.lrs[name], surface.momentum
    p, buf, m, v = np.array(surface.start), None, np.zeros(2), np.zeros(2)
    path = [p.copy()]
    for t in range(1, steps + 1):
        g = GRADS[surface.name](p)
        if name == "Adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        elif name == "SGD":
            p = p - lr * g
        else:
            buf = g if buf is None else mu * buf + g
            p = p - lr * (g + mu * buf if name == "Nesterov" else buf)
        path.append(p.copy())
    return np.array(path)


def drawn_paths(fig) -> dict:
    """{surface: {optimizer: (steps + 1, 2) path}} read from the two panels' lines."""
    out = {}
    for ax, surface in zip(fig.axes, ("valley", "saddle")):
        out[surface] = {
            line.get_label().split(" (")[0]: np.c_[line.get_xdata(), line.get_ydata()]
            for line in ax.get_lines()
            if " (lr " in line.get_label()
        }
    return out


def test_paths_follow_the_documented_updates():
    from micrograd.demos import optimizers as demo

    for s in demo.SURFACES:
        for name in demo.OPTIMIZERS:
            ours, ref = demo.descend(s, name, s.steps), reference_path(s, name, s.steps)
            assert np.allclose(ours, ref, rtol=1e-10, atol=1e-12), (s.name, name)


def test_unknown_optimizer_is_refused_by_name():
    from micrograd.demos import optimizers as demo

    with pytest.raises(KeyError, match="RMSprop.*SGD"):
        demo.make_optimizer("RMSprop", [], 0.1, 0.9)


@pytest.mark.system
def test_paths_match_pytorch():
    from tests.system import require

    torch = require("torch")
    from micrograd.demos import optimizers as demo

    for s in demo.SURFACES:
        for name in demo.OPTIMIZERS:
            p = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
            lr = s.lrs[name]
            opt = (
                torch.optim.Adam([p], lr=lr)
                if name == "Adam"
                else torch.optim.SGD(
                    [p], lr=lr, momentum=0.0 if name == "SGD" else s.momentum, nesterov=name == "Nesterov"
                )
            )
            path = [p.detach().numpy().copy()]
            for _ in range(s.steps):
                opt.zero_grad()
                s.f(p[0], p[1]).backward()
                opt.step()
                path.append(p.detach().numpy().copy())
            assert np.allclose(demo.descend(s, name, s.steps), path, rtol=1e-10, atol=1e-12), (s.name, name)


@pytest.mark.slow
def test_optimizers_demo_pictures_and_text_agree(tmp_path, capsys, figures):
    from micrograd.demos import optimizers as demo

    r = demo.run(quick=True, out=tmp_path)
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if len(line) >= 100]
    text = " ".join(out.split())
    for f in r["files"]:
        assert f.stat().st_size > 0

    paths = drawn_paths(figures["optimizers_paths.png"])
    by_name = {s.name: s for s in demo.SURFACES}
    for surface, drawn in paths.items():
        s = by_name[surface]
        assert set(drawn) == set(demo.OPTIMIZERS)
        for name, p in drawn.items():
            assert np.allclose(p, reference_path(s, name, len(p) - 1), rtol=1e-10, atol=1e-12), (surface, name)
            assert np.allclose(p[0], s.start)
    valley, saddle = paths["valley"], paths["saddle"]
    steps = len(valley["SGD"]) - 1
    crossings = {n: int(np.sum(np.sign(p[1:, 1]) != np.sign(p[:-1, 1]))) for n, p in valley.items()}
    assert f"SGD crosses the floor {crossings['SGD']} times in {steps} steps" in text
    assert f"{crossings['momentum']} crossings (Nesterov {crossings['Nesterov']})" in text
    f_end = {n: demo.valley(*p[-1]) for n, p in valley.items()}
    assert f"f = {f_end['momentum']:.1e} after {steps} steps against SGD's {f_end['SGD']:.1e}" in text
    ratio = {n: abs(p[1, 1] - p[0, 1]) / abs(p[1, 0] - p[0, 0]) for n, p in valley.items()}
    assert ratio["Adam"] == pytest.approx(1.0, abs=1e-6) and ratio["SGD"] == pytest.approx(5.0)  # 20*1 / 4
    assert f"moves y {ratio['Adam']:.2f} times as far as x, where SGD's moves it {ratio['SGD']:.2f}" in text
    for name, p in saddle.items():
        off = np.flatnonzero(np.abs(p[:, 1]) > 0.5)
        said = f"at step {off[0]}" if len(off) else f"not within {len(p) - 1} steps"
        assert re.search(rf"{name} (leaves \(\|y\| > 0\.5\) )?{said}", text), (name, said)

    # the digits: the dots are each epoch's mean of the curve drawn beside them; one start for all
    (ax,) = figures["optimizers_digits.png"].axes
    epochs = r["epochs"]
    curves, dots = {}, {}
    for line in ax.get_lines():
        if line.get_label() in demo.OPTIMIZERS:
            dots[line.get_label()] = list(line.get_ydata())
        elif len(line.get_ydata()) > epochs:
            curves[line.get_color()] = list(line.get_ydata())
    assert set(dots) == set(demo.OPTIMIZERS)
    firsts = set()
    for name, d in r["digits"].items():
        h = d["history"]
        per = len(h) // epochs
        assert dots[name] == pytest.approx([np.mean(h[e * per : (e + 1) * per]) for e in range(epochs)], rel=1e-12)
        assert any(c == h for c in curves.values()), name
        firsts.add(h[0])
    assert len(firsts) == 1 and abs(firsts.pop() - np.log(10)) < 1.0  # the same start and batch: one first loss
    final = ", ".join(f"{n} {dots[n][-1]:.3f}" for n in demo.OPTIMIZERS)
    assert f"the last epoch's mean loss is {final}" in text
