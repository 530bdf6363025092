"""Writing files atomically: a reader sees the old file or the new one, never half of one.

``replacing(path, mode)`` is ``open(path, mode)`` for writing, except that the
data goes to a temporary file in the same folder, which is renamed over
``path`` (``os.replace``, atomic on POSIX and Windows) only when the block ends
without an exception. A failure while writing (a value that cannot be
serialized, a full disk, Ctrl-C) leaves the previous file byte-identical and
removes the temporary file. The new file gets the permissions the old one had
(a new file: the usual ones from the umask, not mkstemp's 0600).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def replacing(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """A file object to write path's new content into; path is replaced when the block succeeds."""
    if not mode.startswith("w"):
        raise ValueError(f"replacing() writes a whole file: mode must start with 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    # same folder: os.replace cannot move across file systems, and the rename must be atomic
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode_for(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Path.write_text, atomically."""
    with replacing(path, "w", encoding=encoding) as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Path.write_bytes, atomically."""
    with replacing(path, "wb") as f:
        f.write(data)
