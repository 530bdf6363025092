"""How long drawing takes: dot's own layout vs the linear-time one, per graph shape.

    python -m bench.studies.draw_time    prints a table; needs Graphviz's dot

For each graph: its drawn nodes, ``layout.dot_cost``, the layout ``draw_dot(layout='auto')`` picks,
and the wall time of ``save_graph`` to SVG with that choice; then dot's own layout alone, with a
60 s limit (what 'auto' avoids). Run it on a quiet machine: the times back ``dot.SLOW_ABOVE`` and
the 2 s target for graphs up to 2,000 nodes.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from pathlib import Path

from micrograd.engine import Value
from micrograd.nn import MLP
from micrograd.viz.dot import draw_dot, drawing, save_graph
from micrograd.viz.examples import horner
from micrograd.viz.examples import power_chain as power
from micrograd.viz.layout import dot_cost


def mlp(samples, sizes):
    rng = random.Random(1)
    model = MLP(2, sizes, rng=2)
    return sum((model([rng.uniform(-1, 1), rng.uniform(-1, 1)]) for _ in range(samples)), Value(0.0))


GRAPHS = [
    ("Horner degree 20", horner(20)),
    ("Horner degree 30", horner(30)),
    ("Horner degree 50", horner(50)),
    ("x*x*...*x, 30", power(30)),
    ("x*x*...*x, 50", power(50)),
    ("x*x*...*x, 100", power(100)),
    ("x*x*...*x, 1000", power(1000)),
    ("MLP 2-8-8-1 x3", mlp(3, [8, 8, 1])),
    ("MLP 2-16-16-1 x1", mlp(1, [16, 16, 1])),
]


def main() -> None:
    print(f"{'graph':<20} {'nodes':>6} {'cost':>8} {'auto':>5} {'save_graph':>11} {'dot layout':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, root in GRAPHS:
            root.backward()
            d = drawing(root)
            cost = dot_cost(d.nodes, d.edges)
            t0 = time.perf_counter()
            save_graph(root, Path(tmp) / "g.svg")
            auto = time.perf_counter() - t0
            src = draw_dot(root, layout="dot").source
            t0 = time.perf_counter()
            try:
                subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True, timeout=60, check=True)
                full = f"{time.perf_counter() - t0:.2f} s"
            except subprocess.TimeoutExpired:
                full = "> 60 s"
            print(f"{name:<20} {len(d.nodes):>6} {cost:>8} {'fast' if d.fast else 'dot':>5} {auto:>9.2f} s {full:>11}")


if __name__ == "__main__":
    main()
