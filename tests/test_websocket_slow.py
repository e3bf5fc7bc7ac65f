"""Issue 13, slow WebSocket consumers: a client that stops reading cannot grow the service's memory. Its outbox
is capped in events and bytes; past the cap it is dropped with 1008 and resumes with ?since=; a client that
never reads again loses its socket; one that floods messages while not reading is dropped the same way."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from api.websocket import CLOSE_TOO_SLOW, SLOW_CLIENT_GRACE_S
from tests.helpers import RunningService, message, start_service, wait_until
from tests.ws_frames import CLOSE, PING, TEXT, RawWebSocket, close_payload, frame

OUTBOX_BYTES = 256 * 1024
# Captures per request: 100 events (~70 KB) published at once. Each burst must fit the outbox of a client that
# reads (the default 2 MiB holds a full 500-capture batch).
BATCH = 50
SMALL_RCVBUF = 4096
CAPTURES = 3000  # 6,000 events, about 4 MB of JSON: far past the outbox and every socket buffer on the way
EVENT_BUFFER = 1000


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("slow"), config={"websocket": {
        "outbox_max_bytes": OUTBOX_BYTES, "event_buffer": EVENT_BUFFER, "max_clients": 3}})
    yield running
    running.stop()


class Reader:
    """A well-behaved session read on a thread: it must keep receiving while another one is dropped."""

    def __init__(self, svc: RunningService) -> None:
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.token()}", timeout=60)
        self.events: list[dict] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except (websocket.WebSocketException, OSError, ValueError):  # ValueError: "" at a close
            pass

    def captured(self) -> set[int]:
        return {e["data"]["id"] for e in self.events if e["type"] == "message.captured"}

    def close(self) -> None:
        self.ws.close()
        self.thread.join(10)


def rss_kib(svc: RunningService) -> int:
    for line in Path(f"/proc/{svc.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def capture_many(svc: RunningService, count: int, paced_by: Reader | None = None) -> list[int]:
    """paced_by: wait for that reader to receive each batch's events before sending the next. A well-behaved
    client keeps up by definition; without the pacing a reader thread starved of CPU (a loaded CI machine, the
    GIL shared with this loop) fell a few bursts behind and was itself dropped for being slow."""
    ids: list[int] = []
    for start in range(0, count, BATCH):
        body = {"messages": [message(content=f"pedido {i}") for i in range(start, min(count, start + BATCH))]}
        r = svc.post("/api/messages/capture/batch", json=body)
        assert r.status_code == 200, r.text
        batch = [item["id"] for item in r.json()["results"]]
        ids += batch
        if paced_by is not None:
            wait_until(lambda: paced_by.captured() >= set(batch), timeout=30, message="the reader to keep up")
    return ids


def was_dropped(svc: RunningService) -> bool:
    return drops(svc) > 0


def drops(svc: RunningService) -> int:
    return (svc.data_dir / "logs" / "agent.log").read_text(encoding="utf-8").count("websocket client dropped")


def no_traceback(svc: RunningService) -> None:
    log = svc.log_text()
    assert "Traceback" not in log, log[-3000:]


def test_slow_consumer_is_dropped_and_resumes_with_since(svc):
    reader = Reader(svc)
    stuck = RawWebSocket(svc.port, f"token={svc.local_token}", rcvbuf=SMALL_RCVBUF)
    try:
        before = rss_kib(svc)
        ids: list[int] = []
        while not was_dropped(svc) and len(ids) < CAPTURES:
            ids += capture_many(svc, BATCH, paced_by=reader)
        # It reads again at once (a client that stays silent past SLOW_CLIENT_GRACE_S loses its socket without
        # the close frame: the next test): its backlog, then the close.
        close, received = stuck.receive_until_close(timeout=30)
        assert close is not None and close.close_code == CLOSE_TOO_SLOW, close
        ids += capture_many(svc, CAPTURES - len(ids), paced_by=reader)
        grown = rss_kib(svc) - before
        wait_until(lambda: reader.captured() >= set(ids), timeout=60, message="the other session's events")
        assert "since" in close.close_reason
        assert stuck.ended()
        events = [json.loads(r.payload) for r in received if r.opcode == TEXT]
        # Far fewer than published: what the outbox (256 KiB) and the socket buffers held, not 6,000 events.
        assert 0 < len(events) < CAPTURES
        last_seen = events[-1]["id"]
        # Memory: about the outbox and the event buffer, not the 4 MB the client did not read (generous bound).
        assert grown < 40 * 1024, f"service RSS grew {grown} KiB"

        resumed = RawWebSocket(svc.port, f"token={svc.local_token}&since={last_seen}")
        try:
            replay = []
            while not replay or replay[-1]["data"].get("message_id") != ids[-1]:
                replay.append(json.loads(resumed.receive().payload))
        finally:
            resumed.close()
        # What it missed, as far back as the buffer reaches: reported as lost, then every buffered event in order.
        assert replay[0]["type"] == "events.lost" and replay[0]["data"]["since"] == last_seen
        buffered = [e["id"] for e in replay[1:]]
        assert buffered == list(range(buffered[0], buffered[0] + len(buffered)))
        assert len(buffered) == EVENT_BUFFER
        assert health_ok(svc)
        no_traceback(svc)
    finally:
        stuck.close()
        reader.close()


def health_ok(svc: RunningService) -> bool:
    return svc.get("/api/health").status_code == 200


def test_client_that_never_reads_again_loses_its_socket(svc):
    # max_clients is 3: the reader, the stuck client, and one more. Two stuck clients fill it; once they are
    # dropped and shut (after SLOW_CLIENT_GRACE_S), new clients get in again without anyone reading them.
    reader = Reader(svc)
    stuck = [RawWebSocket(svc.port, f"token={svc.local_token}", rcvbuf=SMALL_RCVBUF) for _ in range(2)]
    try:
        # Until both stuck clients are dropped (a history batch publishes the captures, and the analysis of only
        # each chat's newest message: about one event per capture), with a bound.
        sent = 0
        while drops(svc) < 2 and sent < CAPTURES:
            capture_many(svc, BATCH)
            sent += BATCH
        assert drops(svc) >= 2, f"{drops(svc)} clients dropped after {sent} captures"

        def can_connect() -> bool:
            try:
                RawWebSocket(svc.port, f"token={svc.local_token}", timeout=2).close()
                return True
            except (ConnectionError, OSError):
                return False

        wait_until(can_connect, timeout=SLOW_CLIENT_GRACE_S + 20, interval=0.5, message="a free WebSocket slot")
        for client in stuck:
            assert client.ended(timeout=20)
        assert health_ok(svc)
    finally:
        for client in stuck:
            client.close()
        reader.close()


@pytest.mark.parametrize("kind", ["text", "ping"])
def test_client_flooding_while_not_reading_cannot_grow_memory(svc, kind):
    # Each message is answered (a pong), and the answers wait behind the ones the client does not read: before
    # the cap, every message waited in memory.
    if kind == "text":
        data = frame(TEXT, json.dumps({"type": "ping", "pad": "x" * 60_000}).encode()) * 8
    else:
        data = frame(PING, b"p" * 125) * 4000
    reader = Reader(svc)
    flood = RawWebSocket(svc.port, f"token={svc.local_token}", rcvbuf=SMALL_RCVBUF, timeout=5)
    try:
        before = rss_kib(svc)
        sent = 0
        try:
            while sent < 150 * 1024 * 1024:
                flood.send(data)
                sent += len(data)
        except OSError:
            pass  # the service stopped reading (timeout) or shut the socket: dropped
        grown = rss_kib(svc) - before
        assert grown < 40 * 1024, f"service RSS grew {grown} KiB after {sent >> 20} MiB sent"
        assert sent < 150 * 1024 * 1024, "the service kept reading a client that reads nothing"
        assert flood.ended(timeout=SLOW_CLIENT_GRACE_S + 20)
        created = svc.post("/api/messages/capture", json=message()).json()
        wait_until(lambda: created["id"] in reader.captured(), timeout=20, message="the other session's event")
        no_traceback(svc)
    finally:
        flood.close()
        reader.close()


def test_close_from_a_client_with_events_queued_is_answered(tmp_path):
    # Events still queued when the client's close arrives are dropped, not written after it (wsproto refuses to,
    # which used to end the session with a traceback and no close frame). A large outbox keeps this client from
    # being dropped: 8,000 events (~5.6 MB) wait in it and in the socket buffers when its close arrives.
    svc = start_service(tmp_path / "agent", config={"websocket": {
        "outbox_max_bytes": 64 * 1024 * 1024, "outbox_max_events": 100_000}})
    stuck = RawWebSocket(svc.port, f"token={svc.local_token}", rcvbuf=SMALL_RCVBUF)
    try:
        capture_many(svc, 4000)
        stuck.send(frame(CLOSE, close_payload(1000)))
        close, _ = stuck.receive_until_close(timeout=30)
        assert close is not None and close.close_code == 1000
        assert stuck.ended()
        no_traceback(svc)
    finally:
        stuck.close()
        svc.stop()
