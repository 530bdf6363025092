"""What a warm start costs with and without Numba's full target-context refresh on a cache load.

    python -m bench.studies.warm_start [--runs N]

Fills an empty kernel cache with one run of ``bench/probes.py``'s ``start`` probe (``import micrograd``,
``compile()`` of the moons MLP, first ``fit``), then runs the same probe warm N times in fresh processes
each way: as micrograd loads kernels (``jit.RecoveringCache.load_overload`` initializes only Numba's
runtime) and with ``target_context.refresh()`` called first, as Numba's own cache does. Python's
bytecode cache is written and read as on an ordinary install. Prints each run's total seconds. Not a
benchmark (bench/run.py is).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys
if sys.argv[1] == "refresh":
    from micrograd.compiler import jit
    load = jit.RecoveringCache.load_overload
    def load_overload(self, sig, target_context):
        target_context.refresh()
        return load(self, sig, target_context)
    jit.RecoveringCache.load_overload = load_overload
from bench import probes
print(json.dumps(probes.start()))
"""


def run(how: str, cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPYCACHEPREFIX=os.path.join(cache, "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", CHILD, how], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["total_s"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        print(f"cold: {run('as is', cache):.2f} s")
        times: dict[str, list[float]] = {"runtime only (micrograd)": [], "full refresh (Numba's own)": []}
        for _ in range(args.runs):
            times["runtime only (micrograd)"].append(run("as is", cache))
            times["full refresh (Numba's own)"].append(run("refresh", cache))
        for name, ts in times.items():
            print(f"warm, {name}: " + ", ".join(f"{t:.2f}" for t in sorted(ts)) + " s")


if __name__ == "__main__":
    main()
