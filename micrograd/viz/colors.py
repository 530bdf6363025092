"""Colours with a meaning: value nodes by the size of their gradient, and one colour per class.

Classes: ``CLASS_DOT[k]`` draws a data point of class k and ``CLASS_FILL[k]`` the region a model
gives to class k, in every picture and page (matplotlib figures, the training replay page). With
two classes and one output, ``class_index(label)`` is 1 for a label > 0 (the +1 of -1/+1 labels,
the 1 of 0/1 labels) and 0 else: the positive class is red and the other blue everywhere.

Gradients:

``GradScale(grads)`` bins |grad| by powers of ten (log10 scale), from the
smallest to the largest nonzero finite |grad| in the graph, and gives each bin
one colour of the viridis palette: dark purple for the smallest gradients,
yellow for the largest. A zero gradient gets light grey and a NaN or infinite
one magenta, both outside the palette. ``legend_label()`` is a Graphviz HTML
table with one row per bin (``1e-3 <= |grad| < 1e-2``), so a reader of the DOT
source (or a test) can check every node's colour against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# viridis, sampled at ten evenly spaced points (matplotlib's table, rounded to 8 bits)
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
ZERO_COLOR = "#d9d9d9"
NONFINITE_COLOR = "#ff00ff"
MAX_ROWS = 12  # wider ranges put several decades in one bin

# ColorBrewer: dark for points, pale for regions; class 0 blue, class 1 red, then green, purple, ...
CLASS_DOT = (
    "#08519c",
    "#a50f15",
    "#006d2c",
    "#54278f",
    "#a63603",
    "#252525",
    "#ae017e",
    "#31a354",
    "#6a51a3",
    "#b8860b",
)
CLASS_FILL = (
    "#c6dbef",
    "#fcbba1",
    "#c7e9c0",
    "#dadaeb",
    "#fdd0a2",
    "#d9d9d9",
    "#fde0ef",
    "#e5f5e0",
    "#f2f0f7",
    "#fff7bc",
)


def class_index(label: float, n_outputs: int = 1) -> int:
    """The class a label names: with one output, 1 for a label > 0 and 0 else; with several, the label
    itself (a class index). Colours cycle after ten classes."""
    k = (1 if label > 0 else 0) if n_outputs == 1 else int(label)
    return k % len(CLASS_DOT)


def _mix(c0: str, c1: str, t: float) -> str:
    a = [int(c0[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(c1[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def palette(t: float) -> str:
    """viridis at t in [0, 1], linearly interpolated between the sampled colours."""
    pos = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(pos), len(VIRIDIS) - 2)
    return _mix(VIRIDIS[i], VIRIDIS[i + 1], pos - i)


def _decade(a: float) -> int:
    return math.floor(math.log10(a))


class GradScale:
    """Bins of |grad| by decades, each with a colour; built from all grads of the drawing."""

    def __init__(self, grads: Iterable[float]):
        grads = list(grads)
        mags = [abs(g) for g in grads if g != 0.0 and math.isfinite(g)]
        self.has_zero = any(g == 0.0 for g in grads)
        self.has_nonfinite = any(not math.isfinite(g) for g in grads)
        if mags:
            self.lo, hi = _decade(min(mags)), _decade(max(mags))
        else:
            self.lo, hi = 0, 0
        span = hi - self.lo + 1
        self.width = max(1, math.ceil(span / MAX_ROWS))  # decades per bin
        self.nbins = math.ceil(span / self.width)

    def bin_of(self, g: float) -> int:
        return min((_decade(abs(g)) - self.lo) // self.width, self.nbins - 1)

    def bin_color(self, b: int) -> str:
        return palette(b / (self.nbins - 1) if self.nbins > 1 else 1.0)

    def colors(self, g: float) -> tuple[str, str]:
        """(fill colour, font colour) for a node with this grad."""
        if g != g or math.isinf(g):
            return NONFINITE_COLOR, "black"
        if g == 0.0:
            return ZERO_COLOR, "black"
        b = self.bin_of(g)
        # white text on the dark half of viridis
        dark = self.nbins > 1 and b / (self.nbins - 1) < 0.5
        return self.bin_color(b), ("white" if dark else "black")

    def rows(self) -> list[tuple[str, str]]:
        """(colour, text) per legend row, largest gradients first."""
        rows = []
        for b in reversed(range(self.nbins)):
            e0 = self.lo + b * self.width
            rows.append((self.bin_color(b), f"1e{e0} &lt;= |grad| &lt; 1e{e0 + self.width}"))
        if self.has_zero:
            rows.append((ZERO_COLOR, "grad = 0"))
        if self.has_nonfinite:
            rows.append((NONFINITE_COLOR, "grad nan or inf"))
        return rows

    def legend_label(self) -> str:
        cells = "".join(
            f'<TR><TD BGCOLOR="{c}" WIDTH="24"> </TD><TD ALIGN="LEFT">{t}</TD></TR>' for c, t in self.rows()
        )
        return (
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD COLSPAN="2"><B>|grad| (log scale)</B></TD></TR>{cells}</TABLE>>'
        )
