"""agent.py under cProfile, for the benches' --live-profile: the served process's own time, per function.

    BENCH_AGENT=bench/profiled_agent.py BENCH_PROFILE_OUT=/tmp/x.prof python bench/service_capture.py ...

The profile is written when the service exits (SIGTERM stops it gracefully). cProfile does not know greenlets:
the time a greenlet spends switched out is charged to whatever switched (gevent's hub sleep, a pipe read), so
read own times (tottime) of the real work, and the idle entries as idle.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import sys
from pathlib import Path

AGENT = Path(__file__).resolve().parent.parent / "agent.py"
# Entries where the served process waits rather than works (cProfile charges switched-out time to them).
IDLE = ("hub.py", "_fileobjectposix.py", "_socketcommon.py", "threading.py:1087(join)", "pool.py")


def profile_next_services(out: Path) -> None:
    """Make the services bench/_common.py starts from now on (in this bench process) run agent.py under this
    profiler, writing to out."""
    os.environ["BENCH_AGENT"] = str(Path(__file__).resolve())
    os.environ["BENCH_PROFILE_OUT"] = str(out)


def report(path: Path, count: int, what: str, top: int = 30) -> None:
    """The served process's own time per function, in microseconds per `what` (count of them)."""
    import pstats

    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    rows = []
    for (file, line, name), (_cc, ncalls, tottime, _cum, _callers) in stats.stats.items():
        rows.append((tottime, ncalls, f"{file}:{line}({name})"))
    rows.sort(reverse=True)
    idle = sum(t for t, _, label in rows if label.startswith(IDLE))
    busy = sum(t for t, _, _ in rows) - idle
    print(f"   served process, whole run (start, warm-up and stop included): {busy:.2f} s working, "
          f"{idle:.2f} s waiting (gevent hub, pipes, sockets); {busy / count * 1e6:.0f} us of work per {what}")
    print(f"   -- top {top} by own time, us per {what} (calls per {what}) --")
    for tottime, ncalls, label in rows[:top]:
        kind = "  (waiting)" if label.startswith(IDLE) else ""
        print(f"     {tottime / count * 1e6:8.1f} us  {ncalls / count:6.2f}x  {label}{kind}")

if __name__ == "__main__":
    sys.argv[0] = str(AGENT)
    sys.path.insert(0, str(AGENT.parent))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        runpy.run_path(str(AGENT), run_name="__main__")
    finally:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
