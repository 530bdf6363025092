"""Demo: a browser page that steps through backprop of micrograd's two-input tanh neuron.

The neuron of micrograd's lecture: o = tanh(x1*w1 + x2*w2 + b) with x1 = 2,
x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432 (so that o = 0.7071...).
``micrograd.viz.backprop_html`` writes ``backprop_stepper.html``, a single
self-contained page: press "next" and each node's gradient is filled in, in
backward order, with the chain-rule product that gives it. The demo also
writes ``neuron.svg`` (the finished graph, with all gradients) and prints the
gradients and how to open the page. ``quick`` changes nothing: it is instant.
Without Graphviz's ``dot`` the page still works (drawn in Python) and the
picture is written as ``neuron.dot`` with a note on how to install Graphviz.

``run`` returns {'output', 'grads': {label: grad}, 'files'}.
"""

from __future__ import annotations

from collections.abc import Sequence

from micrograd.demos._common import demo_main, output_dir, save_graph, wrote
from micrograd.engine import topological_order
from micrograd.viz.examples import tanh_neuron


def run(quick: bool = False, out: str = "micrograd-out") -> dict:
    from micrograd.viz import backprop_html

    d = output_dir(out)
    o = tanh_neuron()  # micrograd's lecture neuron, every node labelled
    # records every chain-rule step, checks them against a real backward(), and leaves the grads as they were;
    # the page needs no Graphviz (it draws in Python without dot)
    page = backprop_html(o, d / "backprop_stepper.html", title="micrograd's neuron: backprop step by step")
    o.backward()
    grads = {v.label: v.grad for v in topological_order([o])}
    svg = save_graph(o, d / "neuron.svg", color_by="grad")  # without dot: neuron.dot, and a note how to install it
    print(f"micrograd's neuron: o = tanh(x1*w1 + x2*w2 + b) = {o.data:.4f}")
    print(
        f"Backprop from o: do/dn = 1 - o^2 = {grads['n']:.4f}; a sum passes the gradient on unchanged,\n"
        "a product multiplies it by the other factor:"
    )
    print("  " + "   ".join(f"d o/d {k} = {grads[k]:.4f}" for k in ("x1", "w1", "x2", "w2", "b")))
    print(f"\nOpen the step-through page in a browser:\n  file://{page.resolve()}")
    print("(press 'next' to fill in one gradient at a time, in the order backward() visits the nodes)")
    files = [page, svg]
    wrote(files)
    return {"output": o.data, "grads": grads, "files": files}


def main(argv: Sequence[str] | None = None) -> dict:
    return demo_main(run, "Write the backprop step-through page for micrograd's tanh neuron.", argv)


if __name__ == "__main__":
    main()
