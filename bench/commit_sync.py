"""What synchronous=FULL costs one commit: one-row transactions on a WAL database through storage.database's
Database (the service's pragmas), synchronous=normal and full alternated, in a temporary directory under --dir
(default: the system's temporary directory; pass the disk a data directory lives on when it differs).

    python bench/commit_sync.py [--commits 400] [--rounds 2] [--dir PATH]

Prints the median and p99 of BEGIN IMMEDIATE + INSERT + COMMIT per mode and round. The service pays this once
per group commit, on the event loop (docs/decisions.md "Durability (issue 14)").
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.database import Database, sqlite_url  # noqa: E402


def commit_times(path: Path, synchronous: str, commits: int) -> list[float]:
    db = Database(sqlite_url(path), synchronous=synchronous)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
        times = []
        for _ in range(commits):
            started = time.perf_counter()
            with db.transaction():
                db.execute("INSERT INTO t (v) VALUES (:v)", {"v": "x" * 200})
            times.append(time.perf_counter() - started)
        return times
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None)
    opts = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="crm-bench-commit-", dir=opts.dir))
    try:
        for round_number in range(1, opts.rounds + 1):
            for mode in ("normal", "full"):
                times = sorted(commit_times(work / f"{mode}-{round_number}.db", mode, opts.commits))
                print(f"   round {round_number} synchronous={mode:<6} median {statistics.median(times) * 1e6:8.0f} us"
                      f"  p99 {times[int(len(times) * 0.99)] * 1e6:8.0f} us  ({len(times)} commits)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
