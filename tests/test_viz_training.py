"""The training replay: record_fit is exactly one fit, its frames agree with independent oracles,
and the page shows every frame's numbers in a real browser.

Oracles: one ``cm.fit(epochs=E)`` with a Generator in the same state (the same training, bit for
bit); the Value path for the loss and the per-layer gradient norms of a frame; the Value path's
forward pass for the decision-boundary grid. The browser test drives headless Debian Chromium
(tests/browser.py) through the slider, the arrow keys and Play, and reads the numbers and the
colours the page draws.
"""

import math
import warnings

import numpy as np
import pytest

import micrograd
from micrograd import losses, nn, optim
from micrograd.data import make_moons
from micrograd.training import DivergedError
from micrograd.viz import TrainingRecord, record_fit, training_html
from micrograd.viz.training import group_norms, loss_scale, script_json

EPOCHS, BATCH = 6, 16


def model_and_data():
    X, y = make_moons(40, noise=0.1, rng=3, labels="pm1")
    return nn.MLP(2, [8, 1], rng=5), X, y


def recorded(every=1, title="moons"):
    model, X, y = model_and_data()
    start = model.state_dict()
    cm = micrograd.compile(model)
    record = record_fit(
        cm,
        X,
        y,
        loss="hinge",
        optimizer=optim.Adam(model.parameters(), lr=0.05),
        epochs=EPOCHS,
        every=every,
        batch_size=BATCH,
        l2=1e-3,
        rng=np.random.default_rng(7),
        grid=12,
        title=title,
    )
    return model, cm, X, y, start, record


def test_record_fit_is_one_fit_with_the_same_generator():
    model, cm, X, y, start, record = recorded()
    trained = np.array([p.data for p in model.parameters()])
    model.load_state_dict(start)
    cm.sync_from_model()
    one = cm.fit(
        X,
        y,
        loss="hinge",
        optimizer=optim.Adam(model.parameters(), lr=0.05),
        epochs=EPOCHS,
        batch_size=BATCH,
        l2=1e-3,
        rng=np.random.default_rng(7),
    )
    assert record.history == one.tolist()  # the same shuffles and steps, bit for bit
    assert np.array_equal(trained, [p.data for p in model.parameters()])
    assert len(record.history) == EPOCHS * math.ceil(len(X) / BATCH)
    assert [f.epoch for f in record.frames] == list(range(EPOCHS + 1))
    assert [f.step for f in record.frames] == [e * math.ceil(len(X) / BATCH) for e in range(EPOCHS + 1)]


def test_every_records_every_kth_epoch_and_the_last():
    *_, record = recorded(every=4)
    assert [f.epoch for f in record.frames] == [0, 4, 6]


def value_path_frame(model, X, y, l2):
    """Full-data loss and per-layer gradient norms on the Value path, from the model's weights."""
    loss = losses.batch_loss(losses.hinge, [model(x) for x in X.tolist()], y.tolist()) + losses.l2(
        model.parameters(), l2
    )
    model.zero_grad()
    loss.backward()
    norms = [math.sqrt(sum(p.grad**2 for p in layer.parameters())) for layer in model.layers]
    return loss.data, norms


def test_a_frame_matches_the_value_path():
    model, cm, X, y, start, record = recorded()
    last = record.frames[-1]  # the model holds the last frame's weights
    loss, norms = value_path_frame(model, X, y, 1e-3)
    assert last.loss == pytest.approx(loss, rel=1e-12)
    assert last.grad_norms == pytest.approx(norms, rel=1e-10)
    model.load_state_dict(start)
    loss0, norms0 = value_path_frame(model, X, y, 1e-3)
    assert record.frames[0].loss == pytest.approx(loss0, rel=1e-12)
    assert record.frames[0].grad_norms == pytest.approx(norms0, rel=1e-10)
    assert record.layers == [
        "layers.0: Layer(2 -> 8, relu, 24 parameters)",
        "layers.1: Layer(8 -> 1, linear, 9 parameters)",
    ]


def test_the_grid_holds_the_model_outputs():
    model, cm, X, y, start, record = recorded()
    gx, gy = record.grid_x, record.grid_y
    assert len(gx) == len(gy) == 12 and gx[0] < X[:, 0].min() and gy[-1] > X[:, 1].max()
    out = record.frames[-1].outputs
    for i, j in [(0, 0), (3, 7), (11, 11), (6, 2)]:
        want = model([gx[j], gy[i]]).data  # row i is grid_y[i], column j is grid_x[j]
        assert out[i * len(gx) + j] == pytest.approx(want, rel=1e-3, abs=1e-4)  # stored to 4 digits


def test_json_in_the_page_cannot_close_the_script():
    text = script_json({"t": "</script><b>&amp;", "bad": [float("nan"), float("inf"), 1.5]})
    assert "<" not in text and ">" not in text and "&" not in text
    import json

    assert json.loads(text) == {"t": "</script><b>&amp;", "bad": [None, None, 1.5]}


def test_training_html_refuses_what_is_not_a_record(tmp_path):
    with pytest.raises(TypeError, match="TrainingRecord that record_fit returns"):
        training_html({"frames": []}, tmp_path / "x.html")
    with pytest.raises(ValueError, match="every must be >= 1"):
        record_fit(None, np.zeros((2, 2)), np.ones(2), epochs=2, every=0)
    with pytest.raises(TypeError, match="callbacks would start afresh"):
        record_fit(None, np.zeros((2, 2)), np.ones(2), epochs=2, callbacks=[print])


def diverging_record():
    """mse on targets of 1e3 with SGD(lr=1.0): record_fit raises in its third epoch or so."""
    model, X, _ = model_and_data()
    y = 1e3 * X[:, 0]
    start = model.state_dict()
    cm = micrograd.compile(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning
        with pytest.raises(DivergedError) as info:
            record_fit(cm, X, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=1.0), epochs=50,
                       batch_size=BATCH, rng=np.random.default_rng(7), grid=6)  # fmt: skip
    return model, cm, X, y, start, info.value


def test_record_fit_of_a_diverging_run_raises_what_fit_raises_with_the_record(tmp_path):
    model, cm, X, y, start, err = diverging_record()
    kept = [p.data for p in model.parameters()]
    model.load_state_dict(start)
    with pytest.raises(DivergedError) as one:  # one fit with a Generator in the same state
        cm.fit(X, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=1.0), epochs=50, batch_size=BATCH,
               rng=np.random.default_rng(7))  # fmt: skip
    assert (err.step, err.epoch, err.lr) == (one.value.step, one.value.epoch, 1.0) and err.step > 3
    np.testing.assert_array_equal(err.history, one.value.history)
    assert [p.data for p in model.parameters()] == kept
    record = err.record
    assert record.history == err.history.tolist() and (err.gradient or not math.isfinite(record.history[-1]))
    assert record.extra["diverged"] == {"step": err.step, "what": "gradient" if err.gradient else "loss"}
    assert record.frames[-1].step == err.step and record.frames[-1].epoch == err.epoch
    assert f"step {err.step} (epoch {err.epoch}" in str(err)
    text = training_html(record, tmp_path / "diverged.html").read_text()
    assert '"log_scale":true' in text


def test_loss_scale_is_log_beyond_three_decades_of_finite_positive_losses():
    assert loss_scale([1.0, 0.5, 0.2]) == "linear" and loss_scale([1.0, 1e-4]) == "log"
    assert loss_scale([1.0, 2.0, math.inf, math.nan]) == "linear" and loss_scale([1.0, 1e300, math.inf]) == "log"
    assert loss_scale([1.0, 0.0, 1e6]) == "linear" and loss_scale([]) == "linear"  # a zero has no logarithm
    assert loss_scale([1.0, 2.0], [1e-5]) == "log"  # several curves on one axis


def test_group_norms_of_huge_gradients_do_not_overflow():
    g = np.array([1e200, 1e200, 3.0, 4.0, math.inf, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = group_norms(g, np.array([0, 0, 1, 1, 2, 2]), 3)
    assert norms[0] == pytest.approx(math.sqrt(2) * 1e200, rel=1e-15) and norms[1] == 5.0 and norms[2] == math.inf


@pytest.mark.system
def test_diverged_page_marks_the_first_non_finite_loss_on_a_log_scale(tmp_path):
    from tests.system import require

    require("chromium", "chromedriver")
    from selenium.webdriver.common.by import By

    from tests.browser import start_chromium

    *_, err = diverging_record()
    page = training_html(err.record, tmp_path / "diverged.html")
    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        assert driver.find_element(By.ID, "loss-curve").get_attribute("data-scale") == "log"
        note = driver.find_element(By.ID, "not-finite")
        assert int(note.get_attribute("data-step")) == err.step and "diverged" in note.text
        from selenium.webdriver.common.keys import Keys

        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.END)
        last = err.record.frames[-1]
        assert float(driver.find_element(By.ID, "step").get_attribute("data-value")) == last.step
    finally:
        driver.quit()


@pytest.mark.system
def test_page_in_headless_chromium(tmp_path):
    from tests.system import require

    require("chromium", "chromedriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.browser import start_chromium

    title = "moons </script><i>&amp; co"
    *_, record = recorded(title=title)
    assert isinstance(record, TrainingRecord)
    page = training_html(record, tmp_path / "training.html")
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # offline
    assert "</script><i>" not in text
    assert 'iframe srcdoc="' in page._repr_html_()

    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        assert driver.find_element(By.TAG_NAME, "h1").text == title

        def frame():
            return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-frame"))

        def value(css):
            return float(driver.find_element(By.CSS_SELECTOR, css).get_attribute("data-value"))

        checked = 0
        for k, f in enumerate(record.frames):  # every frame through the slider
            driver.execute_script(
                "const s = document.getElementById('slider'); s.value = arguments[0];"
                "s.dispatchEvent(new Event('input'));",
                k,
            )
            assert frame() == k
            assert value("#loss") == f.loss and value("#epoch") == f.epoch and value("#step") == f.step
            for i, norm in enumerate(f.grad_norms):
                assert value(f"td.norm[data-layer='{i}']") == norm
            # the boundary: a cell's colour says the sign of the recorded output there
            for i, j in [(0, 0), (5, 5), (11, 3), (2, 10)]:
                r, g, b = driver.execute_script(
                    "const [x, y, w, h] = cellRect(arguments[0], arguments[1]);"
                    "const d = document.getElementById('boundary').getContext('2d')"
                    ".getImageData(Math.floor(x + w / 2), Math.floor(y + h / 2), 1, 1).data;"
                    "return [d[0], d[1], d[2]];",
                    i,
                    j,
                )
                out = f.outputs[i * len(record.grid_x) + j]
                if abs(out) > 0.05 and not near_a_point(record, i, j):
                    assert (r > b) == (out > 0), (k, i, j, out, (r, g, b))
                    checked += 1
        assert checked >= len(record.frames) * 2  # most probed cells are clear of points and the boundary
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.HOME)
        assert frame() == 0
        body.send_keys(Keys.ARROW_RIGHT)
        body.send_keys(Keys.ARROW_RIGHT)
        assert frame() == 2
        body.send_keys(Keys.ARROW_LEFT)
        assert frame() == 1 and value("#loss") == record.frames[1].loss
        body.send_keys(Keys.END)
        assert frame() == len(record.frames) - 1
        driver.find_element(By.ID, "play").click()  # at the end, Play starts again from frame 0
        from selenium.webdriver.support.ui import WebDriverWait

        # it stops by itself one tick after the last frame: Play again
        WebDriverWait(driver, 10).until(
            lambda d: frame() == len(record.frames) - 1 and d.find_element(By.ID, "play").text == "Play"
        )
        driver.save_screenshot(str(tmp_path / "training.png"))
    finally:
        driver.quit()


def near_a_point(record, i, j) -> bool:
    """True if a data point is drawn over cell (i, j)'s centre (its colour is the point's)."""
    gx, gy = record.grid_x, record.grid_y
    cx, cy = gx[j], gy[i]
    dx, dy = (gx[-1] - gx[0]) / len(gx), (gy[-1] - gy[0]) / len(gy)
    return any(abs(x - cx) < dx and abs(y - cy) < dy for x, y in record.X)


@pytest.mark.system
def test_multiclass_page_paints_the_predicted_class(tmp_path):
    from tests.system import require

    require("chromium", "chromedriver")
    from micrograd.data import make_blobs
    from tests.browser import start_chromium

    X, y = make_blobs(60, centers=3, rng=2)
    model = nn.MLP(2, [8, 3], rng=4)
    cm = micrograd.compile(model)
    record = record_fit(
        cm, X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=3, grid=10
    )
    final = record.frames[-1].outputs
    assert (
        final == np.argmax(cm(np.array([[gx, gy] for gy in record.grid_y for gx in record.grid_x])), axis=1).tolist()
    )  # the grid holds each point's predicted class
    page = training_html(record, tmp_path / "classes.html")
    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        driver.execute_script(
            "const s = document.getElementById('slider'); s.value = arguments[0];s.dispatchEvent(new Event('input'));",
            len(record.frames) - 1,
        )
        fills = driver.execute_script("return CLASS_FILL")
        cells = [(i, j) for i, j in [(0, 0), (4, 6), (9, 9), (7, 1), (2, 5)] if not near_a_point(record, i, j)]
        assert len(cells) >= 3
        for i, j in cells:
            rgb = driver.execute_script(
                "const [x, y, w, h] = cellRect(arguments[0], arguments[1]);"
                "const d = document.getElementById('boundary').getContext('2d')"
                ".getImageData(Math.floor(x + w / 2), Math.floor(y + h / 2), 1, 1).data;"
                "return [d[0], d[1], d[2]];",
                i,
                j,
            )
            want = fills[int(final[i * len(record.grid_x) + j])]
            assert rgb == [int(want[k : k + 2], 16) for k in (1, 3, 5)], (i, j)
    finally:
        driver.quit()


@pytest.mark.system
def test_page_and_picture_give_each_class_one_colour(tmp_path, monkeypatch):
    """The moons demo's boundary picture and the replay page draw a point of each class in one colour:
    each point's pixel on the page's canvas is the colour of that point in the picture."""
    from matplotlib.colors import to_hex

    from micrograd.demos import moons
    from tests.browser import start_chromium

    model, X, y = model_and_data()
    cm = micrograd.compile(model)
    record = record_fit(cm, X, y, loss="hinge", optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, grid=12)
    figures = []
    monkeypatch.setattr(moons, "save_figure", lambda fig, path: figures.append(fig))
    moons.draw_boundary(cm, X, y, tmp_path / "boundary.png")
    figures[0].canvas.draw()  # colours given as numbers through a colormap are resolved when drawn
    (points,) = [c for c in figures[0].axes[0].collections if len(c.get_offsets()) == len(X)]
    drawn = [to_hex(c) for c in points.get_facecolors()]
    page = training_html(record, tmp_path / "training.html")
    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        pixels = driver.execute_script(
            "return R.X.map(p => { const [x, y] = toPx(p[0], p[1]);"
            "return [...document.getElementById('boundary').getContext('2d')"
            ".getImageData(Math.round(x), Math.round(y), 1, 1).data].slice(0, 3); });"
        )
    finally:
        driver.quit()
    clear = 0
    for k, (rgb, want) in enumerate(zip(pixels, drawn)):
        others = [j for j in range(len(X)) if j != k and np.hypot(*(X[j] - X[k])) < 0.15]  # points drawn over it
        if others:
            continue
        assert "#" + "".join(f"{c:02x}" for c in rgb) == want, (k, y[k], rgb, want)
        clear += 1
    assert clear >= 10
    classes = {drawn[k] for k in np.flatnonzero(y > 0)}, {drawn[k] for k in np.flatnonzero(y < 0)}
    assert len(classes[0]) == len(classes[1]) == 1 and classes[0] != classes[1]
