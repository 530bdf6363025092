"""bench/run.py's guard on the results of record: RESULTS.md is written from a committed tree only; any other
--out is always allowed. (Timings are not run here.)"""

import subprocess

from bench import run


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_results_of_record_need_a_committed_tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    git("init", "-q", cwd=tree)
    (tree / "a.py").write_text("x = 1\n")
    git("add", "a.py", cwd=tree)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a", cwd=tree)
    assert run.refuse_record(run.RECORD, tree) is None  # committed: allowed
    (tree / "a.py").write_text("x = 2\n")
    (tree / "new.py").write_text("")
    why = run.refuse_record(run.RECORD, tree)
    assert "uncommitted edits" in why and "a.py" in why and "new.py" in why and "--out" in why
    assert run.refuse_record(tmp_path / "try.md", tree) is None  # elsewhere: always allowed
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "git cannot tell" in run.refuse_record(run.RECORD, plain)  # not a checkout
