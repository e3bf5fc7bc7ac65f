"""The served service's background jobs, each a small named function, and BackgroundJobs, which starts them all
on the event loop and stops them all together.

Every job takes the Service, runs until it is killed (or returns at once when its setting turns it off) and
logs its own failures: one failed round never ends a job. Call only after gevent.monkey.patch_all().
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gevent
import gevent.event

from core import events
from core.clock import iso
from crm import metrics
from crm.service import Service
from crm.sync import SyncError
from runtime.memory import TRIM_INTERVAL_S, trim_free_heap
from storage.backups import list_backups
from storage.database import Database, DiskFull, WalCheckpointer

log = logging.getLogger("crm_agent.server")

HOUSEKEEPING_INTERVAL_S = 2.0
METRICS_PUSH_INTERVAL_S = 10.0
WAL_CHECKPOINT_INTERVAL_S = 1.0
# Above this size the WAL is checkpointed to the end and truncated while writes wait (a few milliseconds). Its
# size is looked at every WAL_SIZE_CHECK_INTERVAL_S (a stat), so at the ~25 MB/s that batches of captures
# write, the file stays within a few MB of this.
WAL_TRUNCATE_BYTES = 4 * 1024 * 1024
WAL_SIZE_CHECK_INTERVAL_S = 0.1
FIRST_BACKUP_DELAY_S = 60.0  # the first automatic backup waits until start-up work has settled
FIRST_MAINTENANCE_DELAY_S = 600.0

Job = Callable[[Service], None]


def run_periodically(work: Callable[[], None], interval_s: float, failure: str,
                     first_delay_s: float | None = None) -> None:
    """Wait first_delay_s (default: interval_s), then run work every interval_s; a failure is logged with the
    message `failure` and the next round runs as planned."""
    gevent.sleep(interval_s if first_delay_s is None else first_delay_s)
    while True:
        try:
            work()
        except Exception:
            log.exception(failure)
        gevent.sleep(interval_s)


def housekeeping(service: Service) -> None:
    """Flush warnings to system_logs, end expired pairings, and push dashboard figures to live clients."""
    ticks_per_push = max(1, int(METRICS_PUSH_INTERVAL_S / HOUSEKEEPING_INTERVAL_S))
    ticks = itertools.count(1)

    def tick() -> None:
        number = next(ticks)  # counted first: a failed tick still counts towards the next push
        try:
            service.db_log_handler.flush_to(service.db)
        except DiskFull:  # kept in memory (bounded) until there is room; a traceback each tick would add more
            pass
        service.pairings.expire()  # publishes pairing.ended, so the desktop's code window closes in time
        if number % ticks_per_push == 0 and service.bus.subscriber_count:
            figures = metrics.dashboard(service.db, service.clock, service.data_dir.root)
            service.bus.publish(events.METRICS_UPDATED, figures, iso(service.clock.now()))

    run_periodically(tick, HOUSEKEEPING_INTERVAL_S, "housekeeping failed")


def checkpoint_wal(service: Service) -> None:
    """Checkpoint SQLite's WAL every second on a worker thread, and at once when the file has grown past
    WAL_TRUNCATE_BYTES (see storage.database.WalCheckpointer and docs/decisions.md "A bounded WAL")."""
    path = service.db.sqlite_path
    if path is None:
        return
    checkpointer = WalCheckpointer(path)
    service.db.disable_auto_checkpoint()
    pool = gevent.get_hub().threadpool
    next_checkpoint = time.monotonic() + WAL_CHECKPOINT_INTERVAL_S
    try:
        while True:
            gevent.sleep(WAL_SIZE_CHECK_INTERVAL_S)
            if time.monotonic() < next_checkpoint and checkpointer.wal_bytes() <= WAL_TRUNCATE_BYTES:
                continue
            next_checkpoint = time.monotonic() + WAL_CHECKPOINT_INTERVAL_S
            try:
                checkpoint_and_bound_wal(service.db, checkpointer, pool.apply)
            except DiskFull:  # the health's storage part and the disk_full alert tell the user; no log every second
                log.debug("WAL checkpoint waits for disk space")
            except Exception:  # noqa: BLE001 - the next round retries; SQLite also checkpoints on close
                log.warning("WAL checkpoint failed", exc_info=True)
    finally:
        checkpointer.close()


def checkpoint_and_bound_wal(db: Database, checkpointer: WalCheckpointer,
                             off_loop: Callable[[Callable[[], Any]], Any]) -> None:
    """A PASSIVE checkpoint that never blocks writes copies most of the WAL; when the file is still larger than
    WAL_TRUNCATE_BYTES, the rest is copied and the file truncated while this connection's writes wait on the
    database's (cooperative) lock: reads and every other request keep running. Without that pause the copy
    never catches up with a steady load, and the WAL never starts over."""
    off_loop(checkpointer.checkpoint)
    if checkpointer.wal_bytes() <= WAL_TRUNCATE_BYTES:
        return
    started = time.perf_counter()
    with db.writes_held():
        busy, _, _ = off_loop(checkpointer.truncate)
    if busy:  # another process reads or writes: the next round tries again
        log.debug("WAL truncation postponed: the database is busy")
    else:
        log.debug("WAL truncated; writes waited %.1f ms", (time.perf_counter() - started) * 1000)


def sample_system(service: Service) -> None:
    """Feed the system monitor every monitor.sample_interval_s (alerts go out as WS events)."""
    run_periodically(service.monitor.tick, service.config["monitor.sample_interval_s"], "system monitor failed")


def scheduled_backups(service: Service) -> None:
    """A verified backup every database.backup_interval_s (0 turns them off), counted from the newest backup.

    Counting from the newest backup rather than from start means an agent restarted every day still backs
    up daily (a 24 h timer restarted with it would never fire).
    """
    interval = service.config["database.backup_interval_s"]
    if interval <= 0 or service.db.sqlite_path is None:
        return
    delay = seconds_until_next_backup(newest_backup_time(service.data_dir.backups), time.time(), interval,
                                      just_started=True)
    while True:
        gevent.sleep(delay)
        try:
            service.maintenance.backup()
        except Exception:
            log.exception("scheduled backup failed")
            gevent.sleep(min(interval, 600))  # a failing backup is retried, not every loop turn
        delay = seconds_until_next_backup(newest_backup_time(service.data_dir.backups), time.time(), interval)


def newest_backup_time(backups: Path) -> float | None:
    """When the newest backup was written (its mtime), or None when there is none."""
    newest = list_backups(backups)
    return newest[0].path.stat().st_mtime if newest else None


def seconds_until_next_backup(newest: float | None, now: float, interval: float, just_started: bool = False) -> float:
    """Due `interval` after the newest backup (at once when there is none); right after start, an overdue one
    waits for start-up to settle (FIRST_BACKUP_DELAY_S, or the interval when that is shorter)."""
    due_in = interval - (now - newest) if newest is not None else 0.0
    if just_started:
        return max(due_in, min(interval, FIRST_BACKUP_DELAY_S))
    return max(due_in, 0.0)


def scheduled_maintenance(service: Service) -> None:
    """Retention, ANALYZE and VACUUM every database.maintenance_interval_s (0 turns it off)."""
    interval = service.config["database.maintenance_interval_s"]
    if interval <= 0 or service.db.sqlite_path is None:
        return
    run_periodically(service.maintenance.run_retention, interval, "scheduled database maintenance failed",
                     first_delay_s=min(interval, FIRST_MAINTENANCE_DELAY_S))


def sync_with_hub(service: Service) -> None:
    """A sync round every sync.interval_s, or at once when asked (POST /api/sync/now)."""
    agent = service.sync
    if agent is None or not agent.settings.configured:
        return
    wake = gevent.event.Event()
    agent.on_round_requested = wake.set
    run_when_woken(agent.sync_once, wake, agent.settings.interval_s, "sync with the hub failed: %s",
                   "sync round failed")


def run_when_woken(round_: Callable[[], None], wake: gevent.event.Event, interval_s: float, hub_error: str,
                   unexpected: str) -> None:
    """round_ now, then again when wake is set or interval_s has passed, for ever. A SyncError (the hub's answer
    or its absence) is one warning line formatted by hub_error; anything else is logged with its traceback."""
    while True:
        wake.clear()
        try:
            round_()
        except SyncError as exc:
            log.warning(hub_error, exc)
        except Exception:
            log.exception(unexpected)
        wake.wait(interval_s)


def upload_offsite_backups(service: Service) -> None:
    """Upload each verified backup to the hub (crm/offsite.py): at once after a backup completes, and every
    sync.interval_s for one written by `agent.py backup now` or left over from a failed round."""
    offsite = service.offsite
    if offsite is None or not offsite.enabled:
        return
    wake = gevent.event.Event()

    def on_event(event: dict) -> None:
        if event["type"] == events.BACKUP_COMPLETED:
            wake.set()

    service.bus.subscribe(on_event)
    try:
        run_when_woken(offsite.upload_pending, wake, offsite.settings.interval_s, "%s", "off-site backup upload failed")
    finally:
        service.bus.unsubscribe(on_event)


def prewarm_ai_model(service: Service) -> None:
    """Load the LLM worker's model ai.prewarm_after_s after the start (0: off), so the first analysis or draft
    does not wait for a cold start. The worker runs at idle priority: captures keep the CPU. The cost is the
    loaded worker's memory (~450 MB with the bundled model: bench/ai_worker_footprint.py) until
    ai.keep_alive_s of idleness unloads it."""
    delay_s = service.config["ai.prewarm_after_s"]
    worker = service.analysis.worker
    if not delay_s or worker is None:
        return
    gevent.sleep(delay_s)
    warming = worker.prewarm()
    if warming is not None:
        log.info("loading the AI model in the background (ai.prewarm_after_s=%s)", delay_s)


def analyse_pending_messages(service: Service) -> None:
    """Analyse the messages a history import stored with their analysis pending (crm/analysis_backfill.py): at
    once when a capture batch defers some, and at start for those a stop or a crash left pending. SQLite only: a
    hub's messages are the agents' rows (hub_rows), analysed where they were captured."""
    backfill = service.analysis_backfill
    if backfill is None or not service.db.is_sqlite:
        return
    backfill.run_forever()


def return_free_memory(service: Service) -> None:
    """Hand the heap's free pages back to the operating system now and then (runtime/memory.py)."""
    run_periodically(trim_free_heap, TRIM_INTERVAL_S, "returning free memory failed")


# Every job the served service runs, in the order they start.
SERVICE_JOBS: tuple[Job, ...] = (housekeeping, checkpoint_wal, sample_system, scheduled_backups,
                                 scheduled_maintenance, sync_with_hub, upload_offsite_backups, return_free_memory,
                                 prewarm_ai_model, analyse_pending_messages)


class BackgroundJobs:
    """The one place that starts the service's background jobs and stops them all."""

    def __init__(self, service: Service, jobs: Sequence[Job] = SERVICE_JOBS) -> None:
        self.service = service
        self.jobs = tuple(jobs)
        self._greenlets: dict[str, gevent.Greenlet] = {}  # by job name, while started

    def start(self) -> None:
        self._greenlets = {job.__name__: gevent.spawn(job, self.service) for job in self.jobs}

    def running(self) -> list[str]:
        """The names of the jobs still running (a job turned off by its setting has already returned)."""
        return [name for name, greenlet in self._greenlets.items() if not greenlet.dead]

    def stop(self) -> None:
        """Kill every job and wait until each has ended (its `finally` blocks have run)."""
        gevent.killall(list(self._greenlets.values()), block=True)
        self._greenlets = {}
