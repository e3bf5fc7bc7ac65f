"""What the start-up check of the database costs (runtime/build.py refuse_a_damaged_database).

Builds a SQLite file of about --rows messages (300-character texts, a UNIQUE and a plain index, WAL), then times
storage.database.sqlite_file_problem (PRAGMA quick_check, what `agent.py serve` runs before opening the
database after an unclean stop), storage.clean_stop.schema_problem (the light check after a clean stop, the file
untouched since) and, as the baseline, PRAGMA integrity_check on the same file. Page cache warm (just written).
--database times an existing file instead (a seeded one: bench/seed.py), without the integrity_check.

    python bench/startup_check.py [--rows 300000] [--database PATH]
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

from storage.clean_stop import schema_problem
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
    parser.add_argument("--database", type=Path, help="time this existing SQLite file instead of building one")
    args = parser.parse_args()
    if args.database:
        report(args.database, f"{args.database}", with_integrity_check=False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm_agent.db"
        build(path, args.rows)
        report(path, f"{args.rows} messages", with_integrity_check=True)


def report(path: Path, what: str, with_integrity_check: bool) -> None:
    size_mb = path.stat().st_size / 1e6
    schema_s, schema = timed(lambda: schema_problem(path))
    quick_s, problem = timed(lambda: sqlite_file_problem(path))
    print(f"database: {size_mb:,.0f} MB, {what}")
    print(f"after a clean stop (schema):       {schema_s:.4f} s  problem={schema}")
    print(f"after a crash (quick_check):       {quick_s:.3f} s  problem={problem}  ({quick_s / schema_s:,.0f}x)")
    if with_integrity_check:
        conn = sqlite3.connect(path)
        full_s, _ = timed(lambda: conn.execute("PRAGMA integrity_check").fetchone())
        conn.close()
        print(f"baseline integrity_check:          {full_s:.3f} s  ({full_s / quick_s:.1f}x the quick_check)")


if __name__ == "__main__":
    main()
