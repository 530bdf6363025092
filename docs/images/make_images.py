"""Render the README's diagrams into docs/images/ (run from the repository root).

    PYTHONPATH=. python docs/images/make_images.py

Needs Graphviz's dot and, for the screenshots, Chromium and ChromeDriver on PATH (as the tests do):
the backprop stepper (backprop_stepper.png, demo-backprop_stepper.png) and the training replay of the
moons demo (training_page.png).
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np

import micrograd
from micrograd import nn, optim
from micrograd.data import make_moons
from micrograd.viz import backprop_html, record_fit, save_graph, training_html
from micrograd.viz.examples import deep_sigmoid, tanh_neuron
from tests.browser import start_chromium

HERE = Path(__file__).resolve().parent


def main():
    o = tanh_neuron()
    o.backward()
    save_graph(o, HERE / "neuron.svg")
    out = deep_sigmoid()
    out.backward()
    save_graph(out, HERE / "deep_sigmoid_grad.svg", color_by="grad", rankdir="TB")

    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        page = backprop_html(tanh_neuron(), Path(tmp) / "stepper.html")
        X, y = make_moons(100, noise=0.1, rng=0, labels="pm1")
        model = nn.MLP(2, [16, 16, 1], rng=1337)
        record = record_fit(
            micrograd.compile(model),
            X,
            y,
            loss="hinge",
            optimizer=optim.SGD(model.parameters(), lr=0.5),
            epochs=50,
            batch_size=20,
            rng=np.random.default_rng(0),
        )
        training = training_html(record, Path(tmp) / "training.html")
        driver = start_chromium(Path(tmp) / "profile")
        try:
            driver.set_window_size(1300, 640)
            driver.get(page.as_uri())
            for _ in range(3):  # n's gradient flows to x1*w1 + x2*w2 and b
                driver.find_element(By.ID, "next").click()
            driver.save_screenshot(str(HERE / "backprop_stepper.png"))
            shutil.copy(HERE / "backprop_stepper.png", HERE / "demo-backprop_stepper.png")
            driver.set_window_size(1300, 800)
            driver.get(training.as_uri())
            driver.find_element(By.TAG_NAME, "body").send_keys("\ue010")  # End: the last frame
            driver.save_screenshot(str(HERE / "training_page.png"))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
