"""The gevent WSGI adapter: gevent's server with TCP_NODELAY, the WebSocket upgrade, TLS, the loopback check.

The service's life around it (signals, jobs, shutdown) is runtime/serve.py. Call only after
gevent.monkey.patch_all() (agent.py serve does it first thing).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import Any

from gevent.pywsgi import WSGIHandler, WSGIServer

from api.app import create_app
from api.websocket import WebSocketEndpoint
from crm.service import Service

log = logging.getLogger("crm_agent.server")

MAX_CONNECTIONS = 1000


class AgentHandler(WSGIHandler):
    """pywsgi's handler plus: WebSocket upgrades handed to the endpoint after its checks pass."""

    def handle_one_response(self) -> None:
        endpoint: WebSocketEndpoint | None = getattr(self.server, "ws_endpoint", None)
        if endpoint is not None and endpoint.accepts(self.environ):
            self.close_connection = True
            endpoint.serve(self.environ, self.socket)
            return
        super().handle_one_response()


class AgentServer(WSGIServer):
    handler_class = AgentHandler
    ws_endpoint: WebSocketEndpoint | None = None

    def handle(self, sock: socket.socket, address: Any) -> None:
        # Without TCP_NODELAY each keep-alive response waits for the peer's delayed ACK (~40 ms here).
        # (gevent calls wrap_socket_and_handle only for TLS servers; handle() sees every connection.)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().handle(sock, address)


class _ErrorLog:
    """pywsgi writes errors to a file-like object; send them to logging instead."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            log.warning("%s", text)

    def flush(self) -> None:
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_arguments(service: Service) -> dict[str, str]:
    """certfile/keyfile for gevent's server when server.tls_cert_file is set (a hub serving HTTPS)."""
    cert, key = service.config["server.tls_cert_file"], service.config["server.tls_key_file"]
    if not cert:
        return {}
    for setting, path in (("server.tls_cert_file", cert), ("server.tls_key_file", key or cert)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{setting}: no such file {path}")
    return {"certfile": cert, "keyfile": key or cert}


def make_server(service: Service, host: str, port: int) -> AgentServer:
    wsgi, policy = create_app(service)
    server = AgentServer((host.strip("[]"), port), wsgi, log=None, error_log=_ErrorLog(), spawn=MAX_CONNECTIONS,
                         **tls_arguments(service))
    server.init_socket()
    policy.port = server.server_port
    if not is_loopback(host):
        policy.host_names = policy.host_names | {host.lower()}
        log.warning("API bound to %s: reachable from the network, not only this machine", host)
    server.ws_endpoint = WebSocketEndpoint(service, policy)
    return server
