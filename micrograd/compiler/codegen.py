"""Kernels generated per set of features: a program compiles only what it uses.

A program needs a set of *features* (``features(prog, ...)``): the op-table ops
it runs (``relu``, ``mul``, ...), its fused loss (``loss:hinge``), whether it
trains (``train``) and with which update (``sgd``, ``adam``), and the pieces of
machinery its instructions use (``gather``, ``consts``, ``params``, ...).
``source(features)`` writes a kernel module for a set of features from
``compiler/template.py``: one Numba entry point ``run`` that holds forward,
fused loss, backward and the training loop, with one branch per op of the set,
each calling the op table's own functions. One entry point per kernel, so
Numba compiles (and re-optimizes) its code once, not once per entry point. The
op branches of a kernel of many ops are in callees of ``run`` (``forward_op``,
``backward_op``, ``forward_scalars``, ``backward_scalars``): Numba compiles
several small functions faster than one large one (``INLINE_OPS``).

``KernelStore.kernel(needs, dtype)`` returns a loaded kernel whose features include
``needs``: one already loaded in this process, else one compiled on this
machine before (listed in the store folder's ``index.json``), else a new one.
A new kernel is written to the store folder under a name that hashes its text
(which includes a digest of every source compiled into it), so Numba's disk
cache keys it by content and a changed source makes a new file, never a stale
kernel. Numba compiles a kernel once per dtype (float64, float32), so the
store counts per dtype what it compiles; what a new kernel holds, so that a
process compiles a few kernels at most (docs/compiler.md, "What compiles when"):

- the first for a dtype: exactly what the program needs;
- the second: the union of everything needed so far for that dtype and, when it trains, all of
  training (every fused loss, both updates, clipping, shuffling: ``TRAINING``, about 2 s more), so
  that another loss, Adam after SGD, or shuffled batches do not cost a third kernel;
- from the third on: ``FULL``, every feature, which covers every later program.

A kernel compiled before for a dtype (in this process, or on this machine: the
index lists the dtypes each kernel was used with) is reused when it covers the
program, the smallest such one first.

Programs are data: a kernel runs any program its features cover, so random
graphs of any size compile nothing new once their features are compiled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import sys
import tempfile
import threading
from types import ModuleType

import numpy as np

from micrograd import ops
from micrograd.compiler.ir import GATHER, LOSS, LOSSES, NOPS, Program

# ---------------------------------------------------------------- the calling convention of run (template.py)
FORWARD, GRAD, FIT, EVAL = 0, 1, 2, 3  # modes
OK, UNKNOWN, BAD_LABEL, DIVERGED, GRAD_DIVERGED = 0, 1, 2, 3, 4  # statuses
CTL_T0, CTL_WHERE, CTL_DONE = 5, 6, 7  # ctl: steps taken before this call; where a status points; steps applied
CTL_BLAS = 8  # ctl[8:12]: gemm's address, its ABI, OpenBLAS's thread setter's address (or 0), this call's threads
CTL_IDX = 12  # ctl: the trainable parameters' positions from here on
ST_L2, ST_CLIP, ST_KIND, ST_MOMENTUM, ST_DAMPENING, ST_NESTEROV, ST_WEIGHT_DECAY = 0, 1, 2, 3, 4, 5, 6
ST_BETA1, ST_BETA2, ST_EPS = 7, 8, 9
ST_STATE = 16  # st: the optimizer's per-parameter state (two rows of P) from here on
ST_SGD, ST_ADAM = 0.0, 1.0  # st[ST_KIND]: which update
ST_KINDS = {"sgd": ST_SGD, "adam": ST_ADAM}  # by the update's name (Optimizer.kernel_update, UPDATES)
ST_HYPER = {"momentum": ST_MOMENTUM, "dampening": ST_DAMPENING, "nesterov": ST_NESTEROV,
            "weight_decay": ST_WEIGHT_DECAY, "beta1": ST_BETA1, "beta2": ST_BETA2, "eps": ST_EPS}  # fmt: skip

# ---------------------------------------------------------------- features
MACHINERY = ("shuffle", "inputs", "targets", "consts", "params", "gather", "valueloss", "train", "clip")
UPDATES = ("sgd", "adam")
RUNS = "runs"  # the scalar-run fast path of every op: for graphs of many one-element instructions
OP_FEATURES = tuple(op.name for op in ops.OPS)
LOSS_FEATURES = tuple(f"loss:{name}" for name in LOSSES)
TRAINING = frozenset(("train", "clip", "shuffle", *UPDATES, *LOSS_FEATURES))  # what a 2nd kernel that trains holds
FULL = frozenset((*MACHINERY, *UPDATES, *OP_FEATURES, *LOSS_FEATURES, RUNS))  # every feature
INLINE_OPS = 4  # a kernel of at most this many ops has their branches in run, not in forward_op (docs/benchmarks.md)
RUNS_MIN = 64  # one-element op instructions from which a program gets the scalar-run fast path


def features(prog: Program, train: bool = False, update: str | None = None, shuffle: bool = False,
             clip: bool = False) -> frozenset:  # fmt: skip
    """What a kernel needs to run ``prog``: its ops and machinery, plus what the call adds (training, the
    optimizer's update, shuffled batches, gradient clipping)."""
    need = {OP_FEATURES[c] for c in set(prog.op.tolist()) if c < NOPS}
    if (prog.op == GATHER).any():
        need.add("gather")
    if (prog.op == LOSS).any():
        need.add(f"loss:{prog.fused_loss}")
    if prog.inputs_read:
        need.add("inputs")
    for name, present in (("targets", len(prog.target_slots)), ("consts", len(prog.const_slots)),
                          ("params", len(prog.param_slots))):  # fmt: skip
        if present:
            need.add(name)
    if prog.loss_slot >= 0 and prog.fused_loss is None:
        need.add("valueloss")
    if int(((prog.op < NOPS) & (prog.n == 1)).sum()) >= RUNS_MIN:
        need.add(RUNS)
    if train or update:
        need.add("train")
    if update:
        need.add(update)
    if shuffle:
        need.add("shuffle")
    if clip:
        need.add("clip")
    return frozenset(need)


def describe(feats: frozenset) -> str:
    """A short line for messages and repr: 'relu, loss hinge, training (sgd)'."""
    words = [name for name in OP_FEATURES if name in feats]
    words += [f"loss {f[5:]}" for f in LOSS_FEATURES if f in feats]
    if "train" in feats:
        updates = [u for u in UPDATES if u in feats]
        words.append("training" + (f" ({', '.join(updates)})" if updates else ""))
    if not words:
        words.append("dense layers")
    if feats >= FULL:
        return "every op, loss and update"
    return ", ".join(words)


def cold_seconds(feats: frozenset) -> float:
    """About how long a kernel with these features takes to compile cold (the first-run line)."""
    ops_in = sum(name in feats for name in OP_FEATURES)
    return (
        1.5
        + 0.25 * ops_in * (2 if RUNS in feats else 1)
        + 0.4 * sum(f in feats for f in LOSS_FEATURES)
        + (1.5 if "train" in feats else 0.0)
    )


# ---------------------------------------------------------------- source
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "template.py")
DEPENDENCIES = ("micrograd.ops", "micrograd.optim", "micrograd.losses", "micrograd.compiler.kernels",
                "micrograd.compiler.blas", "micrograd.compiler.ir", "micrograd.compiler.jit",
                "micrograd.compiler.codegen")  # fmt: skip
HEADER = '''"""A micrograd kernel for {what}.

GENERATED by micrograd.compiler.codegen from micrograd/compiler/template.py: do not edit.
Sources digest: {digest}
"""

# ruff: noqa
import math

import numpy as np

from micrograd import ops
from micrograd.compiler import kernels as k
from micrograd.compiler.jit import jit
from numba.extending import register_jitable
{imports}

FEATURES = frozenset({features!r})
WHAT = {what!r}

'''
_LOSS_CALL = {
    "hinge": "k.hinge(V, G, Ys, yo, a, B, scale)",
    "mse": "k.mse(V, G, Ys, yo, w, a, B, scale)",
    "bce_with_logits": "k.bce_with_logits(V, G, Ys, yo, a, B, scale)",
    "cross_entropy": "k.cross_entropy(V, G, Ys, yo, w, a, n, B, scale)",
}


def _keep(text: str, feats: set) -> str:
    """The template's lines, with #if FEATURE ... #endif blocks kept only for the features present."""
    out, keep = [], [True]
    for line in text.splitlines(True):
        word = line.strip()
        if word.startswith("#if "):
            keep.append(keep[-1] and any(f in feats for f in word[4:].split("|")))
        elif word == "#endif":
            keep.pop()
        elif keep[-1]:
            out.append(line)
    return "".join(out)


def op_forward(op: ops.Op) -> str:
    """forward_op's loop for one op over an instruction's block."""
    y = "V[yy + e]" if op.arity == 2 else "0.0"
    return f"""for e in range(U(m)):
    V[oo + e] = ops.{op.forward.__name__}(V[xx + e], {y}, wa)
"""


def op_backward(op: ops.Op) -> str:
    """backward_op's loop for one op: its operands' gradient rows (zeroed before backward) += the op's
    derivative times the output's."""
    f = op.backward.__name__
    if op.arity == 2:
        return f"""for e in range(U(m)):
    dx, dy = ops.{f}(V[xx + e], V[yy + e], wa, V[oo + e])
    g = G[oo + e]
    G[xx + e] += dx * g
    G[yy + e] += dy * g
"""
    return f"""for e in range(U(m)):
    G[xx + e] += ops.{f}(V[xx + e], 0.0, wa, V[oo + e])[0] * G[oo + e]
"""


def op_branches(ops_in: list, loop, pad: str) -> str:
    """``if c == code: <loop>`` for each op, ``else: known = False``, indented by ``pad``."""
    if not ops_in:
        return f"{pad}known = False\n"
    text = ""
    for j, op in enumerate(ops_in):
        body = "".join(f"{pad}    {line}\n" for line in loop(op).splitlines())
        text += f"{pad}{'if' if j == 0 else 'elif'} c == {op.code}:  # {op.name}\n{body}"
    return text + f"{pad}else:\n{pad}    known = False\n"


def run_forward(op: ops.Op) -> str:
    """forward_scalars' loop over a run of one-element instructions of one op: q walks their rows of the
    flat scalar table R (out, a, b, F_GRAD; 4 entries an instruction) from instruction i's to r's."""
    y = "V[U(R[q + 2])]" if op.arity == 2 else "0.0"
    return f"""while q < qr:
    V[U(R[q])] = ops.{op.forward.__name__}(V[U(R[q + 1])], {y}, reals[q >> 2])
    q += 4
"""


def run_backward(op: ops.Op) -> str:
    """backward_scalars' loop over a run of one op: instructions i down to r, those that need a gradient."""
    f = op.backward.__name__
    if op.arity == 2:
        one = f"""        o_ = U(R[q])
        a_ = U(R[q + 1])
        b_ = U(R[q + 2])
        dx, dy = ops.{f}(V[a_], V[b_], reals[q >> 2], V[o_])
        g = G[o_]
        G[a_] += dx * g
        G[b_] += dy * g
"""
    else:
        one = f"""        o_ = U(R[q])
        a_ = U(R[q + 1])
        G[a_] += ops.{f}(V[a_], 0.0, reals[q >> 2], V[o_])[0] * G[o_]
"""
    return f"""while q > qr:
    if R[q + 3]:
{one}    q -= 4
"""


_digests: list = []


def _digest() -> str:
    """A hash of every source compiled into a kernel: any edit to them names a new kernel file."""
    if not _digests:
        text = "".join(inspect.getsource(importlib.import_module(name)) for name in DEPENDENCIES)
        with open(TEMPLATE) as f:
            text += f.read()
        _digests.append(hashlib.sha256(text.encode()).hexdigest()[:16])
    return _digests[0]


def source(feats: frozenset) -> str:
    """The text of the kernel module for a set of features."""
    losses = [f[5:] for f in LOSS_FEATURES if f in feats]
    ops_in = [op for op in ops.OPS if op.name in feats]
    with open(TEMPLATE) as f:
        template = f.read()
    body = template[template.index("U = np.uint64") :]
    keep = (set(feats) if ops_in else set(feats) - {RUNS}) | ({"losses"} if losses else set())
    if len(ops_in) > INLINE_OPS:
        keep.add("op_calls")
    body = _keep(body, keep)
    calls = "".join(
        f"                    {'if' if q == 0 else 'elif'} kind == {LOSSES.index(name)}:  # {name}\n"
        f"                        tl, bad = {_LOSS_CALL[name]}\n"
        for q, name in enumerate(losses)
    )
    calls += "                    else:\n" + " " * 24 + "ctl[CTL_WHERE] = i\n" + " " * 24 + "return UNKNOWN\n"
    body = body.replace("#losses\n", calls)
    body = body.replace("#forward_op\n", op_branches(ops_in, op_forward, " " * 4))
    body = body.replace("#backward_op\n", op_branches(ops_in, op_backward, " " * 4))
    pad = " " * 16
    sites = (("forward", op_forward, "forward_op(c, xx, yy, oo, wa, m, V)"),
             ("backward", op_backward, "backward_op(c, xx, yy, oo, wa, m, V, G)"))  # fmt: skip
    for where, loop, call in sites:
        inline = f"{pad}known = True\n" + op_branches(ops_in, loop, pad)
        body = body.replace(f"#{where}_ops\n", inline if len(ops_in) <= INLINE_OPS else f"{pad}known = {call}\n")
    body = body.replace("#run_forward\n", op_branches(ops_in, run_forward, " " * 8))
    body = body.replace("#run_backward\n", op_branches(ops_in, run_backward, " " * 8))
    what = describe(feats)
    body = body.replace("@jit()", f"@jit(cold_s={cold_seconds(feats):.0f}, what={what!r})")
    imports = template[template.index("from micrograd.compiler.") : template.index("U = np.uint64")]
    return HEADER.format(what=what, features=sorted(feats), digest=_digest(), imports=imports.rstrip()) + body


# ---------------------------------------------------------------- the store
def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def store_folder() -> str:
    """Where kernel modules live: NUMBA_CACHE_DIR/micrograd-kernels, else beside the package, else the user's
    cache folder, else a temporary folder for this process (then Numba caches nothing for the next run)."""
    import numba

    candidates = []
    cache_dir = getattr(numba.config, "CACHE_DIR", "")
    if cache_dir:
        candidates.append(os.path.join(cache_dir, "micrograd-kernels"))
    candidates.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "__kernels__"))
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(os.path.join(cache_home, "micrograd", "kernels"))
    for folder in candidates:
        if _writable(folder):
            return folder
    return tempfile.mkdtemp(prefix="micrograd-kernels-")


class KernelStore:
    """The kernels of this process (see the module docstring for which one a program gets)."""

    def __init__(self, folder: str | None = None):
        self._folder = folder
        self.loaded: list[tuple[frozenset, ModuleType]] = []
        self.compiled: dict[str, int] = {}  # dtype name -> kernels this process compiles for it
        self._used: set[tuple[str, str]] = set()  # (kernel module name, dtype name) returned so far
        self._lock = threading.Lock()

    @property
    def folder(self) -> str:
        if self._folder is None:
            self._folder = store_folder()
        return self._folder

    def kernel(self, needs: frozenset, dtype="float64") -> ModuleType:
        """A loaded kernel module whose features include ``needs``, to run in ``dtype`` (its ``run`` is the
        entry point)."""
        d = np.dtype(dtype).name
        with self._lock:
            for feats, module in self.loaded:
                if needs <= feats and (module.__name__, d) in self._used:
                    return module
            on_disk = [f for f, dtypes in self._index().values() if needs <= f and d in dtypes]
            if on_disk:
                feats = min(on_disk, key=len)
            else:
                n = self.compiled.get(d, 0)
                if n == 0:
                    feats = needs
                elif n == 1:
                    feats = needs.union(*(f for f, m in self.loaded if (m.__name__, d) in self._used))
                    if "train" in feats:
                        feats |= TRAINING
                else:
                    feats = FULL | needs
                self.compiled[d] = n + 1
            module = self._load(frozenset(feats))
            if (module.__name__, d) not in self._used:
                self._used.add((module.__name__, d))
                if not on_disk:  # the index lists it for this dtype already when it came from there
                    self._record(module.__name__, frozenset(feats), d)
            return module

    def _index_path(self) -> str:
        return os.path.join(self.folder, "index.json")

    def _entries(self) -> dict:
        """The index's entries for the current sources: name -> [features, digest, dtypes]."""
        try:
            with open(self._index_path()) as f:
                entries = json.load(f)
        except (OSError, ValueError):
            return {}
        digest = _digest()
        return {n: e for n, e in entries.items() if isinstance(e, list) and len(e) == 3 and e[1] == digest}

    def _index(self) -> dict:
        """Kernel module name -> (features, dtype names it was compiled for), for the kernels of the current
        sources on this machine."""
        return {
            name: (frozenset(feats), frozenset(dtypes))
            for name, (feats, _, dtypes) in self._entries().items()
            if os.path.exists(os.path.join(self.folder, name + ".py"))
        }

    def _record(self, name: str, feats: frozenset, dtype: str) -> None:
        from micrograd._files import replacing

        entries = self._entries()  # kernels of older sources are unused: dropped
        dtypes = set(entries.get(name, [[], "", []])[2]) | {dtype}
        entries[name] = [sorted(feats), _digest(), sorted(dtypes)]
        try:
            with replacing(self._index_path()) as f:
                json.dump(entries, f, indent=0)
        except OSError:
            pass  # an index that cannot be written only means later processes compile again

    def _load(self, feats: frozenset) -> ModuleType:
        """The kernel module for these features: loaded in this process, else imported from the store folder,
        else written there first."""
        text = source(feats)
        name = "micrograd_kernel_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        for _, loaded in self.loaded:
            if loaded.__name__ == name:
                return loaded
        path = os.path.join(self.folder, name + ".py")
        if not os.path.exists(path):
            from micrograd._files import replacing

            with replacing(path) as f:
                f.write(text)
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"micrograd: cannot load the kernel module {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # Numba's cache pickles references to the module by name
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        self.loaded.append((feats, module))
        return module


STORE = KernelStore()


def main(argv: list[str] | None = None) -> int:
    """python -m micrograd.compiler.codegen [FEATURE ...]: print the kernel for these features (default: the
    moons training kernel, relu loss:hinge train sgd), as it is written to the store."""
    words = sys.argv[1:] if argv is None else argv
    unknown = [w for w in words if w not in FULL]
    if unknown:
        print(f"unknown features {unknown}; choose from: {' '.join(sorted(FULL))}", file=sys.stderr)
        return 2
    print(source(frozenset(words or ("relu", "loss:hinge", "train", "sgd"))), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
