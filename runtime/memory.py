"""The served process's memory: glibc's allocator tuned so freed memory goes back to the operating system."""

from __future__ import annotations

import ctypes
import sys

# Free heap pages handed back at most this often: malloc_trim walks the heap (about a millisecond at the
# service's ~30 MB heap), on the event loop.
TRIM_INTERVAL_S = 60.0


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def release_freed_memory_to_os() -> None:  # called first thing by `agent.py serve`
    """Keep allocations above 1 MiB in mmap (glibc), so freed big buffers go back to the OS.

    argon2 hashes passwords with 19 MiB of memory on a worker thread; glibc raises its mmap threshold
    after the first such free and then keeps ~19 MB per hash resident in the thread's arena (measured:
    idle RSS 116 MB instead of 78 MB after one login). A fixed threshold stops that.
    """
    libc = _libc()
    if libc is None:
        return
    try:
        m_mmap_threshold, m_arena_max = -3, -8
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
        # One arena per worker thread (password hashing, WAL checkpoints) keeps its own free pages; the
        # service's threads are few and short-lived, so they share.
        libc.mallopt(m_arena_max, 1)
    except AttributeError:  # not glibc (musl has no mallopt)
        pass



def trim_free_heap() -> None:
    """Give the heap's free pages back to the operating system (glibc malloc_trim).

    SQLite's page caches and statements, the backup's and the maintenance's connections are malloc'ed and
    freed in the main heap; glibc returns freed memory only from the heap's top, so pages freed below a block
    still in use stay resident: measured in the soak (bench/soak.py), the heap's free part grew to ~10 MB within
    15 minutes of load while its used part stayed flat. malloc_trim(0) releases every free page (madvise).
    """
    libc = _libc()
    if libc is None:
        return
    try:
        libc.malloc_trim(0)
    except AttributeError:
        pass
