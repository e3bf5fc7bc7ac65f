"""Notifications: the policy (mute, quiet hours, burst cap and merge) with a fake clock, and the real
path: the event stream on a real service -> plyer -> notify-send -> a private D-Bus session (dunst),
recorded with dbus-monitor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from core.i18n import Translator, compile_catalogs, translator_for
from desktop.event_stream import EventStream
from tests.helpers import RunningService, start_service, wait_until
from tests.tray_helpers import Desktop, start_desktop
from tray.icon import asset_path
from tray.notifications import (
    Note,
    NotificationPolicy,
    NotificationSettings,
    Notifier,
    StallWatch,
    describe,
    in_quiet_hours,
    plyer_show,
)

NOON = datetime(2026, 1, 1, 12, 0)
EN = Translator("en")


def alert(title: str = "High memory usage", kind: str = "memory") -> dict:
    return {"type": "alert.raised", "id": 1, "ts": "", "data": {"kind": kind, "title": title, "message": "m"}}


def test_burst_shows_at_most_burst_max_per_window_and_merges_the_rest():
    policy = NotificationPolicy(NotificationSettings(burst_max=3, burst_window_s=60))
    shown = []
    for i in range(20):
        shown += policy.offer(Note(f"alert {i}", "", "alert.raised"), now=100.0 + i * 0.01, local=NOON)
    assert [n.title for n in shown] == ["alert 0", "alert 1"]
    assert policy.due(now=159.0) == []
    merged = policy.due(now=160.0)
    assert [n.title for n in merged] == ["alert 2 and 17 more"]
    assert len(shown + merged) <= 3
    # A new window starts afresh.
    assert [n.title for n in policy.offer(Note("later", "", "alert.raised"), 200.0, NOON)] == ["later"]


def test_a_single_held_note_is_shown_as_itself():
    policy = NotificationPolicy(NotificationSettings(burst_max=2, burst_window_s=10))
    assert len(policy.offer(Note("a", "", "x"), 0.0, NOON)) == 1
    assert policy.offer(Note("b", "", "x"), 1.0, NOON) == []
    assert [n.title for n in policy.due(10.0)] == ["b"]


def test_muted_types_and_quiet_hours_are_not_shown():
    settings = NotificationSettings(muted=("alert.resolved",), quiet_hours="22:00-07:00")
    policy = NotificationPolicy(settings)
    assert policy.offer(Note("r", "", "alert.resolved"), 0.0, NOON) == []
    assert policy.offer(Note("a", "", "alert.raised"), 0.0, datetime(2026, 1, 1, 23, 30)) == []
    assert policy.offer(Note("a", "", "alert.raised"), 0.0, datetime(2026, 1, 2, 6, 59)) == []
    assert len(policy.offer(Note("a", "", "alert.raised"), 0.0, datetime(2026, 1, 2, 7, 0))) == 1
    assert policy.suppressed == 3
    assert NotificationPolicy(NotificationSettings(enabled=False)).offer(Note("a", "", "x"), 0, NOON) == []


def test_quiet_hours_within_a_day_and_disabled():
    day = NotificationSettings(quiet_hours="12:00-13:30")
    assert in_quiet_hours(day, NOON)
    assert not in_quiet_hours(day, datetime(2026, 1, 1, 13, 30))
    assert not in_quiet_hours(NotificationSettings(quiet_hours=""), NOON)
    assert not in_quiet_hours(NotificationSettings(quiet_hours="25:00-01:00"), NOON)


def test_events_become_notes():
    assert describe(alert(), EN).title == "High memory usage"
    assert describe({"type": "capture.state", "data": {"paused": True}}, EN).title == "Capture paused"
    assert describe({"type": "ai.state", "data": {"state": "crashed", "degraded": True}}, EN) is not None
    assert describe({"type": "ai.state", "data": {"state": "ready", "degraded": False}}, EN) is None
    assert describe({"type": "message.captured", "data": {}}, EN) is None
    failed = describe({"type": "backup.failed", "data": {"kind": "backup", "error": "disk full"}}, EN)
    assert (failed.title, failed.message) == ("Backup failed", "disk full")
    assert describe({"type": "backup.failed", "data": {"kind": "restore", "error": "x"}}, EN).title == "Restore failed"
    assert describe({"type": "backup.completed", "data": {}}, EN) is None


def test_settings_read_declared_config_keys_else_defaults():
    class Config(dict):
        pass

    assert NotificationSettings.from_config(Config()) == NotificationSettings()
    config = Config({"notifications.burst_max": 5, "notifications.muted": ["alert.resolved"]})
    assert NotificationSettings.from_config(config) == NotificationSettings(burst_max=5, muted=("alert.resolved",))


def pairing_requested(code: str = "482913", name: str = "Test Chromium") -> dict:
    return {"type": "pairing.requested", "id": 7, "ts": "", "data": {
        "pairing_id": "p1", "name": name, "browser": "chromium", "code": code, "expires_at": "2026-12-07T03:00:00Z",
        "origin": "chrome-extension://" + "a" * 32}}


def stalled(extension_id: str = "e1") -> dict:
    return {"type": "capture.stalled", "data": {"extension_id": extension_id, "name": "Chromium on Linux",
                                                "reason": "no message rows", "selectors_version": "2026.12-1"}}


def test_pairing_and_stalled_capture_notes():
    note = describe(pairing_requested(), EN)
    assert note.title == "Pairing code 482 913 — Test Chromium wants to connect"
    assert "options page" in note.message and note.kind == "pairing.requested"
    stall = describe(stalled(), EN)
    assert stall.title == "Capture stalled: WhatsApp Web changed"
    assert "Chromium on Linux" in stall.message and "no message rows" in stall.message
    assert describe({"type": "capture.resumed", "data": {"extension_id": "e1"}}, EN) is None
    assert describe({"type": "pairing.completed", "data": {}}, EN) is None


def test_a_pairing_code_shows_even_when_muted_quiet_disabled_or_past_the_burst_cap():
    code = describe(pairing_requested(), EN)
    for settings in (NotificationSettings(muted=("pairing.requested",)), NotificationSettings(enabled=False),
                     NotificationSettings(quiet_hours="00:00-23:59")):
        assert NotificationPolicy(settings).offer(code, 0.0, NOON) == [code]
    policy = NotificationPolicy(NotificationSettings(burst_max=2, burst_window_s=60))
    assert len(policy.offer(Note("a", "", "alert.raised"), 0.0, NOON)) == 1
    assert policy.offer(Note("b", "", "alert.raised"), 1.0, NOON) == []  # held: the cap is reached
    assert policy.offer(code, 2.0, NOON) == [code]
    assert [n.title for n in policy.due(60.0)] == ["b"]  # and the code did not count against the window


def test_capture_stalled_notifies_once_per_stall():
    watch = StallWatch()
    resumed = {"type": "capture.resumed", "data": {"extension_id": "e1"}}
    assert [watch.admit(e) for e in (stalled(), stalled(), stalled("e2"), stalled())] == [True, False, True, False]
    assert watch.admit(resumed) and watch.stalled == {"e2"}
    assert watch.admit(stalled()) and not watch.admit(stalled())
    assert watch.admit({"type": "alert.raised", "data": {}})
    watch.keep_only({"e2"})  # the health says only e2 is stalled now: e1's next stall is news again
    assert watch.stalled == {"e2"} and watch.admit(stalled("e1"))

    shown: list = []
    notifier = Notifier(NotificationSettings(), "", EN, show=lambda *args: shown.append(args[0]))
    notifier.start()
    try:
        for event in (stalled(), stalled(), stalled(), resumed, stalled()):
            notifier.handle_event(event)
        wait_until(lambda: len(shown) == 2, message="two notifications")
        assert shown == ["Capture stalled: WhatsApp Web changed"] * 2
    finally:
        notifier.stop()
    assert len(shown) == 2


def test_the_tray_offers_connect_until_an_extension_is_paired():
    from tray.status import Status, StatusBoard, paired_from_list, stalled_from_health

    board = StatusBoard()
    assert board.status.needs_extension  # unknown: offered
    assert board.apply_health({"extensions": {"paired": 0, "stalled": 0}}).needs_extension
    assert not board.apply_health({"extensions": {"paired": 1}}).needs_extension
    assert not board.apply_health({"capture": {}}).needs_extension  # a health without the part keeps the count
    assert paired_from_list({"items": [{"state": "active"}, {"state": "revoked"}]}) == 1
    assert stalled_from_health({"extensions": {"paired": 1, "stalled": [{"id": 4, "name": "x"}]}}) == {"4"}
    assert stalled_from_health({"capture": {}}) is None
    degraded = Status(service_up=True, degraded_parts=("extensions",))
    assert degraded.tooltip(EN) == "CRM Agent: WhatsApp Web capture stalled"


# -- in the user's language ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def languages() -> dict[str, Translator]:
    compile_catalogs()  # what the test command and the bootstrap do; a fresh checkout has no .mo files
    return {code: translator_for(code) for code in ("pt_BR", "es", "en")}


def usage_alert(kind: str = "cpu", value: float = 93.4, threshold: float = 90.0) -> dict:
    """crm/monitor.py's alert.raised: English text for the log and the API, and the values it is about."""
    return {"type": "alert.raised", "data": {"kind": kind, "title": "High CPU usage", "value": value,
                                             "threshold": threshold,
                                             "message": "CPU at 93% for 30 s (threshold 90%)"}}


def test_alerts_are_written_again_in_the_users_language_from_their_values(languages):
    pt, es, en = languages["pt_BR"], languages["es"], languages["en"]
    note = describe(usage_alert(), pt)
    assert (note.title, note.message) == ("CPU muito alta", "CPU em 93% (limite 90%)")
    assert describe(usage_alert("memory", 88.0, 85.0), es).message == "Memoria en 88% (límite 85%)"
    assert describe(usage_alert(), en).message == "CPU at 93% (limit 90%)"
    lost = {"type": "alert.raised", "data": {"kind": "connection", "title": "Connection lost", "silent_s": 300,
                                             "message": "No messages from the WhatsApp Web extension for 5 min."}}
    assert describe(lost, pt).title == "Conexão perdida"
    assert describe(lost, pt).message.startswith("Nenhuma mensagem da extensão do WhatsApp Web há 5 min.")
    resolved = {"type": "alert.resolved", "data": {"kind": "disk", "title": "Disk back to normal", "value": 70.2}}
    assert (describe(resolved, es).title, describe(resolved, es).message) == ("Disco normal otra vez",
                                                                              "Disco en 70%")
    unknown = {"type": "alert.raised", "data": {"kind": "new_kind", "title": "Something new", "message": "m"}}
    assert describe(unknown, pt).title == "Something new"  # an alert this tray does not know: as the service wrote


def test_pairing_stall_and_merged_notes_in_portuguese(languages):
    pt = languages["pt_BR"]
    code = describe(pairing_requested(), pt)
    assert code.title == "Código de conexão 482 913 — Test Chromium quer se conectar"
    assert "(ele expira em 2 min)" in code.message
    stall = describe(stalled(), pt)
    assert stall.title == "Captura parada: o WhatsApp Web mudou"
    assert stall.message.startswith("Chromium on Linux não encontra mensagens na conversa aberta (no message rows).")
    policy = NotificationPolicy(NotificationSettings(burst_max=2, burst_window_s=60), pt)
    for i in range(4):
        policy.offer(Note("Captura pausada", "", "capture.state"), float(i), NOON)
    assert [n.title for n in policy.due(60.0)] == ["Captura pausada e mais 2"]


def test_tooltips_in_the_users_language(languages):
    from tray.status import Status

    pt, es = languages["pt_BR"], languages["es"]
    assert Status(service_up=True, url="http://127.0.0.1:8080").tooltip(pt) == "CRM Agent: funcionando (127.0.0.1:8080)"
    assert Status().tooltip(es) == "CRM Agent: servicio detenido (iniciando)"
    degraded = Status(service_up=True, active_alerts=("memory",), degraded_parts=("extensions",))
    assert degraded.tooltip(pt) == "CRM Agent: alerta: memória, captura do WhatsApp Web parada"


# -- the real path ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    d = start_desktop(tmp_path_factory.mktemp("desktop"))
    yield d
    d.close()


@pytest.fixture
def session_env(desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Desktop:
    """notify-send (plyer's Linux backend here) talks to the test session bus."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    monkeypatch.setenv("DISPLAY", desktop.display)
    return desktop


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RunningService]:
    running = start_service(tmp_path / "agent")
    yield running
    running.session.close()  # an idle keep-alive connection would hold the service's graceful stop for 5 s
    running.stop()


def _stream_to(notifier: Notifier, service: RunningService, received: list, url=None) -> EventStream:
    def on_event(event: dict) -> None:
        received.append(event)
        notifier.handle_event(event)

    stream = EventStream(url or (lambda: service.url), lambda: service.local_token, on_event, lambda up: None)
    stream.start()
    wait_until(lambda: stream.connects >= 1, message="the event stream to connect")
    return stream


def test_plyer_notification_reaches_the_notification_daemon(session_env: Desktop):
    before = len(session_env.notifications())
    plyer_show("Direct title", "Direct body", str(asset_path("icon.png")), 5)
    call = wait_until(lambda: session_env.notifications()[before:], message="a Notify call")[0]
    assert call == {"app": "CRM Agent", "icon": str(asset_path("icon.png")), "summary": "Direct title",
                    "body": "Direct body"}


def test_service_events_become_real_notifications_and_bursts_are_merged(session_env: Desktop, service):
    notifier = Notifier(NotificationSettings(burst_max=3, burst_window_s=1.5), str(asset_path("icon.png")), EN)
    notifier.start()
    received: list = []
    stream = _stream_to(notifier, service, received)
    before = len(session_env.notifications())
    try:
        for i in range(20):  # a burst of 20 real events: pause/resume capture
            r = service.post("/api/system/capture", json={"paused": i % 2 == 0}, token=service.local_token)
            assert r.status_code == 200
        wait_until(lambda: len([e for e in received if e["type"] == "capture.state"]) == 20, message="20 events")
        first = wait_until(lambda: session_env.notifications()[before:], message="the first notification")[0]
        assert first["summary"] == "Capture paused" and first["app"] == "CRM Agent"
        merged = wait_until(lambda: [n for n in session_env.notifications()[before:] if "more" in n["summary"]],
                            timeout=10, message="the merged notification")
        assert merged[0]["summary"] == "Capture paused and 17 more"
        assert len(session_env.notifications()[before:]) == 3
    finally:
        stream.stop()
        notifier.stop()


def test_a_service_event_reaches_the_desktop_in_portuguese(session_env: Desktop, service, languages):
    notifier = Notifier(NotificationSettings(), str(asset_path("icon.png")), languages["pt_BR"])
    notifier.start()
    received: list = []
    stream = _stream_to(notifier, service, received)
    before = len(session_env.notifications())
    try:
        assert service.post("/api/system/capture", json={"paused": True}, token=service.local_token).status_code == 200
        shown = wait_until(lambda: session_env.notifications()[before:], message="the notification")[0]
        assert shown["summary"] == "Captura pausada"
        assert shown["body"] == "As novas mensagens do WhatsApp não serão capturadas até você retomar."
    finally:
        stream.stop()
        notifier.stop()


def test_stream_resumes_with_since_after_losing_the_service(service):
    shown: list = []
    notifier = Notifier(NotificationSettings(), "", EN, show=lambda *args: shown.append(args))
    received: list = []
    available = [True]
    stream = _stream_to(notifier, service, received, url=lambda: service.url if available[0] else None)
    try:
        service.post("/api/system/capture", json={"paused": True}, token=service.local_token)
        wait_until(lambda: len(received) >= 1, message="the first event")
        available[0] = False  # the tray loses the service (the stream cannot reconnect meanwhile)
        stream._ws.abort()
        wait_until(lambda: stream._ws is None, message="the stream to notice")
        for paused in (False, True, False):  # events the tray misses while away
            service.post("/api/system/capture", json={"paused": paused}, token=service.local_token)
        assert len(received) == 1
        available[0] = True
        wait_until(lambda: len(received) == 4, message="the missed events after the reconnect")
        assert [e["data"]["paused"] for e in received] == [True, False, True, False]
        assert stream.connects == 2
        ids = [e["id"] for e in received]
        assert ids == sorted(ids) and len(set(ids)) == 4
    finally:
        stream.stop()
        notifier.stop()
