"""What the tray shows: the agent's state folded from health answers, events and the supervisor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from core.i18n import N_, Translator

RUNNING = "running"
DEGRADED = "degraded"
DOWN = "down"
PAUSED = "paused"
STATES = (RUNNING, DEGRADED, DOWN, PAUSED)
# Health parts degraded while one stalls / while the disk is full.
PART_TROUBLE = {"extensions": N_("WhatsApp Web capture stalled"), "storage": N_("Disk full: messages not saved")}
# The service's alert kinds as the tooltip names them.
ALERT_NAMES = {"cpu": N_("CPU"), "memory": N_("memory"), "disk": N_("disk"), "connection": N_("connection"),
               "disk_full": N_("disk full")}
STARTING = N_("starting")


@dataclass(frozen=True)
class Status:
    service_up: bool = False
    url: str = ""
    capture_paused: bool = False
    degraded_parts: tuple[str, ...] = ()  # health parts reporting degraded (analyzer off, ...)
    active_alerts: tuple[str, ...] = ()  # alert kinds raised and not resolved
    detail: str = STARTING  # what the supervisor says while the service is not up (English; shown translated)
    sync_error: str = ""  # the team hub sync's last error while it is failing ("" when fine or off)
    synced_at: str = ""  # HH:MM of the last successful sync ("" when off or never)
    extensions_paired: int | None = None  # active browser extensions; None while unknown (an older service)

    @property
    def needs_extension(self) -> bool:
        """Offer "Connect WhatsApp Web" until a browser is known to be paired."""
        return not self.extensions_paired

    @property
    def state(self) -> str:
        if not self.service_up:
            return DOWN
        if self.capture_paused:
            return PAUSED
        if self.degraded_parts or self.active_alerts or self.sync_error:
            return DEGRADED
        return RUNNING

    def tooltip(self, tr: Translator) -> str:
        """One line for the icon's tooltip, in the user's language."""
        state = self.state
        if state == DOWN:
            return tr._("CRM Agent: service down ({detail})").format(detail=tr._(self.detail))
        if state == PAUSED:
            return tr._("CRM Agent: capture paused")
        if state == DEGRADED:
            reasons = [tr._("alert: {name}").format(name=tr._(ALERT_NAMES[a]) if a in ALERT_NAMES else a)
                       for a in self.active_alerts]
            reasons += [tr._(PART_TROUBLE[p]) if p in PART_TROUBLE else tr._("{part} degraded").format(part=p)
                        for p in self.degraded_parts]
            if self.sync_error:
                reasons.append(tr._("team sync failing ({error})").format(error=self.sync_error[:60]))
            return tr._("CRM Agent: {reasons}").format(reasons=", ".join(reasons))
        address = self.url.removeprefix("http://")
        if self.synced_at:
            return tr._("CRM Agent: running ({address}), synced {time}").format(address=address, time=self.synced_at)
        return tr._("CRM Agent: running ({address})").format(address=address)


def parts_degraded(health: dict[str, Any]) -> tuple[str, ...]:
    """Names of the health parts that say degraded, without the alerts (tracked from events)."""
    return tuple(sorted(name for name, part in health.items()
                        if isinstance(part, dict) and part.get("degraded") and name != "alerts"))


def sync_from_health(health: dict[str, Any]) -> tuple[str, str]:
    """(error while failing, HH:MM of the last success) from the health's `sync` part; ("", "") when off."""
    sync = health.get("sync")
    if not isinstance(sync, dict) or not sync.get("enabled"):
        return "", ""
    error = str(sync.get("last_error") or "") if sync.get("state") == "error" else ""
    return error, local_hh_mm(sync.get("last_success_at"))


def local_hh_mm(stamp: Any) -> str:
    """HH:MM in the user's time zone from the service's UTC ISO stamp; "" when absent or unreadable."""
    if not isinstance(stamp, str):
        return ""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%H:%M")


def paired_from_health(health: dict[str, Any]) -> int | None:
    """The health's `extensions` part {"paired": n, ...}; None when the service does not report it."""
    part = health.get("extensions")
    paired = part.get("paired") if isinstance(part, dict) else None
    return paired if isinstance(paired, int) and not isinstance(paired, bool) else None


def stalled_from_health(health: dict[str, Any]) -> set[str] | None:
    """Ids of the extensions whose capture is stalled, from the health's `extensions` part; None when absent."""
    part = health.get("extensions")
    stalled = part.get("stalled") if isinstance(part, dict) else None
    if not isinstance(stalled, list):
        return None
    return {str(s.get("id")) for s in stalled if isinstance(s, dict) and s.get("id") is not None}


def paired_from_list(body: Any) -> int:
    """Active extensions in a GET /api/extensions answer."""
    items = body.get("items") if isinstance(body, dict) else None
    return sum(1 for i in items or [] if isinstance(i, dict) and i.get("state") == "active")


def alerts_from_health(health: dict[str, Any]) -> tuple[str, ...]:
    alerts = health.get("alerts")
    if isinstance(alerts, dict) and isinstance(alerts.get("active"), list):
        return tuple(sorted(str(a) for a in alerts["active"]))
    return ()


@dataclass
class StatusBoard:
    """Thread-safe holder of the current Status; calls listeners (the icon) after each change."""

    status: Status = field(default_factory=Status)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Callable[[Status], None]] = field(default_factory=list)

    def listen(self, listener: Callable[[Status], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes: Any) -> Status:
        with self._lock:
            new = replace(self.status, **changes)
            changed = new != self.status
            self.status = new
        if changed:
            for listener in list(self._listeners):
                listener(new)
        return new

    def apply_health(self, health: dict[str, Any]) -> Status:
        capture = health.get("capture") if isinstance(health.get("capture"), dict) else {}
        sync_error, synced_at = sync_from_health(health)
        changes: dict[str, Any] = {
            "capture_paused": bool(capture.get("paused")), "degraded_parts": parts_degraded(health),
            "active_alerts": alerts_from_health(health), "sync_error": sync_error, "synced_at": synced_at}
        paired = paired_from_health(health)
        if paired is not None:  # absent: the app asks GET /api/extensions instead
            changes["extensions_paired"] = paired
        return self.update(**changes)

    def apply_event(self, event: dict[str, Any]) -> Status:
        """Events that change the state directly; alerts and ai.state make the app re-read /api/health,
        which knows which alerts are still active (a one-off alert such as a negative message is not)."""
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if event.get("type") == "capture.state":
            return self.update(capture_paused=bool(data.get("paused")))
        return self.status
