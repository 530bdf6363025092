"""Diagrams of Value graphs: Graphviz drawings and a page that steps through backprop.

    from micrograd.viz import draw_dot, save_graph, backprop_html
    draw_dot(loss)                                   # a graphviz.Digraph; renders inline in Jupyter
    draw_dot(loss, color_by='grad')                  # fill by log10 |grad|: vanishing gradients show
    draw_dot(loss, model=model, collapse='layer')    # one summary node per module call
    save_graph(loss, 'loss.svg')                     # .svg .png .pdf .dot .gv by the suffix
    backprop_html(o, 'backprop.html')                # open it in a browser: one backprop step a click
    record = record_fit(cm, X, y, loss='hinge', optimizer=opt, epochs=50)   # a compiled run, frame by frame
    training_html(record, 'training.html')           # replay it: loss, decision boundary, grad norms

``draw_program`` (the compiled program's diagram) lives in ``viz/program.py``
and loads on first use, so importing viz does not import the compiler.
"""

from micrograd.viz.dot import Diagram, draw_dot, save_graph
from micrograd.viz.modules import record_calls
from micrograd.viz.stepper import backprop_html, backprop_steps
from micrograd.viz.training import TrainingRecord, record_fit, training_html

__all__ = [
    "draw_dot",
    "save_graph",
    "backprop_html",
    "backprop_steps",
    "record_calls",
    "Diagram",
    "draw_program",
    "record_fit",
    "training_html",
    "TrainingRecord",
]


def __getattr__(name):
    if name == "draw_program":
        from micrograd.viz.program import draw_program

        return draw_program
    raise AttributeError(f"module 'micrograd.viz' has no attribute {name!r}")
