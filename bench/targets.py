"""The performance targets of the compiled path, in one place, and how a run is judged against them.

Each ``Target`` names the figure it reads (a key of the ``figures`` dict that
``bench/report.py`` derives from one run), a bound and a direction. ``judge``
returns one row per target: the measured value, and ``True`` (met), ``False``
(MISSED) or ``None`` (not measured in this run: never shown as met).

Definitions the targets rely on (the report repeats them):
- "hand-fused" is ``bench/references/handfused.py``'s ``step`` kernel (one Numba call:
  forward, loss, backward, SGD update, ``np.dot`` for the products), at the
  better of BLAS 1 and 2 threads; "PyTorch" is eager float64 at the better of
  ``torch.set_num_threads(1)`` and ``(2)``.
- "cm(X)'s kernel" is ``handfused.forward``: the hand-fused kernel cut to its
  forward pass, one Numba call computing the same (N, nout) outputs into a
  preallocated array. Both are timed per call by pyperf in their own
  processes; the figure is ``median(cm(X)) - median(handfused.forward)``, so
  it is what ``cm(X)`` costs beyond a hand-written forward kernel (its Python
  wrapper, input checks and copies, and any slower kernel code).
- fit call overhead: one ``cm.fit(epochs=1)`` call on A (one full-batch step)
  minus the per-step time of ``fit`` (``epochs=K`` in one call, divided by K).
"""

from __future__ import annotations

from typing import NamedTuple

MIB = 2**20


class Target(NamedTuple):
    key: str  # the figure it reads
    text: str  # what the report prints
    bound: float
    at_most: bool  # True: measured <= bound; False: measured >= bound
    unit: str  # 'x', 's', 'ns', 'MiB', 'nodes/s'


TARGETS: list[Target] = [
    *(
        Target(f"{w}.fit_vs_hand", f"{w}: `fit` per step <= 1.15x the hand-fused kernel", 1.15, True, "x")
        for w in "ABC"
    ),
    *(
        Target(f"{w}.lag_vs_hand", f"{w}: `loss_and_grad` per call <= 1.25x the hand-fused kernel", 1.25, True, "x")
        for w in "ABC"
    ),
    *(
        Target(f"{w}.fwd_minus_kernel", f"{w}: `cm(X)` within 3 us of its kernel (hand-fused forward)", 3e-6, True, "s")
        for w in "AB"
    ),
    Target("A.torch_over_lag", "A: PyTorch (best of 1/2 threads) / `loss_and_grad` >= 18x", 18.0, False, "x"),
    Target("B.torch_over_lag", "B: PyTorch (best of 1/2 threads) / `loss_and_grad` >= 2.3x", 2.3, False, "x"),
    Target("C.torch_over_lag", "C: PyTorch (best of 1/2 threads) / `loss_and_grad` >= 1.1x", 1.1, False, "x"),
    Target("D.ns_per_op", "D: forward + backward <= 12 ns per op (`loss_and_grad`)", 12.0, True, "ns"),
    Target("A.fit_overhead", "A: one `fit(epochs=1)` call <= its step + 10 us", 10e-6, True, "s"),
    Target("start.cold", "cold start: `compile()` of moons + first `fit`, empty cache <= 5 s", 5.0, True, "s"),
    Target("start.warm", "warm start: the same with the cache filled <= 0.3 s", 0.3, True, "s"),
    Target("start.suite", "the kernels the whole test suite compiles, cold, <= 30 s together", 30.0, True, "s"),
    Target(
        "memory.C_over_model",
        "C: resident after compile() + first fit <= 40 MiB beyond the Numba runtime and its kernel",
        40 * MIB,
        True,
        "MiB",
    ),
    *(
        Target(f"trace.{s}.nodes_per_s", f"trace + lower of {s} >= 500k graph nodes/s", 5e5, False, "nodes/s")
        for s in ("784-128-10", "784-512-10", "784-512-512-10")
    ),
]


def fmt(value: float | None, unit: str) -> str:
    """A figure as the report prints it."""
    if value is None:
        return "not measured"
    if unit == "x":
        return f"{value:,.2f}x"
    if unit == "s":
        return fmt_s(value)
    if unit == "ns":
        return f"{value:.1f} ns"
    if unit == "MiB":
        return f"{value / MIB:+.1f} MiB"
    if unit == "nodes/s":
        return f"{value / 1e3:,.0f}k nodes/s"
    return f"{value:g}"


def fmt_s(s: float | None) -> str:
    if s is None:
        return "—"
    a = abs(s)
    if a < 1e-3:
        return f"{s * 1e6:.1f} us"
    if a < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def judge(figures: dict[str, float]) -> list[tuple]:
    """(target, measured text, True met / False missed / None not measured) for every target."""
    rows = []
    for t in TARGETS:
        v = figures.get(t.key)
        ok = None if v is None else (v <= t.bound if t.at_most else v >= t.bound)
        rows.append((t, fmt(v, t.unit), ok))
    return rows


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**MISSED**", None: "not measured"}[ok]
