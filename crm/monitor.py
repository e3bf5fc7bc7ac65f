"""System monitor: CPU, RAM and disk thresholds with hysteresis and cooldown, "connection lost", and "disk full".

An alert fires only after a value has stayed above its threshold for `sustain_s`, repeats at most every
`cooldown_s` while it stays there, and resolves (alert.resolved) once the value falls below the threshold
minus a small margin, so a value hovering at the threshold cannot flap. The sampler and the clock are
injected: tests step them by hand.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clock import Clock, iso

log = logging.getLogger("crm_agent.monitor")

HYSTERESIS_POINTS = 5.0  # a value must fall this far below its threshold to count as recovered
HISTORY_SAMPLES = 120  # kept in memory for the dashboard's performance chart (10 min at the default 5 s)

Sampler = Callable[[], dict[str, float]]
Emit = Callable[[str, dict[str, Any]], None]  # (event type, data)

TITLES = {"cpu": "High CPU usage", "memory": "High memory usage", "disk": "Disk almost full"}
NAMES = {"cpu": "CPU", "memory": "Memory", "disk": "Disk"}


@dataclass
class _Watch:
    threshold: float
    above_since: float | None = None
    fired_at: float | None = None  # monotonic time of the last alert while above; None when normal

    @property
    def active(self) -> bool:
        return self.fired_at is not None


@dataclass(frozen=True)
class MonitorSettings:
    cpu_percent: float = 80.0
    memory_percent: float = 90.0
    disk_percent: float = 85.0
    sustain_s: float = 30.0
    cooldown_s: float = 600.0
    connection_timeout_s: float = 900.0  # 0 disables the "connection lost" alert
    alert_on_negative: bool = False

    @classmethod
    def from_config(cls, config: Any) -> MonitorSettings:
        return cls(config["monitor.cpu_percent"], config["monitor.memory_percent"], config["monitor.disk_percent"],
                   config["monitor.sustain_s"], config["monitor.cooldown_s"], config["monitor.connection_timeout_s"],
                   config["monitor.alert_on_negative"])


class SystemMonitor:
    def __init__(self, settings: MonitorSettings, sampler: Sampler, clock: Clock, emit: Emit,
                 history_size: int = HISTORY_SAMPLES) -> None:
        self.settings = settings
        self.sampler = sampler
        self.clock = clock
        self.emit = emit
        self._watches = {"cpu": _Watch(settings.cpu_percent), "memory": _Watch(settings.memory_percent),
                         "disk": _Watch(settings.disk_percent)}
        self._last_capture: float | None = None
        self._connection_alert_at: float | None = None
        self.last_sample: dict[str, float] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=history_size)
        self._alerts: dict[str, dict[str, Any]] = {}  # active alert kind -> its alert.raised data
        self._disk_full_since: str | None = None  # when a write last found no room, until one commits again

    def apply_settings(self, settings: MonitorSettings) -> None:
        """New thresholds and timings from the settings window, without a restart (an active alert keeps its
        state and resolves against the new threshold)."""
        self.settings = settings
        self._watches["cpu"].threshold = settings.cpu_percent
        self._watches["memory"].threshold = settings.memory_percent
        self._watches["disk"].threshold = settings.disk_percent

    # -- inputs ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Take one sample and raise or resolve alerts (the service calls this every few seconds)."""
        now = self.clock.monotonic()
        self.last_sample = self.sampler()
        self.history.append({"at": iso(self.clock.now()), **self.last_sample})
        for kind, watch in self._watches.items():
            value = self.last_sample.get(kind)
            if value is not None:
                self._check(kind, watch, value, now)
        self._check_connection(now)

    def capture_seen(self, record: dict[str, Any] | None = None) -> None:
        """A message arrived from the extension; optionally alert on a negative customer message."""
        now = self.clock.monotonic()
        self._last_capture = now
        if self._connection_alert_at is not None:
            self._connection_alert_at = None
            self._resolve("connection", "Extension connected again", "Messages are arriving from WhatsApp Web.")
        # Not for the older messages of a chat in a batch (a history import would alert about the past).
        if (record is not None and self.settings.alert_on_negative and record.get("direction") == "in"
                and record.get("sentiment") == "negative" and record.get("latest_of_chat", True)):
            who = record.get("customer_name") or record.get("customer_phone")
            self._raise("negative_message", "Unhappy customer", f"{who}: {record.get('content', '')[:140]}",
                        message_id=record.get("id"), conversation_id=record.get("conversation_id"))

    def disk_full(self, reason: str) -> None:
        """A write found the database's filesystem full: raise disk_full once, until writes commit again.

        Not sampled like the disk percentage: the failed write is the proof, and the next write that commits
        is the proof that space is back (the extension keeps retrying, so that comes by itself)."""
        if self._disk_full_since is not None:
            return
        self._disk_full_since = iso(self.clock.now())
        self._raise("disk_full", "Disk full: messages are not being saved",
                    "No space left on the disk that holds the agent's data; WhatsApp messages wait in the browser "
                    "extension and are saved once space is freed.", reason=reason)

    def disk_writable(self) -> None:
        """A write committed: end the disk_full alert if one is active."""
        if self._disk_full_since is None:
            return
        self._disk_full_since = None
        self._resolve("disk_full", "Disk space available again", "WhatsApp messages are saved again.")

    # -- state ----------------------------------------------------------------------------------

    def active_alerts(self) -> list[str]:
        active = [kind for kind, watch in self._watches.items() if watch.active]
        if self._connection_alert_at is not None:
            active.append("connection")
        if self._disk_full_since is not None:
            active.append("disk_full")
        return active

    def storage_status(self) -> dict[str, Any]:
        """For GET /api/health: full (since when) or ok."""
        if self._disk_full_since is None:
            return {"state": "ok", "degraded": False}
        return {"state": "full", "degraded": True, "since": self._disk_full_since,
                "message": "the disk is full: captures are refused (507) until space is freed"}

    def active_alert_details(self) -> list[dict[str, Any]]:
        """The alert.raised data of each active alert (title, message, when), in active_alerts() order."""
        return [self._alerts.get(kind, {"kind": kind}) for kind in self.active_alerts()]

    # -- rules ----------------------------------------------------------------------------------

    def _check(self, kind: str, watch: _Watch, value: float, now: float) -> None:
        if value > watch.threshold:
            if watch.above_since is None:
                watch.above_since = now
            sustained = now - watch.above_since >= self.settings.sustain_s
            cooled = watch.fired_at is None or now - watch.fired_at >= self.settings.cooldown_s
            if sustained and cooled:
                watch.fired_at = now
                self._raise(kind, TITLES[kind], f"{NAMES[kind]} at {value:.0f}% for "
                            f"{now - watch.above_since:.0f} s (threshold {watch.threshold:.0f}%)",
                            value=round(value, 1), threshold=watch.threshold)
            return
        if value < watch.threshold - HYSTERESIS_POINTS or watch.fired_at is None:
            if watch.fired_at is not None:
                self._resolve(kind, f"{NAMES[kind]} back to normal", f"{NAMES[kind]} at {value:.0f}%",
                              value=round(value, 1), threshold=watch.threshold)
            watch.above_since = None
            watch.fired_at = None

    def _check_connection(self, now: float) -> None:
        timeout = self.settings.connection_timeout_s
        # "Lost" needs a connection first: no alert before the extension has sent anything in this run.
        if timeout <= 0 or self._last_capture is None:
            return
        silent = now - self._last_capture
        if silent < timeout:
            return
        if self._connection_alert_at is None or now - self._connection_alert_at >= self.settings.cooldown_s:
            self._connection_alert_at = now
            self._raise("connection", "Connection lost",
                        f"No messages from the WhatsApp Web extension for {silent / 60:.0f} min. "
                        "Is WhatsApp Web open with the extension enabled?", silent_s=round(silent))

    def _raise(self, kind: str, title: str, message: str, **extra: Any) -> None:
        log.warning("alert %s: %s", kind, message)
        data = {"kind": kind, "title": title, "message": message, "at": iso(self.clock.now()), **extra}
        # One-off alerts (a negative message) never stay active.
        if kind in self._watches or kind in ("connection", "disk_full"):
            self._alerts[kind] = data
        self.emit("alert.raised", data)

    def _resolve(self, kind: str, title: str, message: str, **extra: Any) -> None:
        log.info("alert %s resolved: %s", kind, message)
        self._alerts.pop(kind, None)
        self.emit("alert.resolved", {"kind": kind, "title": title, "message": message,
                                     "at": iso(self.clock.now()), **extra})
