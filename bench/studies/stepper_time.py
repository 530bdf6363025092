"""How the backprop stepper page scales: page size, writing it, loading it and one step, in headless Chromium.

    python -m bench.studies.stepper_time     prints a table; needs Chromium and ChromeDriver on PATH

For micrograd's demo loss (``viz.examples.mlp_hinge``) over 4, 41 and 416 samples (164, 1,496 and
14,996 Values): the page's size, the time ``backprop_html`` takes to write it, the time from
navigation to the page set up and laid out (best of 3), and the cost of a step (Right and Left
arrow keys, 60 steps each way from step 1: the key's handler and the style and layout it causes),
median, mean and 90th percentile (best median of 3 runs). The window is 800 x 900, a laptop's.
The numbers in docs/diagrams.md come from this script.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from micrograd.engine import topological_order
from micrograd.viz import backprop_html
from micrograd.viz.examples import mlp_hinge
from tests.browser import start_chromium
from tests.stepper_timing import load_seconds, step_costs

SAMPLES = (4, 41, 416)


def main() -> None:
    print(f"{'Values':>7} {'page':>8} {'written':>8} {'load':>7} {'step median':>12} {'mean':>6} {'p90':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        driver = start_chromium(Path(tmp) / "profile")
        driver.set_window_size(800, 900)
        try:
            for samples in SAMPLES:
                root = mlp_hinge(samples)
                t0 = time.perf_counter()
                page = backprop_html(root, Path(tmp) / f"p{samples}.html")
                written = time.perf_counter() - t0
                load = min(load_seconds(driver, page) for _ in range(3))
                runs = sorted((step_costs(driver, 60) for _ in range(3)), key=statistics.median)
                best = sorted(runs[0])
                print(
                    f"{len(topological_order([root])):>7,} {page.stat().st_size / 1e6:>6.1f} MB {written:>6.1f} s "
                    f"{load:>5.2f} s {statistics.median(best):>9.2f} ms {statistics.mean(best):>6.2f} "
                    f"{best[int(0.9 * len(best))]:>6.2f}",
                    flush=True,
                )
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
