"""What the start-up check of the database costs (runtime/build.py refuse_a_damaged_database).

Builds a SQLite file of about --rows messages (300-character texts, a UNIQUE and a plain index, WAL), then times
storage.database.sqlite_file_problem (PRAGMA quick_check, what `agent.py serve` runs before opening the
database) and, as the baseline, PRAGMA integrity_check on the same file. Page cache warm (just written).

    python bench/startup_check.py [--rows 300000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.database import sqlite_file_problem


def build(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, message_id TEXT UNIQUE, content TEXT, sent_at TEXT)")
    conn.execute("CREATE INDEX ix_messages_sent_at ON messages (sent_at)")
    alphabet = string.ascii_letters + " "
    conn.executemany("INSERT INTO messages (message_id, content, sent_at) VALUES (?, ?, ?)",
                     ((f"wamid.{i}", "".join(random.choices(alphabet, k=300)), f"2026-01-01T{i % 24:02d}")
                      for i in range(rows)))
    conn.commit()
    conn.close()


def timed(work) -> tuple[float, object]:
    started = time.monotonic()
    result = work()
    return time.monotonic() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm_agent.db"
        build(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        quick_s, problem = timed(lambda: sqlite_file_problem(path))
        conn = sqlite3.connect(path)
        full_s, _ = timed(lambda: conn.execute("PRAGMA integrity_check").fetchone())
        conn.close()
    print(f"database: {size_mb:.0f} MB, {args.rows} messages")
    print(f"start-up check (quick_check): {quick_s:.3f} s  problem={problem}")
    print(f"baseline integrity_check:     {full_s:.3f} s  ({full_s / quick_s:.1f}x)")


if __name__ == "__main__":
    main()
