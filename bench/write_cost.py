"""What migrations 15-16 add to each stored message (issue 17): the analysis trigger and the FTS index triggers.

    python bench/write_cost.py [--messages 20000] [--batch 50]

Stores the same messages (storage/messages.py insert_message + insert_analysis, in transactions of --batch, as
the capture's group commit does) into a fresh database at schema 14 (the baseline, same run) and at the latest
schema, and prints microseconds per message for each and the difference. synchronous=NORMAL so the fsync, which
is the same for both, does not drown the difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import customers as customer_rows  # noqa: E402
from storage import messages as message_rows  # noqa: E402
from storage.database import Database, sqlite_url  # noqa: E402
from storage.migrations import MIGRATIONS, current_version  # noqa: E402

NOW = "2026-03-01T12:00:00.000Z"
TEXTS = ["Oi, quanto custa o notebook Pro?", "Quero cancelar o pedido 123456, chegou com defeito",
         "¿Dónde está mi pedido 654321?", "Thanks a lot, the camera Ultra is great"]
ANALYSIS = {"sentiment": {"label": "neutral", "score": 0.0}, "intent": {"label": "pricing", "confidence": 0.8},
            "suggested_responses": ["Obrigado!"], "confidence_scores": {}, "model_version": "bench", "engine": "rules"}


def database_at(path: Path, up_to: int) -> Database:
    db = Database(sqlite_url(path), synchronous="normal")
    current_version(db)
    for number, description, step in MIGRATIONS:
        if number <= up_to:
            with db.transaction():
                step(db)
                db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)",
                           {"v": number, "d": description, "t": NOW})
    return db


def store(db: Database, count: int, batch: int) -> float:
    """Seconds per message."""
    with db.transaction():
        customer_id, _ = customer_rows.upsert_customer_on_message(
            db, phone="+5511900000000", kind="phone", name="Ana", language="pt", direction="in", sent_at=NOW, now=NOW)
        conversation_id, _ = customer_rows.upsert_conversation_on_message(
            db, chat_id="5511900000000@c.us", customer_id=customer_id, direction="in", sent_at=NOW, now=NOW)
    started = time.perf_counter()
    for first in range(0, count, batch):
        with db.transaction():
            for i in range(first, min(count, first + batch)):
                pk = message_rows.insert_message(db, {
                    "message_id": f"wamid.W{i}", "conversation_id": conversation_id, "customer_id": customer_id,
                    "direction": "in", "type": "text", "content": f"{TEXTS[i % len(TEXTS)]} {i}", "language": "pt",
                    "media_url": None, "raw": None, "sent_at": NOW, "response_time_s": None, "now": NOW})
                message_rows.insert_analysis(db, pk, ANALYSIS, NOW)
    return (time.perf_counter() - started) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    opts = parser.parse_args(argv)
    latest = MIGRATIONS[-1][0]
    print(f"== cost per stored message, schema 14 vs {latest}: {opts.messages:,} messages in transactions of "
          f"{opts.batch} (load average {os.getloadavg()[0]:.1f})")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):  # alternate, keep the best of each: the machine is shared
            for version in (14, latest):
                path = Path(tmp) / f"v{version}-{time.monotonic_ns()}.db"
                db = database_at(path, version)
                try:
                    seconds = store(db, opts.messages, opts.batch)
                finally:
                    db.close()
                results[version] = min(results.get(version, 1.0), seconds)
    base, new = results[14], results[latest]
    print(f"   schema 14 (baseline, same run)   {base * 1e6:8.1f} us/message")
    print(f"   schema {latest} (trigger + FTS)     {new * 1e6:8.1f} us/message   +{(new - base) * 1e6:.1f} us "
          f"(x{new / base:.2f})")
    print(f"   load average at the end: {os.getloadavg()[0]:.1f} (shared machine: re-run on a quiet one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
