"""The system monitor with an injected clock and sampler (no real load, no sleeping), and live alerts."""

from __future__ import annotations

import json

import websocket

from core.clock import FakeClock
from crm.monitor import MonitorSettings, SystemMonitor
from tests.helpers import message, start_service


class Harness:
    def __init__(self, **settings):
        self.clock = FakeClock()
        self.values = {"cpu": 10.0, "memory": 40.0, "disk": 50.0}
        self.events: list[tuple[str, dict]] = []
        self.monitor = SystemMonitor(MonitorSettings(**{"sustain_s": 30, "cooldown_s": 300, **settings}),
                                     lambda: dict(self.values), self.clock, lambda t, d: self.events.append((t, d)))

    def run(self, seconds: float, step: float = 5.0, **values: float) -> None:
        self.values.update(values)
        elapsed = 0.0
        while elapsed < seconds:
            self.clock.advance(step)
            elapsed += step
            self.monitor.tick()

    def kinds(self, event_type: str) -> list[str]:
        return [d["kind"] for t, d in self.events if t == event_type]


def test_alert_needs_the_value_to_stay_high():
    h = Harness()
    h.run(30, cpu=95)
    assert h.events == []  # first seen high at the first sample: 25 s above so far, not yet
    h.run(5, cpu=95)
    assert h.kinds("alert.raised") == ["cpu"]
    raised = h.events[0][1]
    assert raised["title"] == "High CPU usage" and raised["value"] == 95 and raised["threshold"] == 80


def test_a_short_spike_never_alerts():
    h = Harness()
    for _ in range(10):
        h.run(20, cpu=99)
        h.run(5, cpu=10)
    assert h.events == []


def test_cooldown_limits_repeats_and_recovery_follows():
    h = Harness()
    h.run(600, memory=97)  # ten minutes above 90%
    assert h.kinds("alert.raised") == ["memory", "memory"]  # at 30 s and after the 300 s cooldown
    assert h.monitor.active_alerts() == ["memory"]
    h.run(10, memory=88)  # below the threshold but inside the hysteresis margin: still active
    assert h.kinds("alert.resolved") == []
    h.run(5, memory=80)
    assert h.kinds("alert.resolved") == ["memory"] and h.monitor.active_alerts() == []


def test_flapping_at_the_threshold_gives_one_alert():
    h = Harness(sustain_s=0, cooldown_s=3600)
    for _ in range(50):
        h.run(5, disk=86)
        h.run(5, disk=84)  # within 5 points of 85: not recovered
    assert h.kinds("alert.raised") == ["disk"] and h.kinds("alert.resolved") == []


def test_connection_lost_after_silence_and_back_on_capture():
    h = Harness(connection_timeout_s=600)
    h.run(3600)
    assert h.events == []  # nothing was ever connected
    h.monitor.capture_seen({"direction": "in", "sentiment": "neutral"})
    h.run(595)
    assert h.events == []
    h.run(10)
    assert h.kinds("alert.raised") == ["connection"]
    h.monitor.capture_seen(None)
    assert h.kinds("alert.resolved") == ["connection"] and h.monitor.active_alerts() == []


def test_negative_message_alert_is_opt_in():
    record = {"direction": "in", "sentiment": "negative", "customer_name": "Ana", "content": "Péssimo!", "id": 7}
    off = Harness()
    off.monitor.capture_seen(record)
    assert off.events == []
    on = Harness(alert_on_negative=True)
    on.monitor.capture_seen(record)
    on.monitor.capture_seen({**record, "direction": "out"})
    assert on.kinds("alert.raised") == ["negative_message"]
    assert "Ana" in on.events[0][1]["message"] and on.events[0][1]["message_id"] == 7


def test_live_service_pushes_alerts_over_the_websocket(tmp_path):
    config = {"monitor": {"sample_interval_s": 0.2, "cpu_percent": 0, "memory_percent": 0, "sustain_s": 0,
                          "alert_on_negative": True}}
    svc = start_service(tmp_path / "agent", config=config)
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.local_token}", timeout=10)
        kinds = set()
        while not {"memory", "negative_message"} <= kinds:
            if "memory" in kinds and "negative_message" not in kinds:
                svc.post("/api/messages/capture", json=message(content="Horrível, péssimo atendimento!"))
            event = json.loads(ws.recv())
            if event["type"] == "alert.raised":
                kinds.add(event["data"]["kind"])
        ws.close()
        health = svc.get("/api/health", token=None).json()
        assert health["status"] == "degraded" and "memory" in health["alerts"]["active"]
        logs = svc.get("/api/system/logs", params={"level": "warning"}).json()["items"]
        assert any("alert memory" in entry["message"] for entry in logs)
    finally:
        svc.stop()
