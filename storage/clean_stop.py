"""A record of the service's last clean stop, so a start after one can skip the full read of the database.

PRAGMA quick_check reads every page: 0.2-0.4 s for a 117 MB file, but 100-135 s for a two-year, 10-million-message
file (6.4 GiB, bench/README.md "Data at scale"), and the start-up check ran at every start. After a clean stop the
service writes the stamp (size, modification time in ns, inode) of the database file and its WAL; the next start
takes the record away (a crash after that leaves none) and, when the files still carry those stamps, nobody has
written them since a run that read them without an error: opening the file and reading its schema is enough.
After a crash, a restore, a copy from elsewhere or any other write, the stamps differ and the full quick_check
runs as before. Damage that appears later inside a file nobody wrote (a failing disk) is found by the daily
backup's integrity_check of its copy (storage/backups.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any


def file_stamp(path: Path) -> dict[str, int] | None:
    """Size, modification time (ns) and inode of path; None when it does not exist."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def database_stamps(database: Path) -> dict[str, Any]:
    """The stamps of the database file and of its write-ahead log (which holds committed pages until the next
    checkpoint, so it is part of the data)."""
    return {"database": file_stamp(database), "wal": file_stamp(database.with_name(database.name + "-wal"))}


def record_clean_stop(database: Path, record: Path) -> None:
    """After the service closed the database for good: write the record (atomically, fsync'ed), so the next
    start may trust the file without reading all of it."""
    stamps = database_stamps(database)
    if stamps["database"] is None:
        return
    tmp = record.with_name(record.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(stamps, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, record)


def take_clean_stop(database: Path, record: Path) -> bool:
    """Whether the last stop was clean and the database is untouched since: the record exists and the files carry
    its stamps. The record is removed either way, before anything opens the database, so a crash of this run
    leaves no record behind and the next start checks the whole file."""
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, OSError):
        recorded = None
    try:
        record.unlink()
    except FileNotFoundError:
        pass
    return recorded is not None and recorded == database_stamps(database)


def schema_problem(path: Path) -> str | None:
    """The light check after a clean stop: the file opens as a database and its schema reads; None when it does."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)  # rw as quick_check: a leftover WAL opens
    except sqlite3.Error as exc:
        return str(exc)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return None
