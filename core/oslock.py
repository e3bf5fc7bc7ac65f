"""An exclusive OS file lock (fcntl on POSIX, msvcrt on Windows) that the OS drops when the process dies.

The service holds `<data_dir>/service.lock` while it runs; `agent.py backup restore` takes the same lock
when no service runs, so a service cannot start on a database that is being replaced (it waits instead).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if _lock(fd):
            self._fd = fd
            return True
        os.close(fd)
        return False

    def acquire(self, timeout_s: float, interval_s: float = 0.1) -> bool:
        """Wait up to timeout_s for the lock; True when taken."""
        deadline = time.monotonic() + timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval_s)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock (both flock and msvcrt)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
