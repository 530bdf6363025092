"""Numba's on-disk kernel cache through micrograd.jit: a damaged entry is recompiled and replaced with one
warning line (Numba alone raises UnpicklingError/EOFError on every later run), and an unwritable
NUMBA_CACHE_DIR is named with the folder used instead. Each run is a fresh process, as a user's would be."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = """
import numpy as np
from micrograd.jit import jit


@jit()
def scale(a, k):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * k
    return out


print(scale(np.arange(4.0), 2.5).sum(), sum(scale.stats.cache_hits.values()))
"""


def run(folder: Path, cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)]), "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run(
        [sys.executable, "-c", "import kern"], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 3], "garbage": b"\x80\x04garbage" * 7, "empty": b""}[how])


@pytest.mark.parametrize("suffix", [".nbc", ".nbi"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty"])
def test_a_damaged_cache_entry_is_recompiled_and_replaced(tmp_path, suffix, how):
    (tmp_path / "kern.py").write_text(KERNEL)
    cache = tmp_path / "cache"
    first = run(tmp_path, cache)
    assert first.returncode == 0 and first.stdout.split() == ["15.0", "0"] and first.stderr == "", first.stderr
    files = sorted(cache.rglob("*" + suffix))
    assert len(files) == 1
    damage(files[0], how)

    second = run(tmp_path, cache)  # before: UnpicklingError / EOFError / ValueError, on every run
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["15.0", "0"]  # recompiled, the right answer
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "Numba cache of scale" in lines[0] and "recompiling and replacing it" in lines[0]

    third = run(tmp_path, cache)  # the entry was replaced: a clean cache hit, nothing to say
    assert third.returncode == 0 and third.stdout.split() == ["15.0", "1"] and third.stderr == "", third.stderr


def test_an_unwritable_cache_dir_says_where_kernels_go_instead(tmp_path):
    (tmp_path / "kern.py").write_text(KERNEL)
    blocker = tmp_path / "a-file"
    blocker.write_text("NUMBA_CACHE_DIR below a file cannot be created, even by root")
    r = run(tmp_path, blocker / "cache")
    assert r.returncode == 0 and r.stdout.split()[0] == "15.0", r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NUMBA_CACHE_DIR={blocker / 'cache'} cannot be written" in lines[0]
    assert str(tmp_path / "__pycache__") in lines[0]  # Numba fell back to the folder next to the source
    assert list((tmp_path / "__pycache__").glob("kern.scale-*.nbi"))
