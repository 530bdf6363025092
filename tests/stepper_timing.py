"""How long the backprop stepper page takes in headless Chromium: to load, and per step.

    load_seconds(driver, page)      -> seconds from navigation start until the page is set up and laid out
    step_costs(driver, steps)       -> [ms] of each of ``steps`` Right-arrow steps from step 1, then as many
                                       Left-arrow steps back: the key's handler and the style and layout
                                       it causes (forced by reading a layout box), per step

Shared by tests/test_viz_stepper.py and bench/studies/stepper_time.py. Paint is not counted: it is
done by the compositor, and only for the part of the drawing on screen.
"""

from __future__ import annotations

STEPS_JS = """
const k = arguments[0], key = name => document.dispatchEvent(new KeyboardEvent('keydown', {key: name}));
key('Home'); key('ArrowRight'); document.body.getBoundingClientRect();
const times = [];
for (const name of [...Array(k).fill('ArrowRight'), ...Array(k).fill('ArrowLeft')]) {
  const t0 = performance.now();
  key(name);
  document.body.getBoundingClientRect();  // the style and layout the step caused
  times.push(performance.now() - t0);
}
return times;
"""


def load_seconds(driver, page) -> float:
    driver.get(page.as_uri())  # returns after the load event
    return (
        driver.execute_script(
            "if (!window.stepperReady) return null; document.body.getBoundingClientRect(); return performance.now();"
        )
        / 1e3
    )


def step_costs(driver, steps: int) -> list[float]:
    return driver.execute_script(STEPS_JS, steps)
