"""A loopback HTTP proxy that misbehaves on purpose, with seeded randomness (reproducible runs).

For each request it rolls once: drop the request (close the connection, forward nothing), forward it but
drop the response (the upstream committed; the client sees a closed connection), forward it twice (the
client gets the second answer), or forward it normally; with delay_max_s, every forwarded request first waits a
random time up to that long (a slow link). `blocked` answers 503 to everything (hub down);
`on_forwarded(path, headers, status)` runs after the upstream answered and before the client hears back,
so a test can kill the client mid-batch.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host",
              "content-length", "content-encoding", "te", "trailer"}


class ChaosProxy:
    def __init__(self, upstream: str, seed: int, drop_request: float = 0.0, drop_response: float = 0.0,
                 duplicate: float = 0.0, delay_max_s: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_max_s = delay_max_s
        self.rng = random.Random(seed)
        self.drop_request, self.drop_response, self.duplicate = drop_request, drop_response, duplicate
        self.blocked = False
        self.on_forwarded: Callable[[str, dict[str, str], int], None] | None = None
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ChaosProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_rates(self, drop_request: float, drop_response: float, duplicate: float) -> None:
        with self._lock:
            self.drop_request, self.drop_response, self.duplicate = drop_request, drop_response, duplicate

    def _delay(self) -> float:
        with self._lock:
            return self.rng.uniform(0, self.delay_max_s) if self.delay_max_s else 0.0

    def _roll(self) -> str:
        with self._lock:
            if self.blocked:
                return "blocked"
            r = self.rng.random()
            if r < self.drop_request:
                return "drop_request"
            if r < self.drop_request + self.drop_response:
                return "drop_response"
            if r < self.drop_request + self.drop_response + self.duplicate:
                return "duplicate"
            return "forward"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> requests.Response:
        return self._session().request(method, self.upstream + path, headers=headers, data=body, timeout=60,
                                       allow_redirects=False)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                action = proxy._roll()
                with proxy._lock:
                    proxy.stats[action] += 1
                if action == "blocked":
                    self._reply(503, b'{"error": {"code": "unavailable", "message": "hub down (test)"}}', {})
                    return
                if action == "drop_request":
                    self.close_connection = True
                    return
                wait = proxy._delay()
                if wait:
                    time.sleep(wait)
                try:
                    response = proxy._forward(self.command, self.path, headers, body)
                    if action == "duplicate":
                        response = proxy._forward(self.command, self.path, headers, body)
                except requests.RequestException:
                    self.close_connection = True
                    return
                if proxy.on_forwarded is not None:
                    proxy.on_forwarded(self.path, headers, response.status_code)
                if action == "drop_response":
                    self.close_connection = True
                    return
                self._reply(response.status_code, response.content,
                            {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP})

            def _reply(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        return Handler
