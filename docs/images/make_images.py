"""Render the README's diagrams into docs/images/ (run from the repository root).

    python docs/images/make_images.py

Needs Graphviz's dot and, for the stepper screenshot, /usr/bin/chromium and
/usr/bin/chromedriver (as the tests do).
"""

import sys
import tempfile
from pathlib import Path

from micrograd.viz import backprop_html, save_graph
from micrograd.viz.examples import deep_sigmoid, tanh_neuron

HERE = Path(__file__).resolve().parent


def main():
    o = tanh_neuron()
    o.backward()
    save_graph(o, HERE / "neuron.svg")
    out = deep_sigmoid()
    out.backward()
    save_graph(out, HERE / "deep_sigmoid_grad.svg", color_by="grad", rankdir="TB")

    sys.path.insert(0, str(HERE.parents[1] / "tests"))
    from browser import start_chromium
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        page = backprop_html(tanh_neuron(), Path(tmp) / "stepper.html")
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
