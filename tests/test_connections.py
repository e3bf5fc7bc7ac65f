"""Connections that cannot be exhausted (issue 13): idle, slowloris and slow-body connections, raw sockets.

Every caller is on loopback, so the service cannot tell clients apart by address: it bounds what any
connection may hold (header, body and keep-alive timeouts) and how many are open (a cap that closes the
connection waiting longest for its request to make room for a new one).
"""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
import requests
import websocket

from tests.helpers import RunningService, start_service

QUICK = 2.0  # the header, body and keep-alive timeouts of the `quick` service, in seconds
IDLE_CONNECTIONS = 1000
SLOWLORIS_CLIENTS = 200
LIVENESS_S = 5.0  # a generous bound: the 100 ms target is measured by bench/connections.py


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("quick"), config={"server": {
        "header_timeout_s": QUICK, "body_timeout_s": QUICK, "keepalive_timeout_s": QUICK}})
    yield running
    running.stop()


def _connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response (Content-Length bodies only): status, lower-cased headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _health_request(port: int) -> bytes:
    return f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    """True when the service closes the connection (EOF or reset) within the time given."""
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _health_within(port: int, seconds: float) -> float:
    """Seconds a fresh connection's GET /api/health took; fails the test beyond the bound."""
    started = time.monotonic()
    with _connect(port, timeout=seconds) as sock:
        sock.sendall(_health_request(port))
        status, _, _ = _read_response(sock)
    assert status == 200
    return time.monotonic() - started


@contextmanager
def _open_files(needed: int) -> Iterator[None]:
    """This test process's soft open-files limit raised to what it is about to hold (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, needed))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def _started_with_open_files_limit(limit: int) -> Iterator[None]:
    """A service started inside inherits this soft limit, the common desktop default of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Slowloris:
    """Clients that trickle their request headers one byte a second and never finish them."""

    HEADERS = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 10_000

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        position = 0
        while not self.stop.is_set():
            byte = self.HEADERS[position % len(self.HEADERS):][:1]
            for sock in self.socks:
                try:
                    sock.send(byte)
                except OSError:
                    pass  # closed by the service: a real attacker would reconnect; holding the rest is enough
            position += 1
            self.stop.wait(1.0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def _open_many(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        try:
            socks.append(_connect(port, timeout=2))
        except OSError:
            pass  # the service's listen queue is full: that connection holds nothing there
    return socks


def test_idle_and_slowloris_connections_do_not_stop_health(tmp_path):
    # Started with the usual desktop soft limit of 1024 open files: the service must raise its own.
    with _started_with_open_files_limit(1024):
        service = start_service(tmp_path / "agent", config={"server": {"header_timeout_s": 60}})
    held: list[socket.socket] = []
    slowloris = None
    try:
        process = psutil.Process(service.process.pid)
        assert process.rlimit(psutil.RLIMIT_NOFILE)[0] >= 1000 + SLOWLORIS_CLIENTS
        rss_before = process.memory_info().rss
        with _open_files(IDLE_CONNECTIONS + SLOWLORIS_CLIENTS + 256):
            held += _open_many(service.port, IDLE_CONNECTIONS)
            trickling = _open_many(service.port, SLOWLORIS_CLIENTS)
            held += trickling
            slowloris = Slowloris(trickling)
            time.sleep(2)  # the service has accepted them all and holds them
            rss_during = process.memory_info().rss
            for _ in range(5):
                _health_within(service.port, LIVENESS_S)
                time.sleep(0.3)
        # The header timeout (60 s here) has not passed: the cap made the room, by closing the connections
        # that had waited longest for their request, and the service's memory stayed bounded.
        assert rss_during - rss_before < 150 * 1024 * 1024, (rss_before, rss_during)
    finally:
        if slowloris is not None:
            slowloris.close()
        for sock in held:
            sock.close()
        service.stop()
    log = (service.data_dir / "logs" / "agent.log").read_text()
    assert "Traceback" not in log and "EMFILE" not in log and "Too many open files" not in log


def test_the_oldest_waiting_connection_makes_room_when_the_cap_is_reached(tmp_path):
    service = start_service(tmp_path / "agent", config={"server": {"max_connections": 20, "header_timeout_s": 60}})
    try:
        service.session.close()  # no keep-alive of ours among the 20
        idle = [_connect(service.port) for _ in range(20)]
        time.sleep(0.5)
        _health_within(service.port, LIVENESS_S)
        assert _closed_by_peer(idle[0], within=2)  # the oldest made room
        assert not _closed_by_peer(idle[-1], within=0.5)  # the newest is still held
        for sock in idle:
            sock.close()
    finally:
        service.stop()


def test_when_every_connection_is_busy_a_new_one_gets_a_json_503(tmp_path):
    # Upgraded WebSockets are never evicted: 16 of them fill a cap of 16 (8 per token is the per-token limit).
    service = start_service(tmp_path / "agent", config={"server": {"max_connections": 16}})
    url = f"ws://127.0.0.1:{service.port}/ws"
    sockets = []
    try:
        admin_token = service.token()
        service.session.close()
        for token in (service.local_token, admin_token):
            for _ in range(8):
                ws = websocket.create_connection(f"{url}?token={token}", timeout=5)
                sockets.append(ws)
        with _connect(service.port) as sock:
            sock.sendall(_health_request(service.port))
            status, headers, body = _read_response(sock)
            assert status == 503 and headers["content-type"] == "application/json"
            assert json.loads(body)["error"]["code"] == "server_busy"
            assert _closed_by_peer(sock, within=2)
        sockets.pop().close()
        deadline = time.monotonic() + LIVENESS_S
        while True:  # the service notices the close asynchronously
            try:
                _health_within(service.port, LIVENESS_S)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        for ws in sockets:
            ws.close()
        service.stop()


def test_a_body_shorter_than_its_content_length_gets_a_json_408(quick):
    log_file = quick.data_dir / "logs" / "agent.log"
    log_before = log_file.read_text()
    with _connect(quick.port, timeout=QUICK + 5) as sock:
        body = b'{"username": "admin", "pass'
        sock.sendall(f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body) + 100}\r\n\r\n".encode() + body)
        started = time.monotonic()
        status, headers, answer = _read_response(sock)
        assert time.monotonic() - started < QUICK + 3
        assert status == 408 and headers["content-type"] == "application/json"
        assert headers["connection"] == "close"
        assert json.loads(answer)["error"]["code"] == "request_timeout"
        assert _closed_by_peer(sock, within=2)
    time.sleep(0.2)  # the log handler writes after the response
    new_lines = log_file.read_text()[len(log_before):]
    assert "Traceback" not in new_lines and " 500 " not in new_lines
    warnings = [line for line in new_lines.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "body" in warnings[0], new_lines


def test_a_slow_but_steady_body_is_not_cut_off(quick):
    """The body timeout grows with what arrives (500 bytes a second buys a second): 3 s at 1 KB/s is fine."""
    body = json.dumps({"username": "admin", "password": "x" * 3000}).encode()
    with _connect(quick.port, timeout=QUICK + 10) as sock:
        sock.sendall(f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for start in range(0, len(body), 100):
            sock.sendall(body[start:start + 100])
            time.sleep(0.1)
        status, _, answer = _read_response(sock)
    assert status in (401, 422), answer  # the body was read and judged


def test_a_body_cut_short_by_the_client_is_a_400_not_a_500(quick):
    log_file = quick.data_dir / "logs" / "agent.log"
    log_before = log_file.read_text()
    with _connect(quick.port) as sock:
        sock.sendall(f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user".encode())
        sock.shutdown(socket.SHUT_WR)  # the client gives up half-way through its body
        status, _, answer = _read_response(sock)
    assert status == 400 and json.loads(answer)["error"]["code"] == "incomplete_body"
    time.sleep(0.2)
    new_lines = log_file.read_text()[len(log_before):]
    assert "Traceback" not in new_lines and " 500 " not in new_lines


def test_a_refused_body_sent_in_full_leaves_the_connection_usable(quick):
    """A body the application did not read (411 chunked, 413 too big) is read past, and the next request on
    the same connection is answered; only a body that never arrives closes the connection."""
    with _connect(quick.port) as sock:
        sock.sendall(f"POST /api/messages/capture HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\n{}\r\n0\r\n\r\n".encode())
        status, headers, _ = _read_response(sock)
        assert status == 411 and headers.get("connection") != "close"
        big = b"x" * 300_000
        sock.sendall(f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n".encode() + big)
        assert _read_response(sock)[0] == 413
        sock.sendall(_health_request(quick.port))
        assert _read_response(sock)[0] == 200


def test_an_idle_connection_is_closed_after_the_header_timeout(quick):
    with _connect(quick.port) as sock:
        started = time.monotonic()
        assert _closed_by_peer(sock, within=QUICK + 3)
        assert time.monotonic() - started >= QUICK - 0.5


def test_headers_trickled_slowly_are_cut_off_at_the_header_timeout(quick):
    """The header timeout is for the whole request line and headers, not between two bytes."""
    with _connect(quick.port) as sock:
        started = time.monotonic()
        closed = False
        for byte in Slowloris.HEADERS[:40]:
            try:
                sock.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if _closed_by_peer(sock, within=0.25):
                closed = True
                break
        assert closed, "still open after 10 s of trickled headers"
        assert time.monotonic() - started < QUICK + 3


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(quick):
    with _connect(quick.port) as sock:
        sock.sendall(_health_request(quick.port))
        assert _read_response(sock)[0] == 200
        started = time.monotonic()
        assert _closed_by_peer(sock, within=QUICK + 3)
        assert time.monotonic() - started >= QUICK - 0.5


def test_a_keep_alive_client_that_keeps_asking_is_not_cut_off(quick):
    """Timeouts are per wait, never a lifetime: 3 x the timeouts of requests on one connection."""
    with _connect(quick.port) as sock:
        started = time.monotonic()
        while time.monotonic() - started < 3 * QUICK:
            sock.sendall(_health_request(quick.port))
            assert _read_response(sock)[0] == 200
            time.sleep(QUICK / 4)


def test_a_websocket_is_not_closed_by_the_http_timeouts(quick):
    ws = websocket.create_connection(f"ws://127.0.0.1:{quick.port}/ws?token={quick.local_token}", timeout=5)
    try:
        time.sleep(QUICK * 2)
        ws.send(json.dumps({"type": "ping"}))
        for _ in range(20):
            message = json.loads(ws.recv())
            if message["type"] == "pong":
                break
        assert message["type"] == "pong"
    finally:
        ws.close()


def test_requests_keep_working_with_the_quick_timeouts(quick):
    r = requests.get(quick.url + "/api/health", timeout=5)
    assert r.status_code == 200
    r = quick.post("/api/auth/login", json={"username": "admin", "password": "wrong"}, token=False)
    assert r.status_code == 401


def test_headers_longer_than_64_kib_get_a_json_431(quick):
    padding = "a" * 1000
    headers = "".join(f"X-Padding-{i}: {padding}\r\n" for i in range(70))  # 70 lines of 1 KB: under http.client's 100
    with _connect(quick.port) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n{headers}\r\n".encode())
        status, _, body = _read_response(sock)
        assert status == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
        assert _closed_by_peer(sock, within=2)
    _health_within(quick.port, LIVENESS_S)


def test_more_than_100_header_lines_get_a_431_not_a_traceback(quick):
    log_file = quick.data_dir / "logs" / "agent.log"
    log_before = log_file.read_text()
    headers = "".join(f"X-{i}: 1\r\n" for i in range(120))
    with _connect(quick.port) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{quick.port}\r\n{headers}\r\n".encode())
        assert _read_response(sock)[0] == 431
    assert "Traceback" not in log_file.read_text()[len(log_before):]


def _self_signed_certificate(directory) -> tuple[str, str]:
    """(certificate, key) PEM files for 127.0.0.1; the certificate is its own CA."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_tls_handshakes_and_connections_are_bounded_too(tmp_path):
    cert, key = _self_signed_certificate(tmp_path)
    service = start_service(tmp_path / "agent", verify=cert, config={"server": {
        "tls_cert_file": cert, "tls_key_file": key, "header_timeout_s": QUICK, "max_connections": 20}})
    try:
        assert service.url.startswith("https://")
        service.session.close()
        # A client that connects and never starts its handshake is closed at the header timeout.
        silent = _connect(service.port)
        assert _closed_by_peer(silent, within=QUICK + 3)
        silent.close()
        # 20 silent connections fill the cap; an HTTPS request still gets its answer.
        held = [_connect(service.port) for _ in range(20)]
        time.sleep(0.3)
        assert requests.get(service.url + "/api/health", verify=cert, timeout=LIVENESS_S).status_code == 200
        assert _closed_by_peer(held[0], within=2)
        for sock in held:
            sock.close()
    finally:
        service.stop()
