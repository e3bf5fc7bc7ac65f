"""A memory report on demand: `kill -USR2 <service pid>` writes where the served process's memory is.

For finding what grows in a long run (bench/soak.py): the process's RSS beside what Python has allocated
(tracemalloc, when the service was started with PYTHONTRACEMALLOC=N) and what SQLite's allocator holds
(page caches, statements), so a growth can be put on one of the three. Each report is one JSON line appended
to logs/memory.jsonl; with tracemalloc on, a snapshot file beside it for `tracemalloc.Snapshot.load`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import signal
import time
import tracemalloc
from pathlib import Path
from typing import Any

import gevent
import psutil

log = logging.getLogger("crm_agent.server")


def sqlite_memory() -> dict[str, int] | None:
    """Bytes SQLite's allocator holds now and at most, from the library Python's sqlite3 module uses."""
    try:
        import _sqlite3  # the extension module links libsqlite3: its symbols are what it calls

        lib = ctypes.CDLL(_sqlite3.__file__)
        used = lib.sqlite3_memory_used
    except (OSError, AttributeError, ImportError):
        name = ctypes.util.find_library("sqlite3")
        if not name:
            return None
        lib = ctypes.CDLL(name)
        used = lib.sqlite3_memory_used
    used.restype = ctypes.c_int64
    highwater = lib.sqlite3_memory_highwater
    highwater.restype = ctypes.c_int64
    highwater.argtypes = [ctypes.c_int]
    return {"used": int(used()), "highwater": int(highwater(0))}


class _Mallinfo2(ctypes.Structure):
    _fields_ = [  # noqa: RUF012 - ctypes reads this class attribute once, when the class is made
        (name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_heap() -> dict[str, int] | None:
    """glibc's own account of its heap (mallinfo2): bytes in use vs held free, to tell a leak from fragmentation."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {"arena": info.arena, "in_use": info.uordblks, "free": info.fordblks, "mmapped": info.hblkhd,
            "top_releasable": info.keepcost}


def memory_report(snapshot_dir: Path | None) -> dict[str, Any]:
    """One report: RSS/USS, Python's traced bytes and top allocation sites, SQLite's bytes, gc counts."""
    info = psutil.Process().memory_full_info()
    report: dict[str, Any] = {"t": round(time.time(), 1), "rss": info.rss, "uss": info.uss,
                              "gc_objects": len(gc.get_objects()), "sqlite": sqlite_memory(),
                              "malloc": malloc_heap()}
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        report["traced"] = {"current": current, "peak": peak}
        snapshot = tracemalloc.take_snapshot()
        report["top"] = [f"{stat.size} {stat.count} {stat.traceback[0]}"
                         for stat in snapshot.statistics("lineno")[:15]]
        if snapshot_dir is not None:
            snapshot.dump(str(snapshot_dir / f"memory-{int(report['t'])}.tracemalloc"))
    return report


def report_memory_on_sigusr2(logs_dir: Path) -> None:
    """Install the SIGUSR2 handler (gevent's, so the report is taken on the loop, not inside a C call)."""
    if not hasattr(signal, "SIGUSR2"):
        return

    def write_report() -> None:
        try:
            logs_dir.mkdir(parents=True, exist_ok=True)
            line = json.dumps(memory_report(logs_dir))
            with open(logs_dir / "memory.jsonl", "a", encoding="utf-8") as out:
                out.write(line + "\n")
            log.info("memory report written to %s", logs_dir / "memory.jsonl")
        except OSError as exc:
            log.warning("memory report not written: %s", exc)

    gevent.signal_handler(signal.SIGUSR2, write_report)
