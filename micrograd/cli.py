"""The command line: ``python -m micrograd demo | draw | check | bench``.

    python -m micrograd demo --list                       the lessons, one line each
    python -m micrograd demo moons [--out DIR] [--quick]  run one
    python -m micrograd draw "tanh(x1*w1 + x2*w2 + b)" --set x1=2 w1=-3 x2=0 w2=1 b=6.88 -o neuron.svg
    python -m micrograd check model.py [--timeout S]      the Value path against the compiled path
    python -m micrograd bench [ARGS...]                   bench/run.py of a source checkout

Contract: ``main(argv) -> int`` (the exit status). A usage error, an unknown
demo or a malformed expression prints one line ``micrograd: error: ...`` on
stderr and returns 2, never a traceback. ``check FILE`` prints one line per
outcome: 0 checked and agreeing, 1 disagreeing, 2 not checkable
(``micrograd.checkfile``: FILE runs in a child process, with a timeout).

``draw`` never evaluates the text it is given: ``micrograd.expr`` parses it
with an allowlist of Python's ``ast`` nodes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from micrograd.engine import topological_order
from micrograd.expr import FUNCTIONS, ExpressionError, parse_expression


class UsageError(Exception):
    """A mistake in what the user typed: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit status 2) instead of usage + message."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _is_assignment(text: str) -> bool:
    name, sep, _ = text.partition("=")
    return bool(sep) and name.strip().isidentifier()


def _split_expression(expression: str | None, pairs: Sequence[str]) -> tuple[str, list[str]]:
    """The expression and the NAME=NUMBER pairs. ``--set`` takes one or more values, so in
    ``draw --set x=1 "x*x"`` argparse hands it the expression too: the one item of --set that is
    not NAME=... is the expression (an expression has no '=': comparisons are not allowed)."""
    pairs = list(pairs)
    others = [p for p in pairs if not _is_assignment(p)]
    if expression is None and len(others) == 1 and pairs[-1] == others[0]:
        return pairs[-1], pairs[:-1]
    if expression is None:
        raise UsageError(
            'draw needs an expression, e.g. draw "x*x" --set x=1'
            + (f" (not NAME=NUMBER in --set: {', '.join(map(repr, others))})" if others else "")
        )
    return expression, pairs


def _assignments(pairs: Sequence[str]) -> dict[str, float]:
    values = {}
    for pair in pairs:
        name, sep, number = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set takes NAME=NUMBER, got {pair!r}")
        try:
            values[name] = float(number)
        except ValueError:
            raise UsageError(f"--set {pair!r}: {number!r} is not a number") from None
    return values


# ---------------------------------------------------------------- commands
def _demo(args) -> int:
    from micrograd import demos

    if args.list or not args.name:
        width = max(map(len, demos.DEMOS))
        for name, line in demos.DEMOS.items():
            print(f"{name:<{width}}  {line}")
        if not args.list:
            print("\nrun one with: python -m micrograd demo NAME [--out DIR] [--quick]")
        return 0
    try:
        module = demos.load(args.name)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    from micrograd.demos._common import output_dir

    try:
        output_dir(args.out)  # fail before a long run, not after it
    except OSError as e:
        raise UsageError(f"--out {args.out}: cannot create the folder ({e.strerror})") from None
    try:
        module.run(quick=args.quick, out=args.out)
    except (ImportError, OSError) as e:  # matplotlib missing, an output folder that cannot be written
        print(f"micrograd: error: demo {args.name}: {e}", file=sys.stderr)
        return 1
    return 0


def _draw(args) -> int:
    from micrograd.viz.dot import FORMATS, DotNotFound, save_graph

    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"-o {args.output}: the file name must end in one of {', '.join(sorted(FORMATS))}")
    expression, pairs = _split_expression(args.expression, args.set)
    try:
        root = parse_expression(expression, _assignments(pairs))
    except ExpressionError as e:
        raise UsageError(str(e)) from None
    if not args.no_backward:
        root.backward()
    leaves = {v.label: v for v in topological_order([root]) if v.label and not v._children}
    print(f"{expression} = {root.data:.6g}")
    if not args.no_backward:
        print("  " + "   ".join(f"d/d{n} = {v.grad:.6g}" for n, v in sorted(leaves.items())))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        path = save_graph(root, out, color_by="grad" if args.color else None)
    except DotNotFound as e:  # the message says how to install Graphviz
        print(f"micrograd: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a folder that cannot be created or written
        print(f"micrograd: error: -o {args.output}: cannot write it ({e.strerror or e})", file=sys.stderr)
        return 1
    print(f"  wrote {path}")
    return 0


def find_bench() -> Path:
    """bench/run.py of the source checkout this package was installed from (editable install), or of the cwd."""
    here = Path(__file__).resolve().parent.parent / "bench" / "run.py"
    for path in (here, Path.cwd() / "bench" / "run.py"):
        if path.is_file():
            return path
    raise UsageError(
        "the benchmark lives in the repository, not in the installed package: clone the repository and run "
        "python bench/run.py (or python -m micrograd bench) from it"
    )


def _bench(extra: list[str]) -> int:
    path = find_bench()
    if importlib.util.find_spec("pyperf") is None:
        raise UsageError("the benchmark needs pyperf: pip install -e '.[bench]' (the 'bench' extra)")
    extra = extra[1:] if extra[:1] == ["--"] else extra
    return subprocess.call([sys.executable, str(path), *extra])


def _check_file(args) -> int:
    """One line and a status per outcome (micrograd.checkfile): 0 checked and agreeing, 1 disagreeing, 2 the
    file cannot be checked (or bad usage)."""
    import math

    from micrograd.checkfile import check_file

    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be a number of seconds > 0, got {args.timeout:g}")
    detail = "all" if args.all else "table" if args.table else ""
    status, text = check_file(args.file, rtol=args.rtol, atol=args.atol, timeout=args.timeout, detail=detail)
    if status == 2:
        raise UsageError(text)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `check FILE | head -1`: the reader had enough; the status still tells the outcome
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so exiting does not fail on flush
    return status


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timeout takes a number of seconds, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from micrograd.demos._common import add_demo_arguments

    parser = _Parser(
        prog="python -m micrograd",
        description="micrograd: scalar autograd for learning, with diagrams and a compiled fast path.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    demo = sub.add_parser(
        "demo",
        help="run a lesson (demo --list shows them)",
        description="Run a lesson: it prints what happens and writes pictures to --out.",
    )
    demo.add_argument("name", nargs="?", metavar="NAME", help="which demo (see --list)")
    demo.add_argument("--list", action="store_true", help="list the demos, one line each")
    add_demo_arguments(demo)
    demo.set_defaults(func=_demo)
    draw = sub.add_parser(
        "draw",
        help="draw the graph of an expression, with gradients",
        description="Build an expression as a Value graph, backpropagate, and draw it "
        "(SVG, PNG or PDF from the file name). Allowed: numbers, names, "
        "+ - * / **, unary -, and " + ", ".join(FUNCTIONS) + ".",
    )
    draw.add_argument("expression", nargs="?", help='e.g. "tanh(x1*w1 + x2*w2 + b)" (before or after --set)')
    draw.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=NUMBER",
        help="a value for each name (may be repeated)",
    )
    draw.add_argument(
        "-o",
        "--output",
        default="micrograd-out/expression.svg",
        help="picture to write (default: micrograd-out/expression.svg)",
    )
    draw.add_argument("--no-backward", action="store_true", help="draw the forward values only")
    draw.add_argument("--color", action="store_true", help="fill the nodes by the size of their gradient")
    draw.set_defaults(func=_draw)
    bench = sub.add_parser(
        "bench",
        help="run the benchmark (bench/run.py of the source checkout)",
        description="Run bench/run.py of the source checkout; the arguments after "
        "'bench' are passed on to it (e.g. 'bench --quick'; "
        "'bench -- --help' shows its own help).",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for bench/run.py")
    bench.set_defaults(func=lambda args: _bench(args.args))
    check = sub.add_parser(
        "check",
        help="compare the Value path and the compiled path on a model file",
        description="Run FILE (a Python file that defines 'model', and optionally X, y, loss; "
        "params and n_inputs for a function) and compare the outputs, the loss and "
        "every gradient of the Value path and the compiled path. FILE runs as 'python FILE' "
        "would, with your rights, in a child process. One line says the outcome; exit "
        "status 0 when a model was checked and the paths agree, 1 when they do not, 2 when "
        "FILE cannot be checked (it raises, exits, defines no model, runs out of time) "
        "or on a usage error.",
    )
    check.add_argument("file", metavar="FILE", help="the Python file defining model")
    check.add_argument("--rtol", type=float, help="relative tolerance (default: the file's rtol, else 1e-9)")
    check.add_argument("--atol", type=float, help="absolute tolerance (default: the file's atol, else 1e-12)")
    check.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="stop FILE if running it, or then checking its model, takes longer (default: 60)",
    )
    check.add_argument("--table", action="store_true", help="also print the 20 largest differences")
    check.add_argument("--all", action="store_true", help="also print every quantity compared")
    check.set_defaults(func=_check_file)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"] and argv[1:2] not in (["-h"], ["--help"]):
            return _bench(argv[1:])  # everything after 'bench' belongs to bench/run.py, options included
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as e:
        print(f"micrograd: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("micrograd: interrupted", file=sys.stderr)
        return 130
