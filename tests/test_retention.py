"""Retention and upkeep on a real service: exactly the rows older than the limits go; ANALYZE; VACUUM; logged."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from tests.helpers import message, start_service


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def test_retention_removes_exactly_what_is_older_than_the_limits(tmp_path):
    config = {"database": {"raw_retention_days": 30, "log_retention_days": 7, "vacuum_min_free_percent": 10}}
    svc = start_service(tmp_path / "agent", config=config)
    try:
        now = datetime.now(timezone.utc)
        ages = {"old": timedelta(days=30, minutes=5), "young": timedelta(days=29, hours=23, minutes=55),
                "new": timedelta(0)}
        ids = {}
        for label, age in ages.items():
            body = message(timestamp=int((now - age).timestamp() * 1000), raw={"label": label, "pad": "x" * 100})
            assert svc.post("/api/messages/capture", json=body).status_code == 201
            ids[label] = body["message_id"]
        no_raw = message(timestamp=int((now - timedelta(days=40)).timestamp() * 1000))
        assert svc.post("/api/messages/capture", json=no_raw).status_code == 201
        db = svc.data_dir / "crm_agent.db"
        with sqlite3.connect(db) as conn:  # log rows written by another connection, as a second process would
            rows = [("WARNING", "test", f"old {i}" + "p" * 2000, _iso(now - timedelta(days=7, minutes=5)))
                    for i in range(2000)]
            rows += [("WARNING", "test", "recent", _iso(now - timedelta(days=6, hours=23, minutes=55)))]
            conn.executemany("INSERT INTO system_logs (level, logger, message, created_at, updated_at, change_seq) "
                             "VALUES (?, ?, ?, ?, ?, 0)", [(*r, r[3]) for r in rows])
            before = {row[0]: row[1] for row in conn.execute("SELECT message_id, change_seq FROM messages")}
            pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
        reply = svc.post("/api/system/maintenance")
        assert reply.status_code == 200, reply.text
        report = reply.json()
        assert report["raw_payloads_cleared"] == 1 and report["logs_deleted"] == 2000
        assert report["vacuum"]["vacuumed"] and report["vacuum"]["pages_after"] < pages_before
        with sqlite3.connect(db) as conn:
            raw = dict(conn.execute("SELECT message_id, raw FROM messages").fetchall())
            assert raw[ids["old"]] is None
            assert '"young"' in raw[ids["young"]] and '"new"' in raw[ids["new"]]
            # Clearing a payload is housekeeping, not an edit: sync sees no change.
            assert dict(conn.execute("SELECT message_id, change_seq FROM messages").fetchall()) == before
            messages = [r[0] for r in conn.execute("SELECT message FROM system_logs WHERE logger = 'test'")]
            assert messages == ["recent"]
            assert conn.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0] > 0  # ANALYZE ran
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Nothing left to do: a second run changes nothing and skips VACUUM.
        again = svc.post("/api/system/maintenance").json()
        assert again["raw_payloads_cleared"] == 0 and again["logs_deleted"] == 0 and not again["vacuum"]["vacuumed"]
        log_text = svc.log_text()
        assert "database maintenance: cleared 1 raw payloads older than 30 days, deleted 2000 log rows" in log_text
        assert "VACUUM done" in log_text and "VACUUM skipped" in log_text
        assert svc.get("/api/system/backups").json()["last"]["kind"] == "maintenance"
    finally:
        svc.stop()


def test_zero_keeps_everything(tmp_path):
    config = {"database": {"raw_retention_days": 0, "log_retention_days": 0}}
    svc = start_service(tmp_path / "agent", config=config)
    try:
        old = int((datetime.now(timezone.utc) - timedelta(days=3000)).timestamp() * 1000)
        assert svc.post("/api/messages/capture", json=message(timestamp=old, raw={"a": 1})).status_code == 201
        report = svc.post("/api/system/maintenance").json()
        assert report["raw_payloads_cleared"] == 0 and report["logs_deleted"] == 0
        with sqlite3.connect(svc.data_dir / "crm_agent.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM messages WHERE raw IS NOT NULL").fetchone()[0] == 1
    finally:
        svc.stop()
