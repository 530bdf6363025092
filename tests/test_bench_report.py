"""bench/report.py: a reader sees what is measured and against what before any verdict, and that the targets
are the project's own stretch targets; --quick lists only what it measured. (No timing is run here.)"""

import subprocess
import sys
from pathlib import Path

from bench import report, run

ROOT = Path(__file__).resolve().parent.parent


def a_run(quick: bool) -> dict:
    rows = {
        ("A", k): {"median": m, "stdev": None, "values": 1, "threads": "1", "warnings": []}
        for k, m in [
            ("value", 0.13),
            ("numpy", 1.3e-4),
            ("torch1", 4e-4),
            ("hand1", 1.2e-5),
            ("handfwd1", 7e-6),
            ("fit", 1.3e-5),
            ("fit1", 5e-5),
            ("lag", 2.3e-5),
            ("fwd", 9e-6),
        ]
    }
    return {
        "command": "python bench/run.py --quick" if quick else "python bench/run.py",
        "quick": quick,
        "date": "today",
        "wall_s": 40.0,
        "machine": {"cores": 2},
        "settings": "1 process",
        "notes": [],
        "workloads": {"A": {"title": "moons 2-16-16-1, batch 100"}},
        "validation": [],
        "rows": rows,
        "probes": {"start-warm": {"total_s": 0.5, "import_s": 0.1, "compile_s": 0.2, "first_fit_s": 0.2}},
    }


def test_what_and_against_what_come_before_any_verdict():
    for quick in (False, True):
        text = report.render(a_run(quick))
        order = [
            text.index(h) for h in ("## What is measured", "hand-fused", "## The compiled path against", "## Targets")
        ]
        assert order == sorted(order)
        first_verdict = min(text.index(v) for v in ("**MISSED**", "| met |") if v in text)
        assert text.index("the project's own stretch targets") < first_verdict
        assert text.index("## The compiled path against") < first_verdict
        console = report.console(a_run(quick))
        assert console.index("yardsticks") < console.index("stretch targets") < console.index("**MISSED**")


def test_quick_lists_only_the_targets_it_measured():
    quick, full = report.render(a_run(True)), report.render(a_run(False))
    assert "| not measured |" not in quick.split("## Targets")[1].split("## ")[0]
    assert "| not measured |" in full.split("## Targets")[1].split("## ")[0]
    assert "Not measured in this run:" in quick


def test_quick_runs_the_main_rows_of_moons():
    tasks = run.impls.tasks(run.QUICK_WORKLOADS, run.QUICK_IMPLS)
    assert {w for w, _ in tasks} == {"A"}
    assert {"value", "numpy", "torch1", "hand1", "fit", "lag", "fwd"} <= {k for _, k in tasks}


def test_run_without_pyperf_says_which_extra_in_one_line(tmp_path):
    (tmp_path / "pyperf.py").write_text("raise ImportError('no pyperf here')\n")  # shadows the installed one
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "pip install -e '.[bench]'" in r.stderr, r.stderr
