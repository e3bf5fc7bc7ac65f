"""desktop/loopback.py: the desktop processes' plain HTTP and WebSocket client, against the real service and, for
the wire details the service does not produce on demand (chunked bodies, fragmented frames), a real socket."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from desktop.event_stream import EventStream
from desktop.loopback import ProtocolError, WebSocket, http_request
from desktop.service_client import ServiceClient, ServiceUnavailable, http_get_json
from tests.helpers import start_service, wait_until


@pytest.fixture(scope="module")
def pinging_service(tmp_path_factory):
    """A real service that pings its WebSocket clients every second."""
    running = start_service(tmp_path_factory.mktemp("agent"), config={"websocket": {"ping_interval_s": 1}})
    yield running
    running.session.close()
    running.stop()


def test_the_client_reads_answers_of_every_status_with_the_local_token(pinging_service, tmp_path):
    service = pinging_service
    client = ServiceClient(lambda: service.url, service.data_dir / "local_token")
    assert client.health()["status"] == "ok"
    reply = client.request("GET", "/api/metrics/dashboard")
    assert reply.status == 200 and "messages_per_hour" in reply.body
    assert client.request("GET", "/api/no-such-route").status == 404
    bad = ServiceClient(lambda: service.url, tmp_path / "missing-token")
    assert bad.request("GET", "/api/metrics/dashboard").status == 401
    assert http_get_json(service.url + "/api/no-such-route") is None


def test_a_request_with_a_body_reaches_the_service(pinging_service):
    service = pinging_service
    client = ServiceClient(lambda: service.url, service.data_dir / "local_token")
    reply = client.request("POST", "/api/system/capture", {"paused": True})
    assert reply.status == 200
    assert client.request("POST", "/api/system/capture", {"paused": False}).status == 200


def test_a_service_that_is_not_there_is_unavailable_and_https_is_refused(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = ServiceClient(lambda: f"http://127.0.0.1:{port}", tmp_path / "token", timeout=2)
    with pytest.raises(ServiceUnavailable):
        client.request("GET", "/api/health")
    assert http_get_json(f"http://127.0.0.1:{port}/api/health") is None
    with pytest.raises(ValueError, match="http://"):
        http_request(f"https://127.0.0.1:{port}/api/health")


def test_the_websocket_answers_pings_and_stays_up_past_several_of_them(pinging_service):
    """With a 1 s ping interval and a 2.5 s silence timeout, the stream only stays up if it reads the service's
    pings; and a JSON ping of ours gets the service's pong (masked client frames are accepted)."""
    service = pinging_service
    ws = WebSocket.connect(service.url.replace("http://", "ws://") + f"/ws?token={service.local_token}")
    try:
        ws.settimeout(2.5)
        ws.send(json.dumps({"type": "ping"}))
        deadline = time.monotonic() + 3.5
        answers = []
        while time.monotonic() < deadline:
            answers.append(json.loads(ws.recv()))
            if answers[-1].get("type") == "pong":
                break
        assert answers[-1].get("type") == "pong"
        started = time.monotonic()
        client = ServiceClient(lambda: service.url, service.data_dir / "local_token")
        threading.Timer(3.2, lambda: client.request("POST", "/api/system/capture", {"paused": True})).start()
        while True:
            event = json.loads(ws.recv())  # raises TimeoutError if the service stopped sending anything
            if event.get("type") == "capture.state":
                break
        assert time.monotonic() - started >= 3.0
    finally:
        ws.close()
        ServiceClient(lambda: service.url, service.data_dir / "local_token").request(
            "POST", "/api/system/capture", {"paused": False})


def test_the_event_stream_resumes_after_a_service_restart(tmp_path):
    service = start_service(tmp_path / "agent")
    received: list[dict] = []
    states: list[bool] = []
    url = [service.url]
    stream = EventStream(lambda: url[0], lambda: service.local_token, received.append, states.append)
    stream.start()
    try:
        wait_until(lambda: stream.connects >= 1, message="the first connection")
        client = ServiceClient(lambda: url[0], service.data_dir / "local_token")
        assert client.request("POST", "/api/system/capture", {"paused": True}).status == 200
        wait_until(lambda: any(e.get("type") == "capture.state" for e in received), message="the first event")
        service.stop()
        wait_until(lambda: states and states[-1] is False, message="the lost connection")
        service = start_service(tmp_path / "agent")
        url[0] = service.url
        wait_until(lambda: stream.connects >= 2, timeout=20, message="the reconnection")
        assert states[-1] is True
    finally:
        stream.stop()
        service.stop()
    assert not stream._thread.is_alive()


def _serve_once(answer: bytes) -> tuple[int, threading.Thread]:
    """A one-connection server on a real socket that reads a request head and writes `answer`."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_chunked_answer_is_joined():
    port, thread = _serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/csv\r\n\r\n"
                               b"4\r\nname\r\n6;ext=1\r\n,phone\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert http_request(f"http://127.0.0.1:{port}/export", timeout=5) == (200, b"name,phone")
    thread.join(5)


def test_an_answer_without_length_ends_with_the_connection_and_garbage_is_an_error():
    port, thread = _serve_once(b"HTTP/1.0 500 Oops\r\n\r\nall of it")
    assert http_request(f"http://127.0.0.1:{port}/", timeout=5) == (500, b"all of it")
    thread.join(5)
    port, thread = _serve_once(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ProtocolError):
        http_request(f"http://127.0.0.1:{port}/", timeout=5)
    thread.join(5)


def accepted_websocket() -> tuple[WebSocket, socket.socket]:
    """A client WebSocket through a real handshake, and the raw server end, which then writes frames by hand."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve_handshake() -> None:
        conn, _ = listener.accept()
        server = WSConnection(ConnectionType.SERVER)
        while True:
            server.receive_data(conn.recv(65536))
            if any(isinstance(event, Request) for event in server.events()):
                conn.sendall(server.send(AcceptConnection()))
                accepted.append(conn)
                return

    thread = threading.Thread(target=serve_handshake, daemon=True)
    thread.start()
    ws = WebSocket.connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/ws")
    thread.join(5)
    listener.close()
    return ws, accepted[0]


def test_fragmented_and_long_frames_are_joined_and_a_close_ends_the_stream():
    ws, theirs = accepted_websocket()
    long_text = "é" * 40_000  # 80,000 bytes: the 8-byte length form
    frames = (struct.pack("!BB", 0x01, 3) + b"abc" + struct.pack("!BB", 0x89, 2) + b"hi"  # text, unfinished; ping
              + struct.pack("!BB", 0x80, 3) + b"def"  # the continuation that finishes it
              + struct.pack("!BBQ", 0x81, 127, 80_000) + long_text.encode()
              + struct.pack("!BBH", 0x82, 126, 300) + bytes(300)
              + struct.pack("!BBH", 0x88, 2, 1000))
    theirs.sendall(frames)
    try:
        assert ws.recv() == "abcdef"
        assert ws.recv() == long_text
        assert ws.recv() == bytes(300)
        assert ws.recv() == ""
        pong = theirs.recv(2 + 4 + 2)
        assert pong[0] == 0x8A and pong[1] == 0x80 | 2  # a masked pong with the ping's payload
        assert bytes(b ^ pong[2 + i % 4] for i, b in enumerate(pong[6:])) == b"hi"
    finally:
        ws.close()
        theirs.close()
