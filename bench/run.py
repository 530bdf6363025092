"""The benchmark: validate every implementation, time each with pyperf, probe compile/memory, write RESULTS.md.

    python bench/run.py                  full run (~10 minutes on 2 idle cores): bench/RESULTS.md + RESULTS.json
    python bench/run.py --quick          a first look in under a minute: workload A, the main rows, one worker
                                         each, warm start only; written to a temp folder
    python bench/run.py --only AC        some workloads; --out FILE.md writes there (and FILE.json)
    python -m micrograd bench --quick    the same, from the package's command line

``bench/RESULTS.md`` holds the results of record: the run refuses to write it from a tree with
uncommitted edits (``git status``), so its numbers always belong to a commit; ``--out`` writes a try
elsewhere. ``RESULTS.json`` (pyperf's values, for ``pyperf compare_to``) is not committed.

pyperf's own options work too (``--processes``, ``--values``, ``--min-time``,
``--rigorous``, ``--fast``, ``-v``; see ``--help``). Workloads: A moons
2-16-16-1, B digits 64-64-10, C 784-128-10, D a random 10k-op scalar graph
(``bench/workloads.py``, ``bench/randgraph.py``); implementations and their
thread settings: ``bench/impls.py``; targets: ``bench/targets.py``.

The parent validates every implementation in-process (``bench/validate.py``),
then asks pyperf to time each valid (workload, implementation) row: pyperf
starts worker processes (this file with ``--worker``), each of which builds
only its own row (thread settings, model, one untimed call), calibrates the
loop count, warms up and times. Then ``bench/probes.py`` runs in fresh
processes for compile time (an empty ``NUMBA_CACHE_DIR``, then the same one
warm), start-up, memory and trace + lower; ``bench/report.py`` writes the file.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The environment as this process started: what workers and probes inherit, not what libraries set later
# (the compiler sets OMP_WAIT_POLICY before its first parallel kernel, which slowed PyTorch in its children).
BASE_ENV = dict(os.environ)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # `bench` and this checkout's `micrograd` importable however this is started

try:
    import pyperf
except ImportError:
    print("bench/run.py: error: the benchmark needs pyperf: pip install -e '.[bench]'", file=sys.stderr)
    sys.exit(2)

from bench import impls  # noqa: E402

RECORD = HERE / "RESULTS.md"  # the results of record: written from a committed tree only

FULL = dict(processes=4, values=3, warmups=1, min_time=0.1)
QUICK = dict(processes=1, values=1, warmups=1, min_time=0.01)
# --quick: moons (A) unless --only says otherwise, and the rows a first look needs: the Value path, the
# yardsticks and the compiled path's entry points (each row starts two processes: about 2 s)
QUICK_WORKLOADS = "A"
QUICK_IMPLS = ("value", "numpy", "torch1", "hand1", "handfwd1", "fit", "fit1", "lag", "fwd")
PROBE_TIMEOUT_S = 600
INHERIT = ("OMP_", "OPENBLAS_", "MKL_", "NUMBA_", "MICROGRAD_", "LD_LIBRARY_PATH")


def make_runner() -> pyperf.Runner:
    runner = pyperf.Runner(**FULL, add_cmdline_args=lambda cmd, args: cmd.extend(["--tasks", args.tasks]))
    p = runner.argparser
    p.description = __doc__.split("\n")[0]
    p.add_argument(
        "--quick",
        action="store_true",
        help="a first look in under a minute: workload A (unless --only), the main rows, one worker each, warm start",
    )
    p.add_argument("--only", default=None, help="workloads to run, e.g. A or AC (default ABCD; --quick: A)")
    p.add_argument("--out", type=Path, help="results file (default bench/RESULTS.md; --quick: a temp file)")
    p.add_argument("--tasks", default="", help=argparse.SUPPRESS)  # parent -> workers: the rows, in order
    return runner


def task_name(name: str, key: str) -> str:
    return f"{name}/{key}"


def _unused(loops):  # the parent's stand-in: pyperf calls the time function in the workers only
    raise AssertionError("not called in the parent")


def worker(runner: pyperf.Runner) -> int:
    """Register every task in order; pyperf runs the one whose index it gave (--worker-task)."""
    from bench import measure

    tasks = [tuple(t.split("/")) for t in runner.args.tasks.split(",")]
    for i, (name, key) in enumerate(tasks):
        if i != runner.args.worker_task:
            runner.bench_time_func(task_name(name, key), _unused)
            continue
        r = impls.build(key, name)  # thread settings, the model, one untimed call: none of it timed

        def time_func(loops, call=r.call, scale=r.scale):
            it = itertools.repeat(None, loops)
            t0 = time.perf_counter()
            for _ in it:
                call()
            return (time.perf_counter() - t0) * scale

        runner.bench_time_func(
            task_name(name, key),
            time_func,
            inner_loops=r.inner_loops,
            metadata={"threads": measure.threads(), "workload": name, "impl": key},
        )
    return 0


def _say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _row(bench) -> dict:
    """What the report needs from a pyperf Benchmark."""
    try:
        from pyperf._cli import format_checks  # pyperf's unstable-result warnings, as it prints them

        warnings = [w.strip()[2:] for w in format_checks(bench) if w.strip().startswith("* ")]  # the findings
    except ImportError:
        warnings = []
    n = bench.get_nvalue()
    seen = [run.get_metadata().get("threads") for run in bench.get_runs()]  # one per worker process
    threads = " | ".join(dict.fromkeys(sorted(", ".join(sorted(t.split(", "))) for t in seen if t))) or "?"
    return {
        "median": bench.median(),
        "stdev": bench.stdev() if n > 1 else None,
        "values": n,
        "threads": threads,
        "warnings": warnings,
    }


def _time_rows(runner, tasks) -> tuple:
    rows, benches = {}, []
    runner.args.tasks = ",".join(task_name(*t) for t in tasks)
    for name, key in tasks:
        try:
            bench = runner.bench_time_func(task_name(name, key), _unused, inner_loops=impls.inner_loops(name, key))
        except (RuntimeError, SystemExit) as e:  # a worker failed: report it, keep the others' positions
            runner._worker_task += 1  # pyperf counts tasks in _main, which the failure skipped
            rows[(name, key)] = {"error": f"worker failed: {e}"}
            continue
        benches.append(bench)
        rows[(name, key)] = _row(bench)
    return rows, benches


def _probe(args: list, cache: Path = None, timeout: int = PROBE_TIMEOUT_S, pycache: Path = None) -> dict:
    """bench/probes.py in a fresh process (NUMBA_CACHE_DIR=cache where given); its JSON, or the error.
    ``pycache``: Python's bytecode cache there, written and read as on an ordinary install (whatever
    PYTHONDONTWRITEBYTECODE says here), so a warm start does not count compiling micrograd's source."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    env = dict(BASE_ENV, **({"NUMBA_CACHE_DIR": str(cache)} if cache else {}))
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "probes.py"), *args, "--json", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"error": f"exit {proc.returncode}: {tail[0]}"}
        result = json.loads(out.read_text())
        result["printed"] = proc.stdout + proc.stderr
        return result
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    finally:
        out.unlink(missing_ok=True)


def _forget_own_bytecode(pycache: Path) -> None:
    """Remove this checkout's modules from a PYTHONPYCACHEPREFIX folder, keeping the installed packages': a
    cold start then compiles micrograd's source, as a first run does, and reads NumPy's and Numba's bytecode,
    as any run of an installed package does (pip writes it at install time)."""
    import shutil

    shutil.rmtree(pycache / HERE.parent.relative_to(HERE.parent.anchor), ignore_errors=True)


def _probes(only: str, quick: bool, tmp: Path) -> dict:
    """Start-up is moons' story (A); memory and trace + lower are C's shapes; kernels: the workloads run."""
    from bench.probes import TRACE_SIZES

    probes = {}
    if "A" in only and quick:  # in the cache the validation filled; a cold start compiles for ~15 s on its own
        _say("probe: start, warm cache")
        probes["start-warm"] = _probe(["start"], pycache=tmp / "pycache")
    elif "A" in only:
        _say("probe: start, to fill Python's bytecode cache of NumPy, Numba, ... (not timed)")
        _probe(["start"], tmp / "numba-cache-unused", pycache=tmp / "pycache")
        _forget_own_bytecode(tmp / "pycache")
        for kind in ("cold", "warm"):  # an empty cache folder, then the same one, filled
            _say(f"probe: start, {kind} cache")
            probes[f"start-{kind}"] = _probe(["start"], tmp / "numba-cache-start", pycache=tmp / "pycache")
    if not quick:
        for kind in ("cold", "warm"):
            _say(f"probe: kernels, {kind} cache")
            probes[f"kernels-{kind}"] = _probe(["kernels", "--only", only], tmp / "numba-cache-kernels")
    if not quick:  # the test suite's kernels, cold: minutes
        _say("probe: the test suite's kernels, cold cache")
        probes["suite"] = _probe(["suite"], tmp / "numba-cache-suite", timeout=1800)
    if "C" in only:
        for what in ("memory", "memory-numpy"):
            _say(f"probe: {what}")
            probes[what] = _probe([what])
        probes["trace"] = {}
        for sizes in TRACE_SIZES[:1] if quick else TRACE_SIZES:
            _say(f"probe: trace + lower of {sizes}")
            probes["trace"][sizes] = _probe(["trace", "--sizes", sizes])
    return probes


def _probe_benchmarks(probes: dict) -> list:
    """The probes' headline numbers as one-value pyperf benchmarks, so `pyperf compare_to` sees them too."""
    values = {}
    for kind in ("cold", "warm"):
        values[(f"probe/start {kind}", "second")] = (probes.get(f"start-{kind}") or {}).get("total_s")
        k = probes.get(f"kernels-{kind}") or {}
        if "rows" in k:
            values[(f"probe/kernels {kind}", "second")] = k["import_s"] + sum(r["kernels_s"] for r in k["rows"])
    for stage, v in ((probes.get("memory") or {}).get("stages") or {}).items():
        values[(f"probe/memory C {stage}", "byte")] = v
    for sizes, p in (probes.get("trace") or {}).items():
        values[(f"probe/trace {sizes}", "second")] = p.get("seconds")
        values[(f"probe/trace {sizes} peak", "byte")] = p.get("peak_bytes")
    return [
        pyperf.Benchmark([pyperf.Run([v], metadata={"name": n, "unit": u}, collect_metadata=False)])
        for (n, u), v in values.items()
        if v and v > 0
    ]


def uncommitted_edits(root: Path) -> list[str] | None:
    """What ``git status`` lists in ``root`` (changed or untracked files; ignored ones aside), or None when
    git cannot say (not a checkout, no git)."""
    try:
        r = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.splitlines() if r.returncode == 0 else None


def refuse_record(out: Path, root: Path) -> str | None:
    """Why ``out`` may not be written now (it is RESULTS.md and the tree is not committed), or None."""
    if out.resolve() != RECORD.resolve():
        return None
    edits = uncommitted_edits(root)
    if edits is None:
        why = "git cannot tell whether this tree has uncommitted edits"
    elif edits:
        listed = ", ".join(e.strip() for e in edits[:3]) + (f" and {len(edits) - 3} more" if len(edits) > 3 else "")
        why = f"this tree has uncommitted edits ({listed})"
    else:
        return None
    return (
        f"{RECORD.name} holds the results of record, written from a committed tree only; {why}: commit them, "
        f"or write this run elsewhere with --out FILE.md"
    )


def main() -> int:
    runner = make_runner()
    args = runner.parse_args()
    if args.worker:
        return worker(runner)
    from bench import measure, report, validate
    from bench.references import torch_ref

    if args.only is None:
        args.only = QUICK_WORKLOADS if args.quick else "ABCD"
    letters = args.only.replace(",", "").upper()
    if set(letters) - set("ABCD") or not letters:
        print(
            f"bench/run.py: error: --only takes letters from ABCD, e.g. --only AC; got {args.only!r}", file=sys.stderr
        )
        return 2
    args.only = "".join(w for w in "ABCD" if w in letters)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    args.inherit_environ = (args.inherit_environ or []) + [v for v in BASE_ENV if v.startswith(INHERIT)]
    t_start = time.perf_counter()
    out = args.out or (Path(tempfile.gettempdir()) / "micrograd-bench-quick.md" if args.quick else RECORD)
    refusal = refuse_record(out, HERE.parent)
    if refusal:
        print(f"bench/run.py: error: {refusal}", file=sys.stderr)
        return 2
    tasks = impls.tasks(args.only, QUICK_IMPLS if args.quick else impls.ORDER)
    run = {
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "quick": args.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": measure.machine(str(HERE.parent)),
        "notes": [],
        "settings": f"{args.processes} processes after a calibration one, {args.values} values each after "
        f"{args.warmups} warm-up, each value at least {args.min_time * 1e3:g} ms of calls",
        "workloads": {},
    }
    load = os.getloadavg()[0]
    if load > 0.5:
        run["notes"].append(
            f"The 1-minute load average was {load:.2f} at the start: other processes were "
            "running, so timings (threaded libraries most) are not those of an idle machine."
        )
        _say(f"warning: load average {load:.2f}: timings will not be those of an idle machine")
    if not torch_ref.available():
        tasks = [t for t in tasks if not t[1].startswith("torch")]
        run["notes"].append("PyTorch is not installed: its rows are missing (`pip install torch==2.13.0`).")
    for name in args.only:
        wl = impls.load(name)
        run["workloads"][name] = (
            {
                "title": f"random scalar graph, {wl.n_ops} ops over {len(wl.leaves)} parameter "
                "leaves, one example, forward + backward",
                "n_ops": wl.n_ops,
            }
            if name == "D"
            else {"title": f"{wl.title}; {wl.n_params} parameters"}
        )
    _say(f"validating {len(tasks)} rows against the oracles")
    run["validation"] = validate.validate(tasks, say=_say)
    failed = {(r["workload"], r["impl"]) for r in run["validation"] if not r["ok"]}
    valid = [t for t in tasks if t not in failed]
    _say(f"timing {len(valid)} rows with pyperf ({run['settings']})")
    run["rows"], benches = _time_rows(runner, valid)
    run["probes"] = {}
    if any(k in ("fit", "lag", "fwd") for _, k in failed):
        run["notes"].append("The compiled path failed its validation: compile, memory and trace were not probed.")
    else:
        with tempfile.TemporaryDirectory(prefix="micrograd-bench-") as tmp:
            run["probes"] = _probes(args.only, args.quick, Path(tmp))
    if args.quick:
        run["notes"].append(
            "--quick: a first look, not the results of record: one worker process per row, "
            f"the rows {', '.join(QUICK_IMPLS)} only, start-up with a warm cache only; kernel compile "
            "times, the cold start, memory and trace + lower of the bigger models are not measured "
            "(`python bench/run.py` measures everything)."
        )
    run["wall_s"] = time.perf_counter() - t_start
    json_path = out.with_suffix(".json")
    suite = benches + _probe_benchmarks(run["probes"])
    if suite:
        pyperf.BenchmarkSuite(suite).dump(str(json_path), replace=True)
    text = report.render(run)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(text)
    os.replace(tmp_out, out)  # atomically: a failed run leaves the last results in place
    _say(f"wrote {out} and {json_path.name} ({run['wall_s']:.0f} s)")
    print(report.console(run))
    return 1 if failed or any("error" in r for r in run["rows"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
