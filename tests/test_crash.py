"""A crash loses no acknowledged data: SIGKILL the service under capture load, restart, find every 201."""

from __future__ import annotations

import signal
import threading

import requests

from tests.helpers import message, start_service, wait_until


def test_sigkill_during_capture_load_keeps_every_acknowledged_message(tmp_path):
    data_dir = tmp_path / "agent"
    svc = start_service(data_dir)
    token = svc.local_token
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            i += 1
            body = message(message_id=f"crash-{worker}-{i}", chat_id=f"55119{worker:08d}@c.us",
                           phone=f"+55119{worker:08d}", content=f"mensagem {i} do cliente {worker}")
            try:
                r = session.post(svc.url + "/api/messages/capture", json=body, timeout=5,
                                 headers={"Authorization": f"Bearer {token}"})
            except requests.RequestException:
                return  # the service is gone
            if r.status_code == 201:
                with lock:
                    acknowledged.append(body["message_id"])

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acknowledged) >= 300, timeout=60, message="300 acknowledged captures")
    svc.process.send_signal(signal.SIGKILL)
    svc.process.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    count_at_kill = len(acknowledged)
    assert count_at_kill >= 300

    restarted = start_service(data_dir)
    try:
        token = restarted.local_token
        missing = []
        for message_id in acknowledged:
            # Replaying an acknowledged message must find it stored (200 duplicate), never create it (201).
            r = restarted.post("/api/messages/capture", token=token,
                               json=message(message_id=message_id, content="replay"))
            if r.status_code != 200 or not r.json()["duplicate"]:
                missing.append(message_id)
        assert missing == [], f"{len(missing)} of {count_at_kill} acknowledged messages lost"
        health = restarted.get("/api/health", token=None).json()
        assert health["database"]["state"] == "ok"
    finally:
        restarted.stop()
