"""``python -m micrograd check FILE``: the file checked in a child process, one line and a status per outcome.

    status, text = check_file("model.py", timeout=60.0)   # what the command line prints, and its exit status

Contract:
- Exit status 0 only when a model was checked and both paths agree, 1 when they
  disagree; the text is then the verdict in one line (``CheckReport.line``),
  followed by the table when asked (``detail="table"``: the 20 largest
  differences, ``"all"``: every quantity). Status 2 when the file cannot be
  checked, and the text is one line saying why: no such file, the file raises
  (a syntax error, ``input()``: it has no standard input), calls ``sys.exit``
  or ``os._exit``, defines no ``model``; the model raises, or calls
  ``sys.exit``, on either path (a domain error of a row of ``X`` included); or
  it does not finish in time.
- The file runs as ``python FILE`` would, with the user's rights: it can do
  whatever the user can. Its folder comes first on ``sys.path``,
  ``sys.argv == [FILE]``, the working directory is the caller's, and what it
  prints goes to the caller's stdout and stderr. Only its ``atexit``
  handlers do not run (the child ends as soon as its verdict is written).
- ``timeout`` (seconds) bounds each of the two phases: running the file, then
  checking its model (tracing, the kernels' first compilation on a machine,
  about 15 s, and both paths). What runs longer is stopped, its child
  processes with it, and reported as status 2.

Why a child process and not a thread: a thread cannot be stopped. A file stuck
in a loop that never gives the interpreter back (C code holding the GIL: a
NumPy call, a compiled kernel) would leave the main thread unable even to
print, and a stuck thread keeps the process alive. A process can be killed,
and its exit code is not trusted: the verdict travels in a file the child
writes last, so ``sys.exit(0)`` or ``os._exit(0)`` in the user's code cannot
pass for a successful check. Cost: one more Python start, about a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DETAIL = ("", "table", "all")
_CHILD = "import sys; from micrograd.checkfile import child; child(sys.argv[1:])"


def check_file(
    path, rtol: float | None = None, atol: float | None = None, timeout: float = 60.0, detail: str = ""
) -> tuple[int, str]:
    """(exit status, text to print) of checking the file at path in a child process (module docstring)."""
    if not os.path.isfile(path):
        return 2, f"{path}: no such file"
    with tempfile.TemporaryDirectory(prefix="micrograd-check-") as tmp:
        verdict, ran = os.path.join(tmp, "verdict.json"), os.path.join(tmp, "ran")
        args = [os.fspath(path), verdict, ran, repr(rtol), repr(atol), detail]
        package_parent = str(Path(__file__).resolve().parent.parent)  # the child imports this very micrograd
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args],
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=os.name == "posix",  # its own process group: stopped with whatever it started
        )
        try:
            phase, deadline = "running the file", time.monotonic() + timeout
            while True:
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if os.path.exists(verdict):  # written last: the check is over, whatever the process still does
                    break
                if phase == "running the file" and os.path.exists(ran):
                    phase, deadline = "checking its model", time.monotonic() + timeout
                if time.monotonic() > deadline:
                    return 2, (
                        f"{path} did not finish within {timeout:g} s ({phase}), so it was stopped; "
                        f"give it longer with --timeout SECONDS"
                    )
        finally:
            _stop(proc)
        try:
            with open(verdict) as f:
                status, text = json.load(f)
        except (OSError, ValueError):
            code = proc.returncode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            return 2, (
                f"{path} ended its process ({how}) before anything was checked: a file for check defines "
                f"model (and X, y, loss) at module level and returns"
            )
    return int(status), str(text)


def _stop(proc: subprocess.Popen) -> None:
    """The child and everything it started, stopped (nothing to do when it has ended on its own)."""
    if proc.poll() is None:
        if os.name == "posix":
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            proc.kill()
    proc.wait()


def child(argv: list[str]) -> None:
    """The child process: run the file, check it, write (status, text) to the verdict file, end at once."""
    from micrograd.check import SHOW, CheckFileError, check_loaded, load_file

    path, verdict, ran, rtol, atol, detail = argv
    sys.argv = [path]
    if sys.path[:1] == [""]:  # `python -c` put the working directory first; `python FILE` puts FILE's folder
        del sys.path[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    status, text = 2, ""
    try:
        env = load_file(path)
        open(ran, "w").close()  # the parent's clock starts again for the check
        report = check_loaded(path, env, _number(rtol), _number(atol))
        status, text = (0 if report else 1), report.line()
        if detail:
            text += "\n" + report.table(None if detail == "all" else SHOW)
    except CheckFileError as e:
        text = str(e)
    except BaseException as e:  # everything ends in one line, even an internal error
        text = " ".join(f"{path}: {type(e).__name__}: {e}".split())
    sys.stdout.flush()
    sys.stderr.flush()
    with open(verdict + ".tmp", "w") as f:
        json.dump([status, text], f)
    os.replace(verdict + ".tmp", verdict)  # whole or absent: the parent never reads half a verdict
    os._exit(0)  # not through the file's atexit handlers or its threads: the verdict is written


def _number(text: str) -> float | None:
    return None if text == "None" else float(text)
