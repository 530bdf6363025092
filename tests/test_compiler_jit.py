"""Numba through micrograd.compiler.jit, each run a fresh process as a user's would be.

- The disk cache: a damaged entry is recompiled and replaced with one warning line (Numba alone raises
  UnpicklingError/EOFError on every later run); an unwritable NUMBA_CACHE_DIR is named with the folder
  used instead; with no writable folder at all kernels compile in memory, with one warning.
- The first-run line: an entry point that Numba must compile prints "compiling the kernel for ... (first
  run), about N s" once on sys.stderr (a terminal and a notebook cell both show it); a warm start (the
  disk cache hit) prints nothing, and callees compiled inside an entry point say nothing.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the disk cache
SCALE_KERNEL = """
import numpy as np
from micrograd.compiler.jit import jit


@jit()
def scale(a, k):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * k
    return out


print(scale(np.arange(4.0), 2.5).sum(), sum(scale.stats.cache_hits.values()))
"""


def run_scale(folder: Path, cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)]), "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run(
        [sys.executable, "-c", "import kern"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 3], "garbage": b"\x80\x04garbage" * 7, "empty": b""}[how])


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".nbc", ".nbi"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_a_damaged_cache_entry_is_recompiled_and_replaced(tmp_path, suffix, how):
    (tmp_path / "kern.py").write_text(SCALE_KERNEL)
    cache = tmp_path / "cache"
    first = run_scale(tmp_path, cache)
    assert first.returncode == 0 and first.stdout.split() == ["15.0", "0"] and first.stderr == "", first.stderr
    files = sorted(cache.rglob("*" + suffix))
    assert len(files) == 1
    damage(files[0], how)

    second = run_scale(tmp_path, cache)  # Numba alone: UnpicklingError / EOFError / ValueError, on every run
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["15.0", "0"]  # recompiled, the right answer
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "Numba cache of scale" in lines[0] and "recompiling and replacing it" in lines[0]

    third = run_scale(tmp_path, cache)  # the entry was replaced: a clean cache hit, nothing to say
    assert third.returncode == 0 and third.stdout.split() == ["15.0", "1"] and third.stderr == "", third.stderr


@pytest.mark.slow
def test_an_unwritable_cache_dir_says_where_kernels_go_instead(tmp_path):
    (tmp_path / "kern.py").write_text(SCALE_KERNEL)
    blocker = tmp_path / "a-file"
    blocker.write_text("NUMBA_CACHE_DIR below a file cannot be created, even by root")
    r = run_scale(tmp_path, blocker / "cache")
    assert r.returncode == 0 and r.stdout.split()[0] == "15.0", r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NUMBA_CACHE_DIR={blocker / 'cache'} cannot be written" in lines[0]
    assert str(tmp_path / "__pycache__") in lines[0]  # Numba fell back to the folder next to the source
    assert list((tmp_path / "__pycache__").glob("kern.scale-*.nbi"))


@pytest.mark.slow
def test_unwritable_cache_falls_back_to_memory_with_one_warning(tmp_path):
    # No writable place at all (read-only install, unwritable NUMBA_CACHE_DIR and home): as root nothing is
    # read-only, so the subprocess removes Numba's cache locators, which is what Numba sees in that case.
    code = (
        "import warnings, numpy as np, numba.core.caching as c\n"
        "c.CacheImpl._locator_classes = []\n"
        "warnings.simplefilter('always')\n"
        "import micrograd\n"
        "cm = micrograd.compile(lambda xs: [xs[0] * xs[1]], n_inputs=2, params=[])\n"
        "print(cm(np.array([[2.0, 4.0], [3.0, 5.0]])).ravel().tolist())\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR="/dev/null/not-a-dir")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[8.0, 15.0]"
    warnings = [line for line in r.stderr.splitlines() if "Numba cannot write its cache" in line]
    assert len(warnings) == 1, r.stderr


# ---------------------------------------------------------------- the first-run line
LINE = "(first run), about"


ENTRY_KERNEL = """
import numpy as np
from micrograd.compiler.jit import jit


@jit()
def double(a):
    return a * 2.0


@jit(cold_s=3)
def entry(a):
    return double(a).sum()


print("result", entry(np.arange(4.0)))
"""


def run_entry(folder: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    (folder / "kern.py").write_text(ENTRY_KERNEL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)]), "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run(
        [sys.executable, "-c", "import kern"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cold_start_prints_one_line_and_a_warm_start_none(tmp_path):
    cache = tmp_path / "cache"
    cold = run_entry(tmp_path, cache)
    assert cold.returncode == 0, cold.stderr
    assert "result 12.0" in cold.stdout
    lines = [ln for ln in cold.stderr.splitlines() if LINE in ln]
    assert lines == ["micrograd: compiling the kernel for entry " + LINE + " 3 s (Numba caches it for the next runs)"]
    assert LINE not in cold.stdout  # stderr: the user's stdout (a pipe, a file) stays theirs
    warm = run_entry(tmp_path, cache)
    assert warm.returncode == 0, warm.stderr
    assert "result 12.0" in warm.stdout
    assert LINE not in warm.stderr, warm.stderr


def test_the_line_goes_to_the_current_sys_stderr(monkeypatch):
    # a notebook kernel replaces sys.stderr after import: the line must go to the stream in place at compile
    from micrograd.compiler.jit import jit

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


def test_an_entry_point_compiles_without_full_collections_and_puts_the_thresholds_back(monkeypatch):
    import gc

    from numba.core import event

    from micrograd.compiler.jit import NO_FULL_COLLECTION, jit

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    seen = []

    class Probe(event.Listener):  # registered after jit's own listener: sees the collector as the compiler does
        def on_start(self, ev):
            seen.append(gc.get_threshold())

        def on_end(self, ev):
            pass

    before = gc.get_threshold()
    entry = jit(cold_s=1)(lambda a: a[0] * 2.0)
    entry._cache.flush()
    with event.install_listener("numba:compile", Probe()):
        assert entry(np.ones(2)) == 2.0
    assert seen == [(*before[:2], NO_FULL_COLLECTION)]
    assert gc.get_threshold() == before
    plain = jit()(lambda a: a[0] - 1.0)  # not an entry point: the collector is left alone
    plain._cache.flush()
    seen.clear()
    with event.install_listener("numba:compile", Probe()):
        assert plain(np.ones(2)) == 0.0
    assert seen == [before]


def test_without_a_writable_cache_the_line_says_every_run_compiles(monkeypatch):
    # a read-only install: Numba refuses cache=True at decoration ("no locator available"), jit() compiles in
    # memory, and the first-run line must not promise a cache
    import numba

    from micrograd.compiler import jit as jit_module

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
    assert lines == [
        "micrograd: compiling the kernel for "
        + fresh.__qualname__
        + " "
        + LINE
        + " 4 s (no cache folder is writable, so every run compiles it)"
    ]


def test_generated_kernels_announce_what_they_compile():
    from micrograd.compiler import codegen
    from micrograd.compiler import jit as jit_module

    kernel = codegen.STORE.kernel(frozenset({"relu"}))
    seconds, what = jit_module._entry_points[kernel.run.py_func]
    assert seconds >= 1 and what == kernel.WHAT == codegen.describe(kernel.FEATURES)
    assert "relu" in kernel.FEATURES
