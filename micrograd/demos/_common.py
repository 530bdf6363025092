"""What every demo shares: its command line, its output folder, progress lines and plotting.

Contract:
- ``demo_main(run, description, argv)`` parses ``--out DIR`` and ``--quick`` and
  calls ``run(quick=..., out=...)``: every demo's ``main`` is this one line.
- ``output_dir(out)`` creates the folder (default ``./micrograd-out/``) and returns it.
- ``progress(iterable, desc, total)`` shows a tqdm bar on stderr when tqdm is
  installed (the ``demos`` extra), else a compact live line; piped, only one
  finished line. It yields the items, and ``.note(text)`` shows a status (the
  loss) beside the bar.
- ``say(text)`` prints prose wrapped under 100 characters a line (``WIDTH``).
- ``duration(seconds)`` says a rough time in words ("1 minute", "12 minutes").
- ``pyplot()`` returns matplotlib's pyplot on the Agg backend (files only, no window; in a
  notebook its own inline backend), or raises an ImportError that says which extra to install.
- ``draw_classes(ax, X, y, xx, yy, classes)`` paints the class regions of a grid and the data
  points in the class colours of ``micrograd.viz.colors`` (the training page uses the same).
- ``save_graph`` / ``save_diagram`` draw a Value graph / write a Digraph, or write its DOT
  source where Graphviz's ``dot`` is missing.
- ``Timer`` measures wall time with ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

DEFAULT_OUT = "micrograd-out"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every demo takes (shared by the scripts and ``python -m micrograd demo``)."""
    parser.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"folder for the pictures (default: ./{DEFAULT_OUT}/)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer steps, same code path (what the test suite runs)")


def demo_main(run: Callable[..., dict], description: str, argv: Sequence[str] | None = None) -> dict:
    """Parse a demo's command line and run it."""
    parser = argparse.ArgumentParser(description=description)
    add_demo_arguments(parser)
    args = parser.parse_args(argv)
    return run(quick=args.quick, out=args.out)


def output_dir(out) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (its stderr is no terminal, yet it shows live output)."""
    return "ipykernel" in sys.modules


def _tqdm_class():
    """tqdm's bar class for where we run, or None without tqdm.

    In a notebook, tqdm.auto's widget needs ipywidgets; without it tqdm.auto warns
    "IProgress not found", so we pick tqdm's plain-text bar ourselves (Jupyter redraws it in place).
    """
    try:
        if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class progress:
    """for item in progress(iterable, desc, total): ...; bar.note("loss 0.31") shows a status beside the bar.

    Live (a terminal or a notebook): a tqdm bar on stderr when tqdm is installed (the ``demos``
    extra), else a compact line rewritten in place at most 5 times a second; the bar is erased
    when done. Piped (stderr is a file or a pipe): nothing while it runs, then one finished line
    ending in a newline, so a log never has a bar glued to the next line.
    """

    def __init__(self, iterable: Iterable, desc: str, total: int | None = None):
        self.iterable, self.desc, self.total, self.text = iterable, desc, total, ""
        self.live = _in_notebook() or sys.stderr.isatty()
        bar = _tqdm_class() if self.live else None
        self._bar = (
            None
            if bar is None
            else bar(
                iterable, desc=desc, total=total, leave=False, file=sys.stderr, dynamic_ncols=True, mininterval=0.2
            )
        )

    def note(self, text: str) -> None:
        self.text = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def __iter__(self) -> Iterator:
        if self._bar is not None:
            yield from self._bar
            return
        start = last = time.perf_counter()
        n = 0
        for n, item in enumerate(self.iterable, 1):
            now = time.perf_counter()
            if self.live and now - last > 0.2:
                sys.stderr.write(f"\r{self._line(n)}")
                sys.stderr.flush()
                last = now
            yield item
        if self.live:
            sys.stderr.write("\r" + " " * (len(self._line(n)) + 2) + "\r")
        else:
            sys.stderr.write(f"{self._line(n)} ({time.perf_counter() - start:.1f} s)\n")
        sys.stderr.flush()

    def _line(self, n: int) -> str:
        of = f"/{self.total}" if self.total else ""
        return f"{self.desc}: {n}{of} {self.text}".rstrip()


WIDTH = 99  # demo output lines stay under 100 characters: a terminal, a notebook cell, a log


def say(text: str = "") -> None:
    """Print prose wrapped to WIDTH; each line of text is a paragraph, its leading spaces kept
    (continuation lines get two more)."""
    for para in text.split("\n"):
        lead = para[: len(para) - len(para.lstrip())]
        print(
            textwrap.fill(
                para.strip(),
                WIDTH,
                initial_indent=lead,
                subsequent_indent=lead + "  ",
                break_on_hyphens=False,
                break_long_words=False,
            )
            if para.strip()
            else ""
        )


def duration(seconds: float) -> str:
    """A rough duration in words: '40 s', '1 minute', '12 minutes', '2.5 hours'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        minutes = round(seconds / 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds / 3600:.1f} hours"


def pyplot():
    """matplotlib.pyplot: on the file-only Agg backend (no window), except in a notebook, whose own
    backend shows a figure inline (a notebook that draws with a demo's figure functions)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the demos draw with matplotlib: pip install 'micrograd-compiled[demos]'") from None
    if not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_classes(ax, X, y, xx, yy, classes, n_outputs: int = 1) -> None:
    """The class of every grid point (``classes``, shaped like the mesh ``xx``, ``yy``: ints, or for one
    output a bool or a score, class 1 where > 0) as pale regions, and the points ``X`` (N, 2) with labels
    ``y`` as dots, in the colours of ``micrograd.viz.colors`` (CLASS_FILL, CLASS_DOT)."""
    import numpy as np
    from matplotlib.colors import ListedColormap

    from micrograd.viz.colors import CLASS_DOT, CLASS_FILL, class_index

    k = max(2, n_outputs)
    grid = np.asarray(classes)
    grid = (grid > 0).astype(int) if n_outputs == 1 else grid.astype(int) % len(CLASS_FILL)
    levels = np.arange(k + 1) - 0.5
    ax.contourf(xx, yy, grid, levels=levels, cmap=ListedColormap([CLASS_FILL[c % len(CLASS_FILL)] for c in range(k)]))
    dots = [CLASS_DOT[class_index(v, n_outputs)] for v in np.asarray(y).ravel()]
    ax.scatter(X[:, 0], X[:, 1], c=dots, s=40, edgecolors="k")


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure and close it (figures are not garbage-collected while open)."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def save_graph(root, path, **draw_kwargs) -> Path:
    """``micrograd.viz.draw_dot`` written to path (see ``save_diagram``)."""
    from micrograd.viz import draw_dot

    return save_diagram(draw_dot(root, **draw_kwargs), path)


def save_diagram(g, path) -> Path:
    """``micrograd.viz.dot.save_diagram``, except that where Graphviz's ``dot`` program is missing the
    lesson goes on with a one-line note and returns the DOT source it wrote (path with suffix .dot):
    a learner's first run should not fail on a picture."""
    from micrograd.viz.dot import DotNotFound
    from micrograd.viz.dot import save_diagram as write

    path = Path(path)
    try:
        return write(g, path)
    except DotNotFound:  # the source is in path.with_suffix(".dot")
        dot_path = path.with_suffix(".dot")
        say(
            f"  note: Graphviz's 'dot' program was not found, so {path.name} is not drawn: install it "
            f"(apt-get install graphviz / brew install graphviz / conda install graphviz). The DOT "
            f"source was written to {dot_path}"
        )
        return dot_path


def wrote(paths: Iterable[Path]) -> None:
    """Tell the learner where the pictures are."""
    for p in paths:
        print(f"  wrote {p}")


class Timer:
    """with Timer() as t: ...; t.seconds"""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
