"""The service runtime in one process: the composition root's wiring (runtime/build.py) and the background jobs
(runtime/jobs.py): the schedule arithmetic, one failed round not ending a job, and every job started and stopped
together. The served process itself (signals, service.json, graceful stop) is covered through `agent.py serve`
in test_api.py, test_restore.py and the other service tests."""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from pathlib import Path

import gevent
import pytest

from ai.rules_client import RulesWorkerClient
from core.config import load_config
from core.paths import DataDir
from runtime import jobs
from runtime.build import EventLoop, build_service, service_database_url
from runtime.jobs import BackgroundJobs, newest_backup_time, run_periodically, seconds_until_next_backup

HOUR = 3600.0


# -- the backup schedule --------------------------------------------------------------------------------------


def test_the_first_backup_waits_for_start_up_to_settle_then_backups_are_due_an_interval_after_the_newest():
    now = 1_000_000.0
    # None yet: due at once, but right after start only after the start-up delay (or the interval if shorter).
    assert seconds_until_next_backup(None, now, 24 * HOUR) == 0.0
    assert seconds_until_next_backup(None, now, 24 * HOUR, just_started=True) == jobs.FIRST_BACKUP_DELAY_S
    assert seconds_until_next_backup(None, now, 5.0, just_started=True) == 5.0
    # The newest is 1 h old: due in 23 h, restarted or not (a daily restart must not postpone it).
    assert seconds_until_next_backup(now - HOUR, now, 24 * HOUR) == pytest.approx(23 * HOUR)
    assert seconds_until_next_backup(now - HOUR, now, 24 * HOUR, just_started=True) == pytest.approx(23 * HOUR)
    # Overdue: at once while running, after the start-up delay right after start.
    assert seconds_until_next_backup(now - 30 * HOUR, now, 24 * HOUR) == 0.0
    assert seconds_until_next_backup(now - 30 * HOUR, now, 24 * HOUR, just_started=True) == jobs.FIRST_BACKUP_DELAY_S


def test_the_newest_backup_time_is_the_newest_backup_files_mtime(tmp_path):
    backups = tmp_path / "backups"
    assert newest_backup_time(backups) is None
    backups.mkdir()
    older, newer = backups / "crm_agent-20260101T000000000000Z.db", backups / "crm_agent-20260102T000000000000Z.db"
    for path, mtime in ((older, 1_000.0), (newer, 2_000.0)):
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    assert newest_backup_time(backups) == 2_000.0


# -- the loops --------------------------------------------------------------------------------------------------


def test_a_failed_round_is_logged_and_the_next_one_runs(caplog):
    rounds = []

    def work() -> None:
        rounds.append(time.monotonic())
        if len(rounds) == 1:
            raise RuntimeError("first round fails")

    with caplog.at_level(logging.ERROR, logger="crm_agent.server"):
        job = gevent.spawn(run_periodically, work, 0.01, "test job failed", first_delay_s=0.0)
        try:
            deadline = time.monotonic() + 5
            while len(rounds) < 3 and time.monotonic() < deadline:
                gevent.sleep(0.01)
        finally:
            job.kill()
    assert len(rounds) >= 3
    assert [r.getMessage() for r in caplog.records if r.name == "crm_agent.server"] == ["test job failed"]


def test_background_jobs_start_together_and_all_stop_on_stop():
    started, ended = [], []

    def forever(service: object) -> None:
        started.append("forever")
        try:
            while True:
                gevent.sleep(0.01)
        finally:
            ended.append("forever")  # the cleanup of a job (e.g. closing the WAL checkpointer) runs on stop

    def turned_off(service: object) -> None:
        started.append("turned_off")  # a job whose setting is 0 returns at once

    background = BackgroundJobs(service=None, jobs=(forever, turned_off))  # type: ignore[arg-type]
    assert background.running() == []
    background.start()
    gevent.sleep(0.05)
    assert sorted(started) == ["forever", "turned_off"]
    assert background.running() == ["forever"]
    background.stop()
    assert ended == ["forever"]
    assert background.running() == []


def test_the_service_jobs_run_on_a_built_service_and_all_stop(tmp_path):
    config = load_config(None).with_overrides({"ai.llm_enabled": False, "monitor.sample_interval_s": 1})
    service = build_service(config, DataDir(tmp_path / "agent"))
    background = BackgroundJobs(service)
    try:
        background.start()
        gevent.sleep(0.2)
        # Sync is not configured, so its job has returned; backups and maintenance wait for their first round.
        assert background.running() == ["housekeeping", "checkpoint_wal", "sample_system", "scheduled_backups",
                                        "scheduled_maintenance", "return_free_memory"]
        assert background.jobs == jobs.SERVICE_JOBS
    finally:
        background.stop()
        service.close()
    assert background.running() == []


# -- the composition root -----------------------------------------------------------------------------------------


def _recording_loop(calls: list[str]) -> EventLoop:
    def off_loop(work):
        calls.append("off_loop")
        return work()

    def call_on_loop(callback):
        calls.append("call_on_loop")
        callback()

    return EventLoop(off_loop=off_loop, call_on_loop=call_on_loop, timeout=lambda seconds: nullcontext())


def test_build_service_wires_the_event_loop_into_maintenance_and_the_rules_worker(tmp_path):
    calls: list[str] = []
    config = load_config(None).with_overrides({"ai.llm_enabled": False})
    service = build_service(config, DataDir(tmp_path / "agent"), loop=_recording_loop(calls))
    try:
        assert isinstance(service.analysis.rules_worker, RulesWorkerClient)
        assert service.analysis.rules_worker.pid is None  # started with the first capture batch, not before
        info = service.maintenance.backup()
        assert info.path.exists()
        assert "off_loop" in calls and "call_on_loop" in calls  # the copy off the loop, its progress back on it
    finally:
        service.close()


def test_without_an_event_loop_everything_runs_in_process(tmp_path):
    config = load_config(None).with_overrides({"ai.llm_enabled": False})
    assert config["ai.rules_worker"] is True
    service = build_service(config, DataDir(tmp_path / "agent"))
    try:
        assert service.analysis.rules_worker is None
        assert service.maintenance.backup().path.exists()
        assert service.sync is not None and not service.is_hub
        assert service.first_admin_password  # the first start creates the admin
    finally:
        service.close()


def test_a_hub_has_no_sync_agent_and_the_rules_worker_follows_its_setting(tmp_path):
    config = load_config(None).with_overrides({"ai.llm_enabled": False, "ai.rules_worker": False})
    service = build_service(config, DataDir(tmp_path / "hub"), hub=True, loop=_recording_loop([]))
    try:
        assert service.is_hub and service.sync is None
        assert service.analysis.rules_worker is None
    finally:
        service.close()


def test_the_database_url_follows_database_path(tmp_path):
    data_dir = DataDir(tmp_path)
    default = load_config(None)
    assert service_database_url(default, data_dir) == f"sqlite:///{tmp_path / 'crm_agent.db'}"
    elsewhere = default.with_overrides({"database.path": str(tmp_path / "other.db")})
    assert service_database_url(elsewhere, data_dir) == f"sqlite:///{Path(tmp_path / 'other.db')}"
    hub = default.with_overrides({"database.path": "postgresql://hub@db.example/crm"})
    assert service_database_url(hub, data_dir) == "postgresql://hub@db.example/crm"
