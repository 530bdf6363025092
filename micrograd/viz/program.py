"""draw_program: the compiled program as a Graphviz diagram, so a learner sees what the compiler made.

``draw_program(cm)`` draws ``cm.program`` (or, with ``loss=``, the program
that also computes that loss; a ``Program`` may be passed directly): one node
per instruction, labelled by what it does over the whole batch (``dense 2→16``
with its W block's shape and place in the parameter vector, ``relu ×16`` for a
vector op, ``mul`` for a scalar op, ``gather 3``, ``loss cross_entropy`` for a
fused loss, which reads the targets y itself), one node for the inputs,
targets, constants and parameters read by scalar ops, edges from the
instruction that produced each operand, the outputs and the loss marked. The
title says how many scalar Value nodes became how many instructions. Node ids
are ``i<k>`` for instruction k, so the DOT source is deterministic.
"""

from __future__ import annotations

from micrograd.compiler.ir import DENSE, GATHER, LOSS, LOSSES, OP_NAMES, Program
from micrograd.viz.dot import Diagram

STYLE = {DENSE: ("box3d", "#cfe2f3"), GATHER: ("cds", "#fff2cc"), LOSS: ("octagon", "#f4cccc")}
VECTOR = ("box", "#d9ead3")
SCALAR = ("ellipse", "#ffffff")


def _label(prog: Program, i: int) -> str:
    op, n, k = int(prog.op[i]), int(prog.n[i]), int(prog.k[i])
    if op == DENSE:
        p, ld, b, bs = int(prog.p[i]), int(prog.ld[i]), int(prog.b[i]), int(prog.bs[i])
        rows = f"p[{p}:{p + (n - 1) * ld + k}]" + (f" every {ld}" if n > 1 and ld != k else "")
        bias = ""
        if b >= 0:
            bias = f"\\n+ bias p[{b}:{b + (n - 1) * bs + 1}]" + (f" every {bs}" if n > 1 and bs != 1 else "")
        return f"dense {k}→{n}\\nW {n}×{k}  {rows}{bias}"
    if op == GATHER:
        return f"gather {n}"
    if op == LOSS:
        return f"loss {LOSSES[k]}\\n{n} output{'s' if n > 1 else ''}, targets y"
    name = OP_NAMES[op]
    return f"{name} ×{n}" if n > 1 else name


def draw_program(cm, loss: object | None = None) -> Diagram:
    """A graphviz.Digraph of ``cm.program`` (or ``cm.training_program(loss)``, or a Program given as cm)."""
    prog = cm if isinstance(cm, Program) else (cm.training_program(loss) if loss is not None else cm.program)
    nodes = getattr(prog, "source_nodes", None)
    title = (f"{nodes} scalar Value nodes → " if nodes else "") + f"{len(prog)} instructions"
    g = Diagram(
        "program",
        graph_attr={"rankdir": "LR", "label": title, "labelloc": "t", "fontsize": "16"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "style": "filled"},
    )
    producer = {}
    leaves = (
        ("inputs", prog.input_slots, "inputs X", "#eeeeee"),
        ("targets", prog.target_slots, "targets y", "#eeeeee"),
        ("consts", prog.const_slots, "constants", "#f4f4f4"),
        ("params", prog.param_slots, "parameters (scalar use)", "#fce5cd"),
    )
    for name, slots, text, color in leaves:
        if len(slots):
            g.node(name, f"{text}\\n{len(slots)} slot{'s' if len(slots) > 1 else ''}", shape="note", fillcolor=color)
            producer.update((int(s), name) for s in slots)
    for i in range(len(prog)):
        op = int(prog.op[i])
        shape, color = STYLE.get(op, VECTOR if prog.n[i] > 1 else SCALAR)
        g.node(f"i{i}", _label(prog, i), shape=shape, fillcolor=color)
        if op == GATHER:
            reads = [int(s) for s in prog.gidx[prog.a[i] : prog.a[i] + prog.n[i]]]
        else:
            width = int(prog.k[i]) if op == DENSE else int(prog.n[i])
            reads = list(range(int(prog.a[i]), int(prog.a[i]) + width))
            if op != DENSE and prog.b[i] >= 0:
                reads += range(int(prog.b[i]), int(prog.b[i]) + width)
        for src in dict.fromkeys(producer[s] for s in reads):
            g.edge(src, f"i{i}")
        written = 1 if op == LOSS else int(prog.n[i])
        producer.update((s, f"i{i}") for s in range(int(prog.out[i]), int(prog.out[i]) + written))
    g.node("outputs", f"outputs\\n{len(prog.output_slots)}", shape="doublecircle", fillcolor="#d0e0e3")
    for src in dict.fromkeys(producer[int(s)] for s in prog.output_slots):
        g.edge(src, "outputs")
    if prog.loss_slot >= 0:
        g.node("loss", "loss\\n(mean over the batch)", shape="doubleoctagon", fillcolor="#f4cccc")
        g.edge(producer[prog.loss_slot], "loss")
    return g
