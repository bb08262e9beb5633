"""One writer at a time in a run directory.

Two processes training into the same run directory (two sweeps over the same ``--out``, a
``train --resume`` beside a running sweep) would interleave their checkpoints, metrics and
results. Each writer holds an exclusive ``flock`` on ``RUN_DIR/.lock`` while it writes; the
kernel releases it when the process ends, however it ends, so a killed run never leaves a
stale lock. The lock file names its holder (pid and host) for the error message. On a
cluster file system ``flock`` is as good as the file system's own locking (NFS v4: yes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from photonic_dat.exceptions import RunInUseError

__all__ = ["LOCK", "run_lock"]

LOCK = ".lock"
#: run directories this process holds (a sweep task holds the lock, then trains the run)
_held: dict[Path, int] = {}


@contextlib.contextmanager
def run_lock(run_dir: Path, *, wait: bool) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block.

    Args:
        run_dir: the run directory (created if needed).
        wait: block until another holder is done (a sweep reuses that holder's result
            afterwards); otherwise raise at once.

    Raises:
        RunInUseError: ``wait`` is false and another process holds the lock.
    """
    path = Path(run_dir).resolve()
    if path in _held:  # re-entered by the same process: it holds the lock already
        yield
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunInUseError(
                f"{path} is being written by {holder}; wait for it to finish or use another "
                "run directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        _held[path] = fd
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(fd)  # releases the lock
