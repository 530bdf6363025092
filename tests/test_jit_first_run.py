"""The first-run line: an entry point that Numba must compile prints "compiling kernels for the first run,
about N s" once on sys.stderr (a terminal and a notebook cell both show it); a warm start (the disk cache
hit) prints nothing, and callees compiled inside an entry point say nothing. Fresh processes, as a user's."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINE = "compiling kernels for the first run, about"
KERNEL = """
import numpy as np
from micrograd.jit import jit


@jit()
def double(a):
    return a * 2.0


@jit(cold_s=3)
def entry(a):
    return double(a).sum()


print("result", entry(np.arange(4.0)))
"""


def run(folder: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    (folder / "kern.py").write_text(KERNEL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)]), "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run(
        [sys.executable, "-c", "import kern"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def test_cold_start_prints_one_line_and_a_warm_start_none(tmp_path):
    cache = tmp_path / "cache"
    cold = run(tmp_path, cache)
    assert cold.returncode == 0, cold.stderr
    assert "result 12.0" in cold.stdout
    lines = [ln for ln in cold.stderr.splitlines() if LINE in ln]
    assert lines == ["micrograd: " + LINE + " 3 s (Numba caches them for the next runs)"], cold.stderr
    assert LINE not in cold.stdout  # stderr: the user's stdout (a pipe, a file) stays theirs
    warm = run(tmp_path, cache)
    assert warm.returncode == 0, warm.stderr
    assert "result 12.0" in warm.stdout
    assert LINE not in warm.stderr, warm.stderr


def test_the_line_goes_to_the_current_sys_stderr(monkeypatch):
    # a notebook kernel replaces sys.stderr after import: the line must go to the stream in place at compile
    from micrograd.jit import jit

    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)

    def fresh(a):  # defined here, so no cache holds it; compiled in memory like any cache miss
        return a[0] + 1.0

    entry = jit(cold_s=7)(fresh)
    entry._cache.flush()
    assert entry(np.ones(2)) == 2.0
    assert LINE + " 7 s" in captured.getvalue()
    before = captured.getvalue()
    assert entry(np.ones(3)) == 2.0  # already compiled for this signature: silent
    assert captured.getvalue() == before


def test_without_a_writable_cache_the_line_says_every_run_compiles(monkeypatch):
    # a read-only install: Numba refuses cache=True at decoration ("no locator available"), jit() compiles in
    # memory, and the first-run line must not promise a cache
    import numba

    from micrograd import jit as jit_module

    real_njit = numba.njit

    def no_cache(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function 'fresh': no locator available for file 'fresh.py'")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache)
    monkeypatch.setattr(jit_module, "_warned", set())
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)

    def fresh(a):
        return a[0] * 3.0

    with pytest.warns(RuntimeWarning, match="compiling in memory"):
        entry = jit_module.jit(cold_s=4)(fresh)
    assert entry(np.ones(2)) == 3.0
    lines = [ln for ln in captured.getvalue().splitlines() if LINE in ln]
    assert lines == ["micrograd: " + LINE + " 4 s (no cache folder is writable, so every run compiles them)"]


def test_the_training_entry_points_announce_themselves():
    from micrograd import jit as jit_module
    from micrograd.compiler import kernels

    for name in ("fit", "loss_and_grad", "step_chunks", "forward"):
        assert id(getattr(kernels, name).py_func) in jit_module._entry_points, name
