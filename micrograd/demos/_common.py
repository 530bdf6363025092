"""What every demo shares: its command line, its output folder, progress lines and plotting.

Contract:
- ``demo_main(run, description, argv)`` parses ``--out DIR`` and ``--quick`` and
  calls ``run(quick=..., out=...)``: every demo's ``main`` is this one line.
- ``output_dir(out)`` creates the folder (default ``./micrograd-out/``) and returns it.
- ``progress(iterable, desc, total)`` shows a tqdm bar on stderr when tqdm is
  installed (the ``demos`` extra), else a compact live line; it yields the items,
  and ``.note(text)`` shows a status (the loss) beside the bar.
- ``pyplot()`` returns matplotlib's pyplot on the Agg backend (files only, no window),
  or raises an ImportError that says which extra to install.
- ``save_graph`` draws a Value graph, or writes its DOT source where Graphviz is missing.
- ``Timer`` measures wall time with ``time.perf_counter``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

DEFAULT_OUT = "micrograd-out"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every demo takes (shared by the scripts and ``python -m micrograd demo``)."""
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the pictures (default: ./{DEFAULT_OUT}/)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps, same code path (what the test suite runs)")


def demo_main(run: Callable[..., dict], description: str, argv: Optional[Sequence[str]] = None) -> dict:
    """Parse a demo's command line and run it."""
    parser = argparse.ArgumentParser(description=description)
    add_demo_arguments(parser)
    args = parser.parse_args(argv)
    return run(quick=args.quick, out=args.out)


def output_dir(out) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


class progress:
    """for item in progress(iterable, desc, total): ...; bar.note("loss 0.31") shows a status beside the bar.

    A tqdm bar on stderr when tqdm is installed (the ``demos`` extra), else a
    compact live line rewritten in place at most 5 times a second.
    """

    def __init__(self, iterable: Iterable, desc: str, total: Optional[int] = None):
        self.iterable, self.desc, self.total, self.text = iterable, desc, total, ""
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr,
                             dynamic_ncols=True, mininterval=0.2)

    def note(self, text: str) -> None:
        self.text = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def __iter__(self) -> Iterator:
        if self._bar is not None:
            yield from self._bar
            return
        last, n = 0.0, 0
        for n, item in enumerate(self.iterable, 1):
            now = time.perf_counter()
            if now - last > 0.2:
                of = f"/{self.total}" if self.total else ""
                sys.stderr.write(f"\r{self.desc}: {n}{of} {self.text}")
                sys.stderr.flush()
                last = now
            yield item
        sys.stderr.write("\r" + " " * (len(self.desc) + len(self.text) + 24) + "\r")
        sys.stderr.flush()


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the demos draw with matplotlib: pip install 'micrograd-compiled[demos]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure and close it (figures are not garbage-collected while open)."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def save_graph(root, path, **draw_kwargs) -> Path:
    """``micrograd.viz.save_graph``; where Graphviz's ``dot`` program is missing, the DOT source is
    written instead and the lesson goes on with a one-line note (a learner's first run should not
    fail on a picture)."""
    from micrograd.viz import save_graph as save
    try:
        return save(root, path, **draw_kwargs)
    except RuntimeError as e:
        if "'dot' program was not found" not in str(e):
            raise
        print(f"  note: {e}")
        return Path(path).with_suffix(".dot")


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
