"""The backprop stepper: its steps replay backward() exactly, and the page shows them in a real browser.

The browser test drives headless Debian Chromium (tests/browser.py): it
clicks through every step, reads the grads the page shows, and compares them
with the Value graph's grads after backward(); arrow keys and the slider are
tried once; a screenshot is saved.
"""
import math

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser import start_chromium
from micrograd.engine import Value, topological_order
from micrograd.viz import backprop_html, backprop_steps
from micrograd.viz.examples import tanh_neuron as neuron


def test_steps_follow_the_chain_rule_and_end_at_backward():
    o = neuron()
    d = backprop_steps(o)
    names = [n["name"] for n in d["nodes"]]
    steps = d["steps"]
    assert len(steps) == 2 + 5  # forward, seed, one per computed node (5 ops)
    assert steps[0]["set"] == [] and steps[1]["set"] == [[names.index("o"), 1.0]]
    assert [names[s["node"]] for s in steps[2:]] == ["o", "n", "x1*w1 + x2*w2", "x2*w2", "x1*w1"]
    tanh_line = steps[2]["lines"][0]
    assert tanh_line.startswith("n.grad += (1 - o.data²) * o.grad = 0.5 * 1.0 = 0.5")
    x1_line = steps[-1]["lines"][0]
    assert x1_line.startswith("x1.grad += w1.data * (x1*w1).grad = -3.0 * 0.5 = -1.5")
    # closed form: do/dn = 1 - tanh(n)^2 = 1/2 here; products multiply by the other factor
    dn = 1 - math.tanh(-6.0 + 6.8813735870195432) ** 2
    final = dict(zip(names, d["final"]))
    for name, want in dict(x1=-3 * dn, w1=2 * dn, x2=dn, w2=0.0, b=dn, n=dn, o=1.0).items():
        assert final[name] == pytest.approx(want, rel=1e-12)
    # and exactly the grads backward() leaves on the graph
    assert d["final"] == [v.grad for v in topological_order([o])]


def test_repeated_operand_and_unlabelled_names():
    x = Value(3.0)
    y = x * x - x / 2  # x used three times
    d = backprop_steps(y)
    mul = next(s for s in d["steps"] if s["node"] is not None and len(s["lines"]) == 2 and "*" in s["title"])
    assert len(mul["lines"]) == 2 and all(line.startswith("v0.grad += v0.data") for line in mul["lines"])
    assert d["final"][0] == 2 * 3.0 - 0.5 == x.grad


def test_custom_op_is_refused_by_name():
    a = Value(2.0)
    out = Value(a.data ** 3, (a,), "cube")
    with pytest.raises(ValueError, match="cube.*custom op"):
        backprop_steps(out)


def read_grads(driver):
    return [float(c.get_attribute("data-grad")) for c in driver.find_elements(By.CSS_SELECTOR, "td.grad")]


def test_page_in_headless_chromium(tmp_path):
    o = neuron()
    d = backprop_steps(o)
    page = backprop_html(o, tmp_path / "stepper.html")
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # no network
    want = [v.grad for v in topological_order([o])]  # after the backward() that backprop_html ran

    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        last = len(d["steps"]) - 1
        assert read_grads(driver) == [0.0] * len(want)  # step 0: the forward pass only
        nxt = driver.find_element(By.ID, "next")
        previous = read_grads(driver)
        for k in range(1, last + 1):
            nxt.click()
            assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-step") == str(k)
            grads = read_grads(driver)
            changed = {i for i, (a, b) in enumerate(zip(previous, grads)) if a != b}
            marked = {int(td.get_attribute("data-node")) for td in
                      driver.find_elements(By.CSS_SELECTOR, "tr.current td.grad, tr.operand td.grad")}
            assert changed <= marked  # only the highlighted node's operands (or the seeded root) change
            previous = grads
        assert read_grads(driver) == want  # exactly backward()'s grads
        texts = driver.find_elements(By.CSS_SELECTOR, "#graph svg text")
        svg_grads = [t.text for t in texts if t.text.startswith("grad")]
        assert sorted(svg_grads) == sorted("grad %.4f" % g for g in want)
        assert "Step %d / %d" % (last, last) == driver.find_element(By.ID, "step-label").text
        driver.save_screenshot(str(tmp_path / "stepper_last.png"))

        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.ARROW_LEFT)
        assert body.get_attribute("data-step") == str(last - 1)
        body.send_keys(Keys.ARROW_RIGHT)
        assert body.get_attribute("data-step") == str(last)
        slider = driver.find_element(By.ID, "slider")
        slider.send_keys(Keys.HOME)
        assert body.get_attribute("data-step") == "0" and read_grads(driver) == [0.0] * len(want)
        slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
        assert body.get_attribute("data-step") == "3"
        assert "x1*w1 + x2*w2).grad += 1 * n.grad" in driver.find_element(By.ID, "explain").text
        driver.save_screenshot(str(tmp_path / "stepper_step3.png"))
    finally:
        driver.quit()
    assert (tmp_path / "stepper_step3.png").stat().st_size > 10000


def test_every_op_replays_exactly():
    """One graph through every op of the table: the replay must end at backward()'s grads bit for bit."""
    a, b = Value(0.7, label="out"), Value(-1.3, label="{x}")  # names that look like grad_text placeholders
    terms = [a + b, a - b, a * b, a / b, a ** 3, (a * a) ** b, -a, a.exp(), a.log(), b.tanh(), b.sigmoid(),
             b.relu(), b.leaky_relu(0.1), b.elu(0.5), b.selu(), b.softplus(), abs(b), b.prelu(a), a.logaddexp(b)]
    root = sum(terms[1:], terms[0])
    d = backprop_steps(root)  # raises if the replay and backward() disagree
    assert d["final"] == [v.grad for v in topological_order([root])]
    lines = [line for s in d["steps"][2:] for line in s["lines"]]
    assert "out.grad += ({x}).data * " in "\n".join(lines)  # mul: d/da = b; names kept, not read as placeholders
    tanh = next(s for s in d["steps"] if s["title"].endswith("operands") and "= tanh(" in s["title"])
    assert tanh["lines"][0].startswith("({x}).grad += (1 - v%d.data²) * v%d.grad" % (tanh["node"], tanh["node"]))
