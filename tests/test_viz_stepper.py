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

from micrograd.engine import Value, topological_order
from micrograd.viz import backprop_html, backprop_steps
from micrograd.viz.examples import tanh_neuron as neuron
from micrograd.viz.stepper_page import number
from tests.browser import start_chromium
from tests.system import require


def test_steps_follow_the_chain_rule_and_end_at_backward():
    o = neuron()
    d = backprop_steps(o)
    names = [n["name"] for n in d["nodes"]]
    steps = d["steps"]
    assert len(steps) == 2 + 5  # forward, seed, one per computed node (5 ops)
    assert steps[0]["set"] == [] and steps[1]["set"] == [[names.index("o"), 1.0]]
    assert [names[s["node"]] for s in steps[2:]] == ["o", "n", "x1*w1 + x2*w2", "x2*w2", "x1*w1"]
    tanh_line = steps[2]["lines"][0]
    assert tanh_line.startswith("n.grad += (1 - o.data²) * o.grad = 0.5 * 1 = 0.5")
    x1_line = steps[-1]["lines"][0]
    assert x1_line.startswith("x1.grad += w1.data * (x1*w1).grad = -3 * 0.5 = -1.5")
    # closed form: do/dn = 1 - tanh(n)^2 = 1/2 here; products multiply by the other factor
    dn = 1 - math.tanh(-6.0 + 6.8813735870195432) ** 2
    final = dict(zip(names, d["final"]))
    for name, want in dict(x1=-3 * dn, w1=2 * dn, x2=dn, w2=0.0, b=dn, n=dn, o=1.0).items():
        assert final[name] == pytest.approx(want, rel=1e-12)
    # and exactly the grads backward() gives; the graph itself is left as it was (grads 0)
    assert all(v.grad == 0.0 for v in topological_order([o]))
    o.backward()
    assert d["final"] == [v.grad for v in topological_order([o])]


def test_repeated_operand_and_unlabelled_names():
    x = Value(3.0)
    y = x * x - x / 2  # x used three times
    d = backprop_steps(y)
    mul = next(s for s in d["steps"] if s["node"] is not None and len(s["lines"]) == 2 and "*" in s["title"])
    assert len(mul["lines"]) == 2 and all(line.startswith("v0.grad += v0.data") for line in mul["lines"])
    y.backward()
    assert d["final"][0] == 2 * 3.0 - 0.5 == x.grad


def test_custom_op_is_refused_by_name():
    a = Value(2.0)
    out = Value(a.data**3, (a,), "cube")
    with pytest.raises(ValueError, match="cube.*custom op"):
        backprop_steps(out)


@pytest.fixture(params=["dot", "python"])
def drawn_by(request, monkeypatch, tmp_path):
    """The page drawn by Graphviz's dot, and by Python on a machine without dot (PATH without it)."""
    if request.param == "dot":
        require("dot")
    else:
        empty = tmp_path / "no-dot-here"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    return request.param


def read_grads(driver):
    """The grad of every Value in the table, in node order (a short table is in the document in full)."""
    cells = driver.find_elements(By.CSS_SELECTOR, ".grad[data-node]")
    by_node = {int(c.get_attribute("data-node")): float(c.get_attribute("data-grad")) for c in cells}
    return [by_node[i] for i in range(len(by_node))]


@pytest.mark.system
def test_page_in_headless_chromium(tmp_path, drawn_by):
    o = neuron()
    d = backprop_steps(o)
    page = backprop_html(o, tmp_path / "stepper.html")
    assert ('transform="scale(1 1)' in page.read_text()) == (drawn_by == "dot")  # Graphviz writes it, we do not
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # no network
    want = d["final"]  # backward()'s grads, which backprop_steps checked

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
            marked = {
                int(td.get_attribute("data-node"))
                for td in driver.find_elements(By.CSS_SELECTOR, ".row.current .grad, .row.operand .grad")
            }
            assert changed <= marked  # only the highlighted node's operands (or the seeded root) change
            previous = grads
        assert read_grads(driver) == want  # exactly backward()'s grads
        texts = driver.find_elements(By.CSS_SELECTOR, "#graph svg text")
        svg_grads = [t.text for t in texts if t.text.startswith("grad")]
        assert sorted(svg_grads) == sorted(f"grad {number(g)}" for g in want)
        assert f"Step {last} / {last}" == driver.find_element(By.ID, "step-label").text
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
    terms = [
        a + b,
        a - b,
        a * b,
        a / b,
        a**3,
        (a * a) ** b,
        -a,
        a.exp(),
        a.log(),
        b.tanh(),
        b.sigmoid(),
        b.relu(),
        b.leaky_relu(0.1),
        b.elu(0.5),
        b.selu(),
        b.softplus(),
        abs(b),
        b.prelu(a),
        a.logaddexp(b),
    ]
    root = sum(terms[1:], terms[0])
    d = backprop_steps(root)  # raises if the replay and backward() disagree
    root.backward()
    assert d["final"] == [v.grad for v in topological_order([root])]
    lines = [line for s in d["steps"][2:] for line in s["lines"]]
    assert "out.grad += ({x}).data * " in "\n".join(lines)  # mul: d/da = b; names kept, not read as placeholders
    tanh = next(s for s in d["steps"] if s["title"].endswith("operands") and "= tanh(" in s["title"])
    assert tanh["lines"][0].startswith(f"({{x}}).grad += (1 - v{tanh['node']}.data²) * v{tanh['node']}.grad")


def test_viewers_leave_the_graph_as_they_found_it(tmp_path, monkeypatch):
    """backprop_steps and backprop_html restore every grad; a following backward() gives the closed form."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot needed: the page draws in Python
    o = neuron()
    topo = topological_order([o])
    data = [v.data for v in topo]
    backprop_html(o, tmp_path / "page.html")
    assert [v.grad for v in topo] == [0.0] * len(topo) and [v.data for v in topo] == data
    o.backward()
    dn = 1 - math.tanh(-6.0 + 6.8813735870195432) ** 2  # do/dn = 1/2
    grads = {v.label: v.grad for v in topo}
    for name, want in dict(x1=-3 * dn, w1=2 * dn, x2=dn, w2=0.0, b=dn).items():
        assert grads[name] == pytest.approx(want, rel=1e-12), name  # x1: -1.5, not -7.5 (accumulated twice)
    before = [v.grad for v in topo]  # grads already there (a user's backward) stay as they are
    backprop_steps(o)
    backprop_html(o, tmp_path / "page.html")
    assert [v.grad for v in topo] == before


HOSTILE = ["<!--<script>", "</script>", "]]>", "\"quoted\" 'single'", "&amp;", "__DATA__", "a|b{c}<d>", "</div><b>x"]


def hostile_graph():
    leaves = [Value(float(k + 1), label=name) for k, name in enumerate(HOSTILE)]
    out = leaves[0]
    for v in leaves[1:]:
        out = out * v + v
    out.label = "<img src=x onerror=alert(1)>"
    return out


@pytest.mark.system
def test_hostile_labels_cannot_change_the_page(tmp_path, drawn_by):
    """Labels and a title that try to end the script, open a comment or add markup are shown as text."""
    root = hostile_graph()
    title = "</title><script>document.title='pwned'</script>"
    d = backprop_steps(root)
    page = backprop_html(root, tmp_path / "hostile.html", title=title)
    text = page.read_text()
    script = text[text.index("<script>") + len("<script>") : text.rindex("</script>")]
    assert "<" not in script.split("const DATA = ", 1)[1].split(";\n", 1)[0]  # the JSON holds no '<' at all
    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        assert driver.title == title  # the title is text
        assert len(driver.find_elements(By.TAG_NAME, "script")) == 2  # the page's own: the first zoom, the stepper
        assert len(driver.find_elements(By.CSS_SELECTOR, "#graph svg")) == 1
        assert driver.find_elements(By.TAG_NAME, "img") == [] and driver.find_elements(By.TAG_NAME, "b") == []
        rows = sorted(driver.find_elements(By.CSS_SELECTOR, "#rows .row"), key=lambda r: int(r.get_attribute("id")[1:]))
        names = [r.find_element(By.CSS_SELECTOR, ".name").get_attribute("textContent") for r in rows]
        assert names == [n["name"] for n in d["nodes"]] and set(HOSTILE) <= set(names)
        svg_text = {t.get_attribute("textContent") for t in driver.find_elements(By.CSS_SELECTOR, "#graph svg text")}
        assert set(HOSTILE) <= svg_text  # the drawing shows each label exactly (Graphviz and Python alike)
        last = len(d["steps"]) - 1
        driver.find_element(By.ID, "slider").send_keys(Keys.END)  # the script runs to the last step
        body = driver.find_element(By.TAG_NAME, "body")
        assert body.get_attribute("data-step") == str(last)
        assert read_grads(driver) == d["final"]
    finally:
        driver.quit()


def test_page_shows_inline_in_a_notebook_and_stays_a_path(tmp_path, monkeypatch):
    """backprop_html returns the path (str/os.fspath/Path methods work) with a _repr_html_ iframe whose
    srcdoc, once unescaped as a browser does, is exactly the page."""
    import html as html_lib
    import os
    import re
    from pathlib import Path

    monkeypatch.setenv("PATH", str(tmp_path))
    root = hostile_graph()
    target = tmp_path / "inline.html"
    page = backprop_html(root, str(target))
    assert isinstance(page, Path) and page == target and os.fspath(page) == str(target) == str(page)
    assert page.path == target and page.resolve() == target.resolve()
    frame = page._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" title="[^"]*" style="[^"]*"></iframe>', frame)
    assert m is not None  # the page cannot end the attribute early: no raw quote inside
    assert html_lib.unescape(m[1]) == target.read_text(encoding="utf-8")


@pytest.mark.system
def test_notebook_iframe_works_in_chromium(tmp_path, drawn_by):
    root = hostile_graph()
    d = backprop_steps(root)
    page = backprop_html(root, tmp_path / "inline.html")
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<!DOCTYPE html><html><body><p id=cell>output</p>{page._repr_html_()}</body></html>")
    driver = start_chromium(tmp_path / "profile")
    try:
        driver.get(notebook.as_uri())
        driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
        driver.find_element(By.ID, "slider").send_keys(Keys.END)
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-step") == str(len(d["steps"]) - 1)
        assert read_grads(driver) == d["final"]
    finally:
        driver.quit()


def test_backprop_stepper_demo_runs_without_graphviz(tmp_path, monkeypatch, capsys):
    """The demo's page needs no dot; the picture falls back to DOT source with a note."""
    from micrograd.demos import backprop_stepper as demo

    monkeypatch.setenv("PATH", str(tmp_path))
    r = demo.run(quick=True, out=tmp_path / "out")
    page, picture = r["files"]
    assert "<svg" in page.read_text() and picture.suffix == ".dot"
    out = capsys.readouterr().out
    assert "install it (apt-get install graphviz" in " ".join(out.split())  # the note may be wrapped
    assert all(len(line) < 100 for line in out.splitlines() if "/" not in line)  # paths are as long as they are
    dn = 1 - math.tanh(-6.0 + 6.8813735870195432) ** 2
    assert r["grads"]["x1"] == pytest.approx(-3 * dn, rel=1e-12)  # one backward(), not two
