"""RESULTS.md from one run: what is measured and against what, the compiled path beside its yardsticks, the
targets (met / MISSED), the machine, every timed row, validation, probes.

``figures(run)`` derives the numbers the targets read (``bench/targets.py``)
from the run's pyperf medians and probe results; ``render(run)`` writes the
Markdown, in the order a reader needs it: what is timed and the yardsticks it
is set against come before any verdict, and the targets say they are the
project's own stretch targets. ``console(run)`` is the part ``run.py`` prints.
``run`` is the dict ``run.py`` collects: ``machine``, ``settings``, ``validation``
rows, ``rows[(workload, impl)]`` (median, std dev, values, threads, pyperf's
warnings, or an error), ``probes`` and ``workloads``. A number this run did
not measure is "not measured", never a pass.
"""

from __future__ import annotations

from bench import impls, targets
from bench.targets import MIB, fmt_s

PAIRS = {"torch": ("torch1", "torch2"), "hand": ("hand1", "hand2"), "handfwd": ("handfwd1", "handfwd2")}


def median(run: dict, name: str, key: str) -> float | None:
    row = run["rows"].get((name, key))
    return row.get("median") if row else None


def best(run: dict, name: str, pair: str) -> tuple:
    """(the better median of the pair's rows, its key), e.g. PyTorch at 1 or 2 threads."""
    found = [(median(run, name, k), k) for k in PAIRS[pair] if median(run, name, k)]
    return min(found) if found else (None, None)


def _ratio(a, b):
    return a / b if a and b else None


def figures(run: dict) -> dict[str, float]:
    f = {}
    for w in "ABC":
        hand = best(run, w, "hand")[0]
        f[f"{w}.fit_vs_hand"] = _ratio(median(run, w, "fit"), hand)
        f[f"{w}.lag_vs_hand"] = _ratio(median(run, w, "lag"), hand)
        fwd, kernel = median(run, w, "fwd"), best(run, w, "handfwd")[0]
        f[f"{w}.fwd_minus_kernel"] = fwd - kernel if fwd and kernel else None
        f[f"{w}.torch_over_lag"] = _ratio(best(run, w, "torch")[0], median(run, w, "lag"))
    d, n_ops = median(run, "D", "lag"), run["workloads"].get("D", {}).get("n_ops")
    f["D.ns_per_op"] = d / n_ops * 1e9 if d and n_ops else None
    fit1, fit = median(run, "A", "fit1"), median(run, "A", "fit")
    f["A.fit_overhead"] = fit1 - fit if fit1 and fit else None
    probes = run["probes"]
    for kind in ("cold", "warm"):
        p = probes.get(f"start-{kind}") or {}
        f[f"start.{kind}"] = p.get("total_s")
    f["start.suite"] = (probes.get("suite") or {}).get("compile_s")
    stages = (probes.get("memory") or {}).get("stages")
    if stages:
        f["memory.C_over_model"] = stages["after the first fit"] - stages["after building the model"]
    for sizes, p in (probes.get("trace") or {}).items():
        if "nodes_per_s" in p:
            f[f"trace.{sizes}.nodes_per_s"] = p["nodes_per_s"]
    return {k: v for k, v in f.items() if v is not None}


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c) for c in r) + " |" for r in rows
    ]


def _cell(run: dict, w: str, key: str, hand: float | None) -> str:
    """A compiled row's median and its ratio to the hand-fused step, or a dash."""
    m = median(run, w, key)
    return f"{fmt_s(m)} ({_x(_ratio(m, hand))})" if m else "—"


def _err(row: dict, key: str) -> str:
    return f"{row[key]:.1e}" if key in row else "—"


def _x(r: float | None) -> str:
    return "—" if r is None else (f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x")


def _targets(run: dict) -> list[str]:
    judged = targets.judge(figures(run))
    shown = [j for j in judged if j[2] is not None] if run["quick"] else judged  # --quick: what it measured
    lines = _table(["target", "measured", ""], [[t.text, m, targets.verdict(ok)] for t, m, ok in shown])
    missed = [t.text for t, _, ok in judged if ok is False]
    measured = sum(ok is not None for _, _, ok in judged)
    lines += [
        "",
        f"Missed: {len(missed)} of the {measured} measured"
        + (": " + "; ".join(missed) + "." if missed else ".")
        + (f" Not measured in this run: {len(judged) - measured}." if measured < len(judged) else ""),
    ]
    return lines


def _summary(run: dict) -> list[str]:
    """The summary table: per workload, the yardsticks and the compiled path's three entry points."""
    rows = []
    for w in run["workloads"]:
        if w == "D":
            continue
        torch, tk = best(run, w, "torch")
        hand, hk = best(run, w, "hand")
        fwd, kernel = median(run, w, "fwd"), best(run, w, "handfwd")[0]
        rows.append(
            [
                w,
                f"{fmt_s(torch)} ({impls.IMPLS[tk].threads})" if tk else "—",
                f"{fmt_s(hand)} ({impls.IMPLS[hk].threads})" if hk else "—",
                _cell(run, w, "fit", hand),
                _cell(run, w, "lag", hand),
                f"{fmt_s(fwd)} vs {fmt_s(kernel)}" if fwd and kernel else "—",
                _x(_ratio(torch, median(run, w, "lag"))),
            ]
        )
    return _table(
        [
            "workload",
            "PyTorch eager f64, best of 1/2 threads",
            "hand-fused, best of BLAS 1/2 threads",
            "`fit` per step (x hand-fused)",
            "`loss_and_grad` per call (x hand-fused)",
            "`cm(X)` vs its kernel",
            "PyTorch / `loss_and_grad`",
        ],
        rows,
    )


def _rows(run: dict) -> list[str]:
    out = []
    for w, meta in run["workloads"].items():
        for key in impls.ORDER:
            r = run["rows"].get((w, key))
            if r is None:
                continue
            if "error" in r:
                out.append([w, impls.IMPLS[key].label, "failed", "", "", r["error"], ""])
                continue
            per = f" ({r['median'] / meta['n_ops'] * 1e9:,.1f} ns/op)" if w == "D" else ""
            est = f" (est. from {impls.VALUE_B_SUBSET} examples)" if key == "value" and w == "B" else ""
            out.append(
                [
                    w,
                    impls.IMPLS[key].label + est,
                    fmt_s(r["median"]) + per,
                    "—" if r.get("stdev") is None else fmt_s(r["stdev"]),
                    r["values"],
                    r["threads"],
                    "; ".join(r["warnings"]) or "ok",
                ]
            )
    return _table(
        [
            "workload",
            "implementation",
            "median",
            "std dev",
            "values",
            "threads in its worker process",
            "pyperf's checks",
        ],
        out,
    )


def _validation(run: dict) -> list[str]:
    out = []
    for r in run["validation"]:
        verdict = "ok" if r["ok"] else "FAILED" + (f": {r['error']}" if "error" in r else f" (tol {r['tol']:.0e})")
        steps = f" ({r['steps']} step{'s' if r['steps'] > 1 else ''})" if "steps" in r else ""
        out.append(
            [
                r["workload"],
                impls.IMPLS[r["impl"]].label,
                r["oracle"],
                f"{r['loss']:.12g}" if "loss" in r else "—",
                _err(r, "loss_err"),
                _err(r, "grad_err"),
                _err(r, "step_err") + steps,
                _err(r, "out_err"),
                verdict,
            ]
        )
    return _table(
        [
            "workload",
            "implementation",
            "oracle",
            "loss",
            "loss rel err",
            "grad rel err",
            "weights after one timed call",
            "outputs rel err",
            "",
        ],
        out,
    )


def _probe_error(p) -> str | None:
    return None if p is None else p.get("error")


def _compile(run: dict) -> list[str]:
    probes, lines = run["probes"], []
    if probes.get("start-cold") is not None:
        lines.append(
            "- each start in a fresh process; cold: Numba's cache folder empty, and Python's bytecode of the "
            "installed packages (NumPy, Numba, ...) present but not micrograd's, as on a first run after "
            "`pip install`; warm: both filled"
        )
    for kind in ("cold", "warm"):
        p = probes.get(f"start-{kind}")
        if p is None:
            continue
        if _probe_error(p):
            lines.append(f"- start, {kind} cache: the probe failed: {p['error']}")
            continue
        shown = p.get("printed", "").strip().splitlines()
        lines.append(
            f"- start, {kind} cache: `import micrograd` {fmt_s(p['import_s'])}; `compile()` of moons "
            f"{fmt_s(p['compile_s'])} + first `fit` {fmt_s(p['first_fit_s'])} = **{fmt_s(p['total_s'])}**; "
            "the process printed " + (f"`{' / '.join(shown)[:200]}`" if shown else "nothing")
        )
    cold, warm = probes.get("kernels-cold"), probes.get("kernels-warm")
    for kind, p in (("cold", cold), ("warm", warm)):
        if _probe_error(p):
            lines.append(f"- kernels, {kind} cache: the probe failed: {p['error']}")
    have = [p for p in (cold, warm) if p and "rows" in p]
    if have:
        index = {
            k: {(r["workload"], r["dtype"], r["entry"]): r for r in p["rows"]}
            for k, p in (("cold", cold), ("warm", warm))
            if p and "rows" in p
        }
        rows = []
        for key in dict.fromkeys(k for p in have for k in ((r["workload"], r["dtype"], r["entry"]) for r in p["rows"])):
            cells = [key[0], key[1], {"lag": "loss_and_grad", "fwd": "cm(X)"}.get(key[2], key[2])]
            for kind in ("cold", "warm"):
                r = index.get(kind, {}).get(key)
                cells.append(f"{fmt_s(r['kernels_s'])} (first call {fmt_s(r['first_s'])})" if r else "—")
            rows.append(cells)
        lines += ([""] if lines else []) + _table(
            [
                "workload",
                "dtype",
                "entry point (in this order)",
                "kernel compile, empty cache",
                "cache load, warm cache",
            ],
            rows,
        )
        for kind, p in (("cold", cold), ("warm", warm)):
            if p and "rows" in p:
                total = p["import_s"] + sum(r["kernels_s"] for r in p["rows"])
                lines.append(
                    f"\n{kind}: importing the compiler and Numba {fmt_s(p['import_s'])}; every kernel "
                    f"these entry points reach, in total: **{fmt_s(total)}**."
                )
    return lines or ["Not measured in this run."]


def _memory(run: dict) -> list[str]:
    mem, npy = run["probes"].get("memory"), run["probes"].get("memory-numpy")
    lines = []
    for label, p in (("compiled (`micrograd.compile`)", mem), ("NumPy by hand", npy)):
        if not p:
            continue
        if _probe_error(p):
            lines.append(f"- {label}: the probe failed: {p['error']}")
            continue
        st = p["stages"]
        base = st["after building the model"]
        lines.append(
            f"- {label}: "
            + ", ".join(
                f"{k} {v / MIB:.0f} MiB" + (f" ({(v - base) / MIB:+.0f})" if v != base else "") for k, v in st.items()
            )
            + f"; peak {p['peak'] / MIB:.0f} MiB"
        )
    return lines or ["Not measured in this run."]


def _trace(run: dict) -> list[str]:
    rows = []
    for sizes, p in (run["probes"].get("trace") or {}).items():
        if _probe_error(p):
            rows.append([sizes, "failed", p["error"], "", "", "", ""])
            continue
        rows.append(
            [
                sizes,
                f"{p['n_params']:,}",
                f"{p['nodes']:,}",
                fmt_s(p["seconds"]),
                f"{p['nodes_per_s'] / 1e3:,.0f}k",
                f"{p['peak_bytes'] / MIB:.0f} MiB peak, {p['retained_bytes'] / MIB:.0f} MiB kept",
                f"{p['bytes_per_node']:.0f}",
            ]
        )
    if not rows:
        return ["Not measured in this run."]
    return _table(
        [
            "MLP",
            "parameters",
            "graph nodes",
            "compile() = trace + lower",
            "nodes/s",
            "memory (over the built model)",
            "peak bytes per node",
        ],
        rows,
    )


STRETCH = (
    "These are the project's own stretch targets for the compiled path (`bench/targets.py`), set to say "
    "how close it comes to a kernel written by hand for one model: met means it got there, **MISSED** "
    'means not yet; neither means something is broken. A number this run did not measure is "not '
    'measured", never a pass.'
)


def _measured(run: dict) -> list[str]:
    """What is timed, and the yardsticks it is set against: read before any verdict."""
    impl_keys = dict.fromkeys(k for _, k in run["rows"])
    lines = [
        "Each row times one call of one implementation on one workload, in its own processes, after it "
        "gave the oracle's loss and gradients (*Validation*): for most rows one training step (forward, "
        "loss, backward, SGD update). The workloads:",
        "",
    ]
    lines += [f"- {n}: {m['title']}" for n, m in run["workloads"].items()]
    lines += ["", "The implementations, the yardsticks first:", ""]
    about = {
        "value": "micrograd's own Value graph in pure Python, the path the lessons teach",
        "numpy": "the same step written with NumPy arrays by hand",
        "torch": "PyTorch, eager, float64 (the same precision)",
        "hand": "the hand-fused kernel, the yardstick: one Numba function written by hand for exactly "
        "this model and step (`bench/references/handfused.py`), as fast as we know how to write it",
        "handfwd": "that kernel cut to its forward pass, the yardstick of `cm(X)`",
        "fit": "the compiled path: `micrograd.compile(model)`, then `fit` (per step), `loss_and_grad` or `cm(X)`",
    }
    shown = set()
    for key in impl_keys:
        group = next((g for g in ("handfwd", "hand", "torch", "numpy", "value") if key.startswith(g)), "fit")
        if group not in shown:
            shown.add(group)
            lines.append(f"- {about[group]}")
    return lines


def console(run: dict) -> str:
    """What bench/run.py prints at the end: what was measured against what, then the verdicts."""
    text = render(run)
    part = text.split("## The compiled path against its yardsticks")[1].split("## ")[0].strip()
    targets = text.split("## Targets")[1].split("## ")[0].strip().split("\n", 1)[1].strip()
    return "\n".join(
        [
            "The compiled path against its yardsticks (per step or call; in brackets: x the hand-fused kernel):",
            part,
            "",
            STRETCH,
            "",
            targets,
        ]
    )


def render(run: dict) -> str:
    s = run["settings"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{run['command']}` on {run['date']} in {run['wall_s']:.0f} s"
        + (" (**--quick**: a first look, numbers are rough)." if run["quick"] else "."),
        f"Every row is timed by pyperf in worker processes of its own ({s}), after validation against an "
        "independent oracle; compile and JIT time are excluded from the rows and reported under "
        "*Compile and start-up*. Medians; the JSON beside this file holds every value "
        "(`python -m pyperf compare_to OLD.json NEW.json` compares two runs). Definitions: "
        "`bench/targets.py`.",
        "",
        "## What is measured, and against what",
        "",
    ]
    lines += _measured(run)
    lines += ["", "## The compiled path against its yardsticks", ""] + _summary(run)
    lines += ["", "## Targets", "", STRETCH, ""] + _targets(run)
    lines += ["", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in run["machine"].items()]
    lines += ["", "## Every timed row", ""] + _rows(run)
    lines += ["", "## Validation (before timing)", ""] + _validation(run)
    lines += ["", "## Compile and start-up", ""] + _compile(run)
    lines += ["", "## Memory, 784-128-10 (resident; in brackets: over the built model)", ""] + _memory(run)
    lines += ["", "## Trace + lower", ""] + _trace(run)
    if run.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in run["notes"]]
    return "\n".join(lines) + "\n"
