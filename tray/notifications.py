"""Native desktop notifications for the service's events.

NotificationPolicy decides what to show: per-type mute, quiet hours
and bursts (at most `burst_max` notifications per `burst_window_s`; the overflow is merged into one
"and K more" notification at the end of the window). It is pure and takes the time as an argument.
A pairing code is outside the policy (ALWAYS_SHOWN, below). StallWatch keeps "capture stalled" to one
notification per stall. Notifier shows them through plyer (app name "CRM Agent" and our icon) from one
dispatcher thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from core.i18n import N_, SOURCE_LANGUAGE, Translator
from desktop.pairing import group_code

log = logging.getLogger(__name__)

APP_NAME = "CRM Agent"
CONNECTION_LOST = "connection.lost"  # the tray's own event type (not from the service)
PAIRING_REQUESTED = "pairing.requested"
CAPTURE_STALLED = "capture.stalled"
CAPTURE_RESUMED = "capture.resumed"
NOTIFIABLE = ("alert.raised", "alert.resolved", "capture.state", "ai.state", CONNECTION_LOST, CAPTURE_STALLED,
              PAIRING_REQUESTED)
# Shown even when muted, in quiet hours, past the burst cap or with notifications off. A pairing code answers
# what the user did in the browser a few seconds ago (like the replies to menu actions, notify_now), it is
# useless once its 120 s are over (holding it for a burst window or the night would break the pairing), and
# muting exists for the agent's unsolicited news. It only ever appears on this desktop.
ALWAYS_SHOWN = (PAIRING_REQUESTED,)
PAIRING_CODE_LIFETIME = timedelta(minutes=2)
# The service's alerts (crm/monitor.py) carry English text for its log and API plus what they are about (kind,
# value, threshold...): the tray writes them again in the user's language from those.
USAGE_TITLES = {"cpu": N_("High CPU usage"), "memory": N_("High memory usage"), "disk": N_("Disk almost full")}
USAGE_NAMES = {"cpu": N_("CPU"), "memory": N_("Memory"), "disk": N_("Disk")}
QUIET_HOURS = re.compile(r"(?:([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d))?")


@dataclass(frozen=True)
class NotificationSettings:
    """Defaults for the `notifications` config section (keys named after the fields)."""

    enabled: bool = True
    muted: tuple[str, ...] = ()  # event types never shown, e.g. ("alert.resolved",)
    quiet_hours: str = ""  # "HH:MM-HH:MM" local time (may wrap midnight); "" = none
    burst_max: int = 3  # at most this many notifications per window, the merged one included
    burst_window_s: float = 60.0
    connection_lost_after_s: float = 10.0  # tell the user when the service stays unreachable this long
    timeout_s: int = 10  # how long a notification stays on screen (where the desktop honours it)

    @classmethod
    def from_config(cls, config: Any) -> NotificationSettings:
        """Read notifications.<field> from a core.config.Config where declared, else the defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            try:
                value = config[f"notifications.{f.name}"]
            except (KeyError, TypeError):
                continue
            values[f.name] = tuple(value) if f.name == "muted" else value
        return cls(**values)

    def quiet_range(self) -> tuple[dtime, dtime] | None:
        match = QUIET_HOURS.fullmatch(self.quiet_hours or "")
        if not match or not match.group(1):
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return dtime(h1, m1), dtime(h2, m2)


def in_quiet_hours(settings: NotificationSettings, local: datetime) -> bool:
    window = settings.quiet_range()
    if window is None:
        return False
    start, end = window
    now = local.time()
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # wraps midnight, e.g. 22:00-07:00


@dataclass(frozen=True)
class Note:
    title: str
    message: str
    kind: str


def describe(event: dict[str, Any], tr: Translator) -> Note | None:
    """The notification for an event in the user's language, or None for events that are not shown."""
    kind = event.get("type", "")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if kind == "alert.raised":
        return alert_raised_note(data, tr)
    if kind == "alert.resolved":
        return alert_resolved_note(data, tr)
    if kind == "capture.state":
        if data.get("paused"):
            return Note(tr._("Capture paused"), tr._("New WhatsApp messages are refused until you resume."), kind)
        return Note(tr._("Capture resumed"), tr._("New WhatsApp messages are captured again."), kind)
    if kind == "ai.state":
        if data.get("degraded") or data.get("state") in ("crashed", "failed", "error"):
            return Note(tr._("AI engine unavailable"), tr._("Using the built-in analyzer meanwhile."), kind)
        return None
    if kind == "backup.failed":  # a scheduled backup failing must not go unnoticed
        title = {"restore": N_("Restore failed"), "maintenance": N_("Database maintenance failed")}.get(
            str(data.get("kind")), N_("Backup failed"))
        return Note(tr._(title), str(data.get("error") or tr._("See the agent log.")), kind)
    if kind == PAIRING_REQUESTED:
        name = str(data.get("name") or tr._("A browser"))
        return Note(tr._("Pairing code {code} — {name} wants to connect").format(
                        code=group_code(str(data.get("code") or "")), name=name),
                    tr._("Type this code in the CRM Agent extension's options page (it expires in {duration}). "
                         "Not you? Deny it in the Connect window.").format(
                        duration=tr.duration(PAIRING_CODE_LIFETIME)), kind)
    if kind == CAPTURE_STALLED:
        name = str(data.get("name") or tr._("The browser extension"))
        reason = str(data.get("reason") or "").strip()  # the extension's own words (English, for support)
        finds = (tr._("{name} finds no messages in the open chat ({reason}).").format(name=name, reason=reason)
                 if reason else tr._("{name} finds no messages in the open chat.").format(name=name))
        return Note(tr._("Capture stalled: WhatsApp Web changed"),
                    finds + " " + tr._("New messages are not captured until the extension is updated."), kind)
    if kind == CONNECTION_LOST:
        return Note(str(data.get("title") or tr._("Connection lost")), str(data.get("message") or ""), kind)
    return None


def alert_raised_note(data: dict[str, Any], tr: Translator) -> Note:
    """"CPU a 93% (limite 90%)": the alerts this tray knows, written from their values; others as the service
    wrote them."""
    alert, kind = str(data.get("kind") or ""), "alert.raised"
    value, threshold = _number(data.get("value")), _number(data.get("threshold"))
    if alert in USAGE_TITLES and value is not None and threshold is not None:
        return Note(tr._(USAGE_TITLES[alert]), tr._("{what} at {value} (limit {threshold})").format(
            what=tr._(USAGE_NAMES[alert]), value=tr.percent(value / 100), threshold=tr.percent(threshold / 100)),
            kind)
    if alert in USAGE_TITLES:
        return Note(tr._(USAGE_TITLES[alert]), str(data.get("message") or ""), kind)
    if alert == "connection":
        silent = _number(data.get("silent_s"))
        message = (tr._("No messages from the WhatsApp Web extension for {duration}. Is WhatsApp Web open with the "
                        "extension enabled?").format(duration=tr.duration(timedelta(seconds=silent)))
                   if silent is not None else str(data.get("message") or ""))
        return Note(tr._("Connection lost"), message, kind)
    if alert == "disk_full":
        return Note(tr._("Disk full: messages are not being saved"),
                    tr._("No space left on the disk that holds the agent's data; WhatsApp messages wait in the "
                         "browser extension and are saved once space is freed."), kind)
    if alert == "negative_message":  # the message is the customer's own words
        return Note(tr._("Unhappy customer"), str(data.get("message") or ""), kind)
    return Note(str(data.get("title") or tr._("Alert")), str(data.get("message") or ""), kind)


def alert_resolved_note(data: dict[str, Any], tr: Translator) -> Note:
    alert, kind = str(data.get("kind") or ""), "alert.resolved"
    value = _number(data.get("value"))
    if alert in USAGE_NAMES:
        what = tr._(USAGE_NAMES[alert])
        message = (tr._("{what} at {value}").format(what=what, value=tr.percent(value / 100))
                   if value is not None else str(data.get("message") or ""))
        return Note(tr._("{what} back to normal").format(what=what), message, kind)
    if alert == "connection":
        return Note(tr._("Extension connected again"), tr._("Messages are arriving from WhatsApp Web."), kind)
    if alert == "disk_full":
        return Note(tr._("Disk space available again"), tr._("WhatsApp messages are saved again."), kind)
    return Note(str(data.get("title") or tr._("Alert resolved")), str(data.get("message") or ""), kind)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class NotificationPolicy:
    """Which notes to show now and which to merge. Not thread-safe: the Notifier calls it under its lock."""

    settings: NotificationSettings
    tr: Translator = field(default_factory=lambda: Translator(SOURCE_LANGUAGE))  # for the merged note's title
    window_start: float | None = None
    shown_in_window: int = 0
    held: list[Note] = field(default_factory=list)
    suppressed: int = 0  # muted or quiet, for the log

    def offer(self, note: Note, now: float, local: datetime) -> list[Note]:
        s = self.settings
        if note.kind in ALWAYS_SHOWN:  # outside the window's count too: it must not hold back the next alert
            return [*self.due(now), note]
        if not s.enabled or note.kind in s.muted or in_quiet_hours(s, local):
            self.suppressed += 1
            return []
        out = self.due(now)
        if self.window_start is None:
            self.window_start, self.shown_in_window = now, 0
        # One slot of each window stays free for the merged note, so a window never shows more than burst_max.
        if self.shown_in_window < s.burst_max - 1:
            self.shown_in_window += 1
            out.append(note)
        else:
            self.held.append(note)
        return out

    def due(self, now: float) -> list[Note]:
        """Close the window if it has ended: the held notes become one (merged) note."""
        if self.window_start is None or now < self.window_start + self.settings.burst_window_s:
            return []
        held, self.held = self.held, []
        self.window_start, self.shown_in_window = None, 0
        if not held:
            return []
        if len(held) == 1:
            return [held[0]]
        first = held[0]
        more = len(held) - 1
        title = self.tr.n_("{title} and {n} more", "{title} and {n} more", more).format(title=first.title)
        return [Note(title, first.message, "merged")]

    def next_deadline(self) -> float | None:
        if self.window_start is None:
            return None
        return self.window_start + self.settings.burst_window_s


def plyer_show(title: str, message: str, icon_path: str, timeout_s: int) -> None:
    """Show one notification through plyer. The kwargs go to the platform class directly so the icon and
    timeout reach every backend: plyer's notify-send class reads `icon`/`expire_time`, the others
    `app_icon`/`timeout`, and the public notify() only forwards the latter."""
    import warnings

    # plyer warns on every first use that dbus-python is missing; it then uses notify-send, which is fine.
    warnings.filterwarnings("ignore", message="The Python dbus package is not installed", category=UserWarning)
    from plyer import notification

    notification._notify(
        title=title[:200], message=message[:500], app_name=APP_NAME, app_icon=icon_path, icon=icon_path,
        timeout=timeout_s, expire_time=str(timeout_s * 1000), hints={}, ticker=title, toast=False)


class Notifier:
    """Takes events from any thread; shows notifications from one thread (shows may block: notify-send)."""

    def __init__(self, settings: NotificationSettings, icon_path: str, tr: Translator,
                 show: Callable[[str, str, str, int], None] = plyer_show,
                 clock: Callable[[], float] = time.monotonic, local_now: Callable[[], datetime] = datetime.now,
                 ) -> None:
        self.settings = settings
        self.tr = tr  # the user's language: every note is written in it
        self.policy = NotificationPolicy(settings, tr)
        self._icon_path = icon_path
        self._show = show
        self._clock = clock
        self._local_now = local_now
        self._cond = threading.Condition()
        self._pending: list[Note] = []
        self._stopping = False
        self.shown: list[Note] = []
        self.stalls = StallWatch()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def handle_event(self, event: dict[str, Any]) -> None:
        if not self.stalls.admit(event):
            return
        note = describe(event, self.tr)
        if note is not None:
            self.notify(note)

    def notify(self, note: Note) -> None:
        with self._cond:
            self._pending.extend(self.policy.offer(note, self._clock(), self._local_now()))
            self._cond.notify()

    def notify_now(self, title: str, message: str) -> None:
        """Outside the policy (first-run password, replies to the user's own menu actions)."""
        with self._cond:
            self._pending.append(Note(title, message, "direct"))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    self._pending.extend(self.policy.due(self._clock()))
                    if self._pending:
                        break
                    deadline = self.policy.next_deadline()
                    self._cond.wait(None if deadline is None else max(0.01, deadline - self._clock()))
                batch, self._pending = self._pending, []
            for note in batch:
                self.shown.append(note)
                try:
                    self._show(note.title, note.message, self._icon_path, self.settings.timeout_s)
                except Exception:
                    log.exception("could not show the notification %r", note.title)


class StallWatch:
    """One "capture stalled" notification per stall of each extension. The service publishes capture.stalled
    on the transition only; this also holds when it is published again (a restarted service, a replay after
    a reconnect): the next one for that extension passes after its capture.resumed."""

    def __init__(self) -> None:
        self._stalled: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, event: dict[str, Any]) -> bool:
        """False for a capture.stalled already notified; records stalls and resumes. Other events pass."""
        kind = event.get("type")
        if kind not in (CAPTURE_STALLED, CAPTURE_RESUMED):
            return True
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        key = str(data.get("extension_id") or data.get("name") or "")
        with self._lock:
            if kind == CAPTURE_RESUMED:
                if key:
                    self._stalled.discard(key)
                else:
                    self._stalled.clear()
                return True
            if key in self._stalled:
                return False
            self._stalled.add(key)
            return True

    def keep_only(self, stalled_now: set[str]) -> None:
        """The service's health lists the extensions stalled now: forget the others (a capture.resumed the
        tray missed, a restarted service), so their next stall is told again."""
        with self._lock:
            self._stalled &= stalled_now

    @property
    def stalled(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._stalled)


class ConnectionWatch:
    """Raises the tray's own "connection lost" notification when the service stays unreachable for
    `after_s` (a quick restart by the supervisor stays silent), and "connection restored" after that."""

    def __init__(self, notifier: Notifier, after_s: float) -> None:
        self._notifier = notifier
        self._after_s = after_s
        self._timer: threading.Timer | None = None
        self._announced = False
        self._lock = threading.Lock()

    def connected(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            announced, self._announced = self._announced, False
        if announced:
            tr = self._notifier.tr
            self._notifier.notify(Note(tr._("Connection restored"), tr._("The CRM Agent service is running again."),
                                       CONNECTION_LOST))

    def lost(self) -> None:
        with self._lock:
            if self._timer is not None or self._announced:
                return
            self._timer = threading.Timer(self._after_s, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            self._announced = True
        tr = self._notifier.tr
        self._notifier.handle_event({"type": CONNECTION_LOST, "data": {
            "title": tr._("Connection lost"),
            "message": tr._("The tray lost the CRM Agent service; it is being restarted.")}})

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
