"""Live events over the WebSocket: delivery, ids, resume after reconnect, limits."""

from __future__ import annotations

import json

import pytest
import websocket

from tests.helpers import message


def _connect(svc, since=None, **kwargs):
    url = f"ws://127.0.0.1:{svc.port}/ws?token={svc.token()}"
    if since is not None:
        url += f"&since={since}"
    return websocket.create_connection(url, timeout=10, **kwargs)


def _receive(ws, count):
    return [json.loads(ws.recv()) for _ in range(count)]


def test_capture_pushes_message_and_analysis_events(service):
    ws = _connect(service)
    try:
        body = message(content="Bom dia! Quero comprar 2 camisetas")
        created = service.post("/api/messages/capture", json=body).json()
        captured, analysed = _receive(ws, 2)
    finally:
        ws.close()
    assert captured["type"] == "message.captured"
    assert captured["data"]["id"] == created["id"]
    assert captured["data"]["customer_phone"] == "+5511999990000"
    assert analysed["type"] == "analysis.completed"
    assert analysed["data"]["message_id"] == created["id"]
    assert analysed["data"]["analysis"] == created["analysis"]
    assert analysed["id"] > captured["id"]
    assert captured["ts"].endswith("Z")


def test_reconnect_with_since_receives_missed_events_in_order(service):
    ws = _connect(service)
    service.post("/api/messages/capture", json=message())
    last_seen = _receive(ws, 2)[-1]["id"]
    ws.close()
    missed = [service.post("/api/messages/capture", json=message(content=f"msg {i}")).json()["id"] for i in range(3)]
    ws = _connect(service, since=last_seen)
    try:
        events = _receive(ws, 6)
    finally:
        ws.close()
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and ids[0] > last_seen
    assert [e["data"]["id"] for e in events if e["type"] == "message.captured"] == missed


def test_since_older_than_the_buffer_reports_lost_events(tmp_path):
    from tests.helpers import start_service

    svc = start_service(tmp_path / "small", config={"websocket": {"event_buffer": 10}})
    try:
        ws = _connect(svc)
        svc.post("/api/messages/capture", json=message())
        first = _receive(ws, 1)[0]["id"]
        ws.close()
        for _ in range(10):  # 20 events overflow a buffer of 10
            svc.post("/api/messages/capture", json=message())
        ws = _connect(svc, since=first)
        lost = json.loads(ws.recv())
        assert lost["type"] == "events.lost"
        assert lost["data"]["since"] == first and lost["data"]["oldest_available"] > first + 1
        replay = _receive(ws, 10)
        assert len(replay) == 10
        ws.close()
    finally:
        svc.stop()


def test_oversized_client_message_closes_with_1009(tmp_path):
    from tests.helpers import start_service

    svc = start_service(tmp_path / "cap", config={"websocket": {"max_message_bytes": 1024}})
    try:
        ws = _connect(svc)
        ws.send("x" * 100)  # small messages are fine
        ws.send("x" * 5000)
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(data[:2], "big") == 1009
        ws.close()
        assert svc.get("/api/health").status_code == 200
    finally:
        svc.stop()


def test_ping_is_answered(service):
    ws = _connect(service)
    try:
        ws.ping(b"hello")
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_PONG and data == b"hello"
    finally:
        ws.close()


def test_plain_get_on_ws_explains_upgrade(service):
    r = service.get("/ws", token=None, params={"token": service.token()})
    assert r.status_code == 426 and r.json()["error"]["code"] == "upgrade_required"
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.token()}&since=abc", timeout=5)
    assert caught.value.status_code == 422


def test_since_zero_replays_everything_still_buffered(fresh_service):
    # 0 is a real id, not "no since": a client that has seen nothing asks for the whole buffer with it.
    created = fresh_service.post("/api/messages/capture", json=message()).json()
    ws = _connect(fresh_service, since=0)
    try:
        ws.settimeout(2)
        events = []
        while len([e for e in events if e["type"] != "events.lost"]) < 2:
            events.append(json.loads(ws.recv()))
    finally:
        ws.close()
    assert [e["data"]["id"] for e in events if e["type"] == "message.captured"] == [created["id"]]
