"""The rotating log file, warnings kept in system_logs, and the warning for a non-loopback bind."""

from __future__ import annotations

import logging

from core.logging_setup import BufferedRotatingFileHandler
from tests.helpers import start_service, wait_until


def test_warnings_are_stored_in_system_logs(service):
    service.post("/api/auth/login", token=None, json={"username": "mallory", "password": "guessing-1"})

    def stored():
        items = service.get("/api/system/logs", params={"level": "warning"}).json()["items"]
        return [i for i in items if "failed login" in i["message"]]

    entries = wait_until(stored, timeout=10, message="the failed login in system_logs")
    # An unknown username is not logged as typed (it may be a password typed in the wrong field).
    assert entries[0]["level"] == "WARNING" and "unknown user (7 characters)" in entries[0]["message"]
    assert "mallory" not in entries[0]["message"]
    assert "guessing-1" not in entries[0]["message"]


def test_log_file_rotates_by_size_and_count(tmp_path):
    svc = start_service(tmp_path / "agent", config={"logging": {"max_bytes": 10_000, "backup_count": 2}})
    try:
        for _ in range(400):
            svc.get("/api/health", token=None)
    finally:
        svc.stop()
    logs = tmp_path / "agent" / "logs"
    assert (logs / "agent.log.1").exists() and (logs / "agent.log.2").exists()
    assert not (logs / "agent.log.3").exists()
    assert all(p.stat().st_size <= 10_000 + 500 for p in logs.glob("agent.log*"))
    assert "GET /api/health 200" in (logs / "agent.log").read_text()


def test_binding_beyond_loopback_warns(tmp_path):
    svc = start_service(tmp_path / "agent", extra_args=("--host", "0.0.0.0"))
    try:
        assert svc.get("/api/health", token=None).status_code == 200
    finally:
        svc.stop()
    text = (tmp_path / "agent" / "logs" / "agent.log").read_text()
    assert "reachable from the network" in text


def test_default_bind_is_loopback_only(service):
    import json

    info = json.loads((service.data_dir / "service.json").read_text())
    assert info["url"].startswith("http://127.0.0.1:")
    import psutil

    listening = [c for c in psutil.Process(service.process.pid).net_connections(kind="inet") if c.status == "LISTEN"]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)


def test_the_buffered_log_writes_a_warning_at_once_and_everything_on_close(tmp_path):
    log_file = tmp_path / "agent.log"
    handler = BufferedRotatingFileHandler(log_file, 0, 0, flush_interval_s=3600)
    logger = logging.getLogger("crm_agent.test_buffered_log")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("request one")
        assert "request one" not in log_file.read_text()  # gathered, not yet written
        logger.warning("something wrong")
        assert log_file.read_text().splitlines()[-2:] == ["request one", "something wrong"]  # in order, at once
        logger.info("request two")
    finally:
        handler.close()
    assert log_file.read_text().splitlines() == ["request one", "something wrong", "request two"]
    try:
        logger.info("logged after close")  # e.g. late in the interpreter's shutdown: still written, as before
        assert log_file.read_text().splitlines()[-1] == "logged after close"
    finally:
        logger.removeHandler(handler)
