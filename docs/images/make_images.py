"""Render the README's diagrams into docs/images/ (run from the repository root).

    python docs/images/make_images.py

Needs Graphviz's dot and, for the stepper screenshot, /usr/bin/chromium and
/usr/bin/chromedriver (as the tests do).
"""
import random
import sys
import tempfile
from pathlib import Path

from micrograd.engine import Value
from micrograd.viz import backprop_html, save_graph

HERE = Path(__file__).resolve().parent


def neuron():
    """micrograd's two-input tanh neuron."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1; x1w1.label = "x1*w1"
    x2w2 = x2 * w2; x2w2.label = "x2*w2"
    s = x1w1 + x2w2; s.label = "x1*w1 + x2*w2"
    n = s + b; n.label = "n"
    o = n.tanh(); o.label = "o"
    return o


def deep_sigmoid(depth=8, width=2, seed=0):
    """depth fully connected sigmoid layers of `width` units: the gradient fades toward the inputs."""
    rng = random.Random(seed)
    h = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(width)]
    for layer in range(1, depth + 1):
        h = [sum((Value(rng.uniform(-1, 1)) * x for x in h), Value(0.0)).sigmoid() for _ in range(width)]
        for j, v in enumerate(h):
            v.label = f"h{layer}.{j}"
    out = sum(h)
    out.label = "out"
    return out


def main():
    o = neuron()
    o.backward()
    save_graph(o, HERE / "neuron.svg")
    out = deep_sigmoid()
    out.backward()
    save_graph(out, HERE / "deep_sigmoid_grad.svg", color_by="grad", rankdir="TB")

    sys.path.insert(0, str(HERE.parents[1] / "tests"))
    from browser import start_chromium
    from selenium.webdriver.common.by import By
    with tempfile.TemporaryDirectory() as tmp:
        page = backprop_html(neuron(), Path(tmp) / "stepper.html")
        driver = start_chromium(Path(tmp) / "profile")
        try:
            driver.set_window_size(1300, 640)
            driver.get(page.as_uri())
            for _ in range(6):  # the step that sends n's gradient to x1*w1 + x2*w2 ... through to x1
                driver.find_element(By.ID, "next").click()
            driver.save_screenshot(str(HERE / "backprop_stepper.png"))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
