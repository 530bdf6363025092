"""RESULTS.md from one run's numbers: machine, validation, medians, ratios, targets, compile time, memory.

``render(run) -> str`` takes the dict that ``run.py`` collects (``machine``,
``load_start``/``load_end``, ``workloads`` meta, ``validation`` rows,
``timings[(workload, impl)]`` worker results, ``probes`` cold/warm, ...) and
returns Markdown. Targets are evaluated here, from the numbers of this run only
(``targets``); a missing number is reported as such, never as a pass.
"""
from __future__ import annotations

from typing import Dict, List, Optional

NAMES = {"karpathy": "micrograd 0.1.0 (Karpathy)", "value": "Value path", "numpy": "NumPy by hand", "torch": "PyTorch eager f64",
         "compiled": "compiled f64", "compiled32": "compiled f32"}
ORDER = ("karpathy", "value", "numpy", "torch", "compiled", "compiled32")
NOISY = 0.2  # cores kept busy by other processes above which a timing is marked


def fmt_s(s: Optional[float]) -> str:
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_x(r: Optional[float]) -> str:
    if r is None:
        return "—"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"


def step_time(run: Dict, name: str, impl: str) -> Optional[float]:
    """The reported median of one step (the Value path on B scaled from its subset)."""
    res = run["timings"].get((name, impl))
    if not res or "median_s" not in res:
        return None
    return res["median_s"] * res.get("scale", 1.0)


def ratio(run: Dict, name: str, slow: str, fast: str = "compiled") -> Optional[float]:
    a, b = step_time(run, name, slow), step_time(run, name, fast)
    return a / b if a and b else None


def _probe_total(probe: Optional[Dict]) -> Optional[float]:
    """Import + every entry point's first call, every workload, both dtypes: all kernels the run reached."""
    if not probe or "error" in probe:
        return None
    return probe["import_s"] + sum(sum(e["first_calls_s"].values()) for k, e in probe.items() if ":" in k)


def _trace_lower(run: Dict, name: str) -> Optional[float]:
    probe = run["probes"].get("warm") or {}
    entry = probe.get(f"compiled:{name}")
    return entry["trace_lower_s"] if entry else None


def targets(run: Dict) -> List[tuple]:
    """(target, measured, passed or None when not measured)."""
    def at_least(label, value, bound, shown):
        return (label, shown, None if value is None else value >= bound)

    def at_most(label, value, bound, shown):
        return (label, shown, None if value is None else value <= bound)

    d = step_time(run, "D", "compiled")
    ops = run["workloads"].get("D", {}).get("n_ops")
    ns = d / ops * 1e9 if d and ops else None
    rows = [
        at_least("A: compiled >= 15x faster than PyTorch eager f64", ratio(run, "A", "torch"), 15,
                 fmt_x(ratio(run, "A", "torch"))),
        at_least("A: compiled >= 20,000x faster than the Value path", ratio(run, "A", "value"), 20000,
                 fmt_x(ratio(run, "A", "value"))),
        at_least("A (context): compiled >= 20,000x faster than Karpathy's micrograd, where the issue's "
                 "580 ms baseline was measured", ratio(run, "A", "karpathy"), 20000, fmt_x(ratio(run, "A", "karpathy"))),
        at_least("B: compiled >= 3x faster than PyTorch eager f64", ratio(run, "B", "torch"), 3,
                 fmt_x(ratio(run, "B", "torch"))),
        at_least("B: compiled faster than NumPy by hand", ratio(run, "B", "numpy"), 1.0 + 1e-12,
                 fmt_x(ratio(run, "B", "numpy"))),
        at_least("C: compiled at least as fast as PyTorch eager f64", ratio(run, "C", "torch"), 1.0,
                 fmt_x(ratio(run, "C", "torch"))),
        at_most("D: compiled forward+backward <= 20 ns per op", ns, 20.0, "—" if ns is None else f"{ns:.1f} ns/op"),
        at_most("trace + lower of A < 50 ms", _trace_lower(run, "A"), 0.05, fmt_s(_trace_lower(run, "A"))),
        at_most("trace + lower of C < 3 s", _trace_lower(run, "C"), 3.0, fmt_s(_trace_lower(run, "C"))),
        at_most("kernels' first compile, cold cache < 15 s", _probe_total(run["probes"].get("cold")), 15.0,
                fmt_s(_probe_total(run["probes"].get("cold")))),
        at_most("kernels' first call, warm cache < 0.5 s", _probe_total(run["probes"].get("warm")), 0.5,
                fmt_s(_probe_total(run["probes"].get("warm")))),
    ]
    return rows


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _validation(run: Dict) -> List[str]:
    rows = []
    for r in run["validation"]:
        if "error" in r:
            rows.append([r["workload"], NAMES[r["impl"]], r["oracle"], "—", "—", "—", "—", "FAILED: " + r["error"]])
            continue
        rows.append([r["workload"], NAMES[r["impl"]], r["oracle"], f"{r['loss']:.12g}", f"{r['loss_err']:.1e}",
                     f"{r['grad_err']:.1e}", f"{r['step_err']:.1e} ({r['steps']} step{'s' if r['steps'] > 1 else ''})" if "step_err" in r else "—",
                     "ok" if r["ok"] else f"FAILED (tol {r['tol']:.0e})"])
    return _table(["workload", "implementation", "oracle", "loss", "loss rel err", "grad rel err",
                   "weights after the timed call, rel err", ""], rows)


def _medians(run: Dict) -> List[str]:
    rows = []
    for name, meta in run["workloads"].items():
        cells = [f"{name}: {meta['title']}"]
        for impl in ORDER:
            t = step_time(run, name, impl)
            res = run["timings"].get((name, impl), {})
            mark = " (est.)" if res.get("scale", 1.0) != 1.0 else ""
            mark += " †" if res.get("others_cores", 0.0) > NOISY else ""
            cells.append(fmt_s(t) + mark if "error" not in res else "failed")
        rows.append(cells)
    lines = _table(["workload"] + [NAMES[i] for i in ORDER], rows)
    noisy = [f"{n}/{NAMES[i]} {r['others_cores']:.2f}" for (n, i), r in sorted(run["timings"].items())
             if r.get("others_cores", 0.0) > NOISY]
    if noisy:
        lines = [f"† other processes kept more than {NOISY} of the 2 cores busy while this was timed "
                 f"(threaded libraries suffer most): " + ", ".join(noisy) + " cores.", ""] + lines
    if "D" in run["workloads"]:
        ops = run["workloads"]["D"]["n_ops"]
        per = [f"{step_time(run, 'D', i) / ops * 1e9:,.1f} ns/op" if step_time(run, "D", i) else "—" for i in ORDER]
        lines.append("| D per scalar op | " + " | ".join(per) + " |")
    spread = [f"{n}/{NAMES[i]} " + " / ".join(fmt_s(m * r.get("scale", 1.0)) for m in r["round_medians_s"] if m)
              for (n, i), r in sorted(run["timings"].items()) if len([m for m in r.get("round_medians_s", []) if m]) > 1
              and max(m for m in r["round_medians_s"] if m) > 1.25 * min(m for m in r["round_medians_s"] if m)]
    if spread:
        lines += ["", "Rounds that differed by more than 25% (each round's median; the table keeps the lower): "
                  + ", ".join(spread) + "."]
    return lines


def _ratios(run: Dict) -> List[str]:
    others = ("karpathy", "value", "numpy", "torch", "compiled32")
    rows = [[name] + [fmt_x(ratio(run, name, other)) for other in others] for name in run["workloads"]]
    return _table(["workload"] + [f"vs {NAMES[o]}" for o in others], rows)


def _compile(run: Dict) -> List[str]:
    lines = []
    probes = run["probes"]
    if not probes:
        return ["Not measured in this run" + (" (--quick)." if run["quick"] else ".")]
    for kind in ("cold", "warm"):
        p = probes.get(kind)
        if p and "error" in p:
            lines.append(f"- {kind}: the probe failed: {p['error']}")
    rows = []
    keys = sorted({k for p in probes.values() if p and "error" not in p for k in p if ":" in k})
    for key in keys:
        impl, name = key.split(":")
        cells = [name, NAMES[impl]]
        for kind in ("cold", "warm"):
            e = (probes.get(kind) or {}).get(key)
            if e is None:
                cells += ["—", "—"]
                continue
            first = ", ".join(f"{lbl} {fmt_s(s)}" for lbl, s in e["first_calls_s"].items())
            cells += [fmt_s(e["trace_lower_s"]), first]
        rows.append(cells)
    lines += _table(["workload", "path", "trace + lower (cold process)", "first calls, cold cache",
                     "trace + lower (warm process)", "first calls, warm cache"], rows)
    imp = [f"{kind}: import {fmt_s(p['import_s'])}, first compile() of a tiny model "
           f"{fmt_s(p.get('first_compile_overhead_s'))} (other processes kept {p.get('others_cores', 0.0):.2f} "
           f"cores busy during this probe)" for kind, p in probes.items() if p and "error" not in p]
    lines += ["", "One-time costs before the table's rows, in the probe process (numpy and numba already imported; "
              "the first `compile()` in a process does one-time work such as importing SciPy's BLAS to set its "
              "threads, so the table's trace + lower times exclude it): " + "; ".join(imp) + ".",
              "A first call's time is the call minus a second, warm call of the same entry point, so it is the "
              "compile (cold) or cache-load (warm) cost alone (trace + lower, including the training program, is "
              "done before). The totals in the targets add the import and every first call of every workload in "
              "both dtypes (each dtype is its own specialization; big layers use a parallel kernel of their own)."]
    return lines


def _threads(run: Dict) -> List[str]:
    rows = []
    for impl in ORDER:
        for name in run["workloads"]:
            res = run["timings"].get((name, impl))
            if res and res.get("threads"):
                rows.append([NAMES[impl], f"{name}: {res['threads']}"])
                break
    return _table(["implementation", "thread pools in its worker process (threads)"], rows) if rows else []


def _mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def _memory(run: Dict) -> List[str]:
    rows = []
    for impl in ORDER:
        res = run["timings"].get(("C", impl))
        if not res or "peak_kb" not in res:
            continue
        extra = res["peak_kb"] - res["rss_before_kb"]
        rows.append([NAMES[impl], _mib(res["rss_import_kb"]), _mib(res["rss_before_kb"]), _mib(res["peak_kb"]),
                     f"{extra / 1024:+.1f} MiB" + ("" if res["peak_is_steps_only"] else " (lifetime peak)")])
    if not rows:
        return ["Workload C was not timed in this run."]
    return _table(["implementation", "resident after imports", "after setup (model, compile, first step)",
                   "peak during the timed steps", "peak minus resident before the steps"], rows)


def step_flops(sizes: List[int], batch: int) -> float:
    """Multiply-add work of one MLP step: forward, dW for every layer, dX for all but the first."""
    mm = [2.0 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(mm) + sum(mm[1:])


def _gflops(run: Dict) -> List[str]:
    meta = run["workloads"].get("C")
    if not meta:
        return []
    flops = step_flops(meta["sizes"], meta["batch"])
    cells = [f"{NAMES[i]} {flops / step_time(run, 'C', i) / 1e9:.0f}" for i in ORDER if step_time(run, "C", i)]
    return ["", f"Matrix-multiply work of one C step: {flops / 1e6:.0f} MFLOP; achieved GFLOP/s: " + ", ".join(cells)
            + " (the machine's float64 peak was measured at about 88 per core, 172 on both: PERF_NOTES)."]


def _breakdown(run: Dict) -> List[str]:
    rows = []
    for name in run["workloads"]:
        for impl in ("compiled", "compiled32"):
            res = run["timings"].get((name, impl))
            if res and res.get("breakdown_s"):
                parts = ", ".join(f"{k} {fmt_s(v)}" for k, v in res["breakdown_s"].items())
                rows.append([name, NAMES[impl], fmt_s(res["median_s"]), parts, res.get("program", "")])
    if not rows:
        return ["No breakdown in this run."]
    lines = _table(["workload", "path", "timed step", "its parts, each timed alone (median)",
                    "the training program it runs"], rows)
    var = run["variants"].get("C")
    if var and "median_s" in var:
        lines += ["", f"C, compiled f64 with `MICROGRAD_BLAS_THREADS=2` (its BLAS on both cores, as PyTorch's MKL "
                      f"runs): {fmt_s(var['median_s'])} a step (other processes kept {var['others_cores']:.2f} cores "
                      f"busy), against {fmt_s(step_time(run, 'C', 'torch'))} for PyTorch and "
                      f"{fmt_s(step_time(run, 'C', 'compiled'))} with the default single BLAS thread."]
    return lines


def render(run: Dict) -> str:
    lines = ["# Benchmark results", "",
             f"Written by `{run['command']}` on {run['date']} in {run['wall_s']:.0f} s"
             + (" (**--quick**: few repeats, numbers are rough)." if run["quick"] else "."),
             "One full training step (forward, loss, backward, SGD update; D: forward + backward of one "
             "example) per implementation, each timed in its own process after warm-up, median of repeats "
             "(see `bench/measure.py`); every implementation is timed in each of "
             f"{run['rounds']} round(s) in turn and keeps its lower median. Every implementation is validated "
             "against an independent oracle first.",
             "", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in run["machine"].items()]
    lines += [f"- load average (1/5/15 min) at start: {run['load_start']}, at end: {run['load_end']}; "
              f"cores kept busy by other processes just before the start: {run['busy_start']:.2f}", ""]
    lines += ["## Targets", ""]
    lines += _table(["target", "measured", ""], [[t, m, {True: "pass", False: "**MISS**", None: "not measured"}[p]]
                                                 for t, m, p in targets(run)])
    lines += ["", "## One training step: medians", ""] + _medians(run)
    lines += ["", "Speed-up of the compiled f64 step over each other implementation (their time / its time):", ""]
    lines += _ratios(run)
    lines += ["", "Thread pools as each worker ran (defaults of each library; the compiled path sets the BLAS "
              "that Numba's `np.dot` calls to `MICROGRAD_BLAS_THREADS`, default 1):", ""] + _threads(run)
    lines += ["", "## Validation (before timing)", ""] + _validation(run)
    lines += ["", "## Compile time", ""] + _compile(run)
    lines += ["", "## Memory, workload C", ""] + _memory(run) + _gflops(run)
    lines += ["", "## Where the compiled step's time goes", ""] + _breakdown(run)
    for name, res in sorted(run["timings"].items()):
        if "error" in res:
            lines += ["", f"Worker {res['impl']} on {name[0]} failed: `{res['error']}`"]
    lines += ["", "## Workloads", ""] + [f"- {n}: {m['title']}; {m['detail']}" for n, m in run["workloads"].items()]
    if run.get("notes"):
        lines += ["", "## Notes", ""] + run["notes"]
    return "\n".join(lines) + "\n"
