"""Backup and restore speed, in seconds per 100 MB, against a plain sequential copy of the same file.

    python bench/backup_restore.py [--mb 200]

Builds a CRM Agent database of about --mb MB (the real schema; customers, conversations and messages
with 300-600 byte texts and raw payloads, in WAL mode like the service's), then, in this process with
the code the service runs (crm.maintenance.Maintenance, without gevent's thread-pool hop):
- baseline: a sequential read of the database file and a plain file copy (shutil.copyfile) of it;
- backup: the online backup API to a .partial file + integrity_check + rename (plain), and the same plus
  streaming AES-256-GCM (encrypted);
- restore: prepare (copy or decrypt + integrity_check + schema check), the -pre-restore safety backup, and
  the write into the live database through the backup API in one transaction, plain and encrypted.
Every file is in the page cache (the database was just written), so the figures are CPU and memory bound
more than disk bound; the baseline copy has the same advantage. Reported: seconds, s per 100 MB and the
ratio to the plain copy.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, header, remove, temp_dir

sys.path.insert(0, str(ROOT))

from core.clock import Clock, iso
from core.config import load_config
from core.events import EventBus
from core.paths import DataDir
from crm.maintenance import Maintenance
from storage.database import Database, sqlite_url
from storage.migrations import migrate

WORDS = (
    "oi", "quanto", "custa", "o", "plano", "mensal", "obrigado", "entrega", "hoje", "pedido", "cliente", "preço",
    "desconto", "pagamento", "pix", "boleto", "cartão", "quando", "chega", "amanhã", "produto", "estoque",
    "tamanho", "cor", "hello", "price", "order", "delivery",
)
MB = 1024 * 1024


def seed(path: Path, megabytes: int) -> None:
    db = Database(sqlite_url(path))
    migrate(db, iso(Clock().now()))
    db.close()
    rng = random.Random(7)
    conn = sqlite3.connect(path)
    now = "2026-11-01T12:00:00.000Z"
    conn.executemany("INSERT INTO customers (id, phone, created_at, updated_at, change_seq) VALUES (?, ?, ?, ?, 1)",
                     [(i, f"+55119{i:08d}", now, now) for i in range(1, 2001)])
    conn.executemany("INSERT INTO conversations (id, chat_id, customer_id, started_at, last_message_at, created_at, "
                     "updated_at, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                     [(i, f"55119{i:08d}@c.us", i, now, now, now, now) for i in range(1, 2001)])
    message_id = 0
    while path.stat().st_size < megabytes * MB:
        rows = []
        for _ in range(5000):
            message_id += 1
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 100)))
            customer = rng.randint(1, 2000)
            rows.append((f"wamid.BENCH{message_id}", customer, customer, text, '{"source": "bench", "body": "'
                         + text[:200] + '"}', now, now, now))
        conn.executemany("INSERT INTO messages (message_id, conversation_id, customer_id, direction, type, content, "
                         "raw, sent_at, created_at, updated_at, change_seq) VALUES (?, ?, ?, 'in', 'text', ?, ?, ?, "
                         "?, ?, 1)", rows)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


class PhaseClock:
    """Times each phase from the progress events (the first event of a phase is never throttled)."""

    def __init__(self, bus: EventBus) -> None:
        self.runs: list[list[tuple[str, float]]] = []
        self._marks: list[tuple[str, float]] = []
        bus.subscribe(self._seen)

    def _seen(self, event: dict) -> None:
        if event["type"] == "backup.progress" and (not self._marks or self._marks[-1][0] != event["data"]["phase"]):
            self._marks.append((event["data"]["phase"], time.perf_counter()))

    def wrap(self, work):
        def run() -> None:
            self._marks = []
            work()
            end = time.perf_counter()
            marks = [*self._marks, ("end", end)]
            self.runs.append([(phase, marks[i + 1][1] - at) for i, (phase, at) in enumerate(marks[:-1])])

        return run


def read_all(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(MB):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="database size to build (MB)")
    args = parser.parse_args()
    header("backup and restore: seconds per 100 MB vs a plain file copy")
    print(f"   load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    root = temp_dir("backup-bench-")
    try:
        data_dir = DataDir(root).ensure()
        live = data_dir.database
        seeding = timed(lambda: seed(live, args.mb))
        size = live.stat().st_size
        print(f"   database: {size / MB:.1f} MB ({seeding:.1f} s to build)")
        per100 = 100 * MB / size
        results: list[tuple[str, float]] = []
        results.append(("baseline: sequential read", timed(lambda: read_all(live))))
        results.append(("baseline: plain file copy", timed(lambda: shutil.copyfile(live, root / "copy.db"))))
        (root / "copy.db").unlink()

        config = load_config(None)
        db = Database(sqlite_url(live))
        bus = EventBus(16)
        phases = PhaseClock(bus)
        maintenance = Maintenance(db, data_dir, config, bus, Clock(), writes_idle=lambda: True)
        results.append(("backup (online API + integrity_check)", timed(phases.wrap(maintenance.backup))))
        plain = sorted(data_dir.backups.glob("*.db"))[-1]
        key_config = config.with_overrides({"database.backup_encryption": True})
        maintenance.config = key_config
        results.append(("backup encrypted (+ AES-256-GCM)", timed(phases.wrap(maintenance.backup))))
        encrypted = sorted(data_dir.backups.glob("*.db.enc"))[-1]
        maintenance.config = config
        results.append(("restore (check, safety backup, write)",
                        timed(phases.wrap(lambda: maintenance.restore(plain)))))
        maintenance.config = key_config
        results.append(("restore encrypted (decrypt, check, ...)",
                        timed(phases.wrap(lambda: maintenance.restore(encrypted)))))
        db.close()

        copy_s = results[1][1]
        print(f"   {'step':42s} {'seconds':>8s} {'s/100 MB':>9s} {'x plain copy':>13s}")
        for (name, seconds), breakdown in zip(results, [None, None, *phases.runs], strict=True):
            print(f"   {name:42s} {seconds:8.2f} {seconds * per100:9.2f} {seconds / copy_s:12.1f}x")
            if breakdown:
                print("      phases: " + ", ".join(f"{phase} {s:.2f}" for phase, s in breakdown))
        with sqlite3.connect(live) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            count = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        print(f"   restored database: integrity_check {ok}, {count:,} messages")
        print(f"   load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        remove(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
