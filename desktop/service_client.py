"""A tiny HTTP client for the local service: plain HTTP on 127.0.0.1 (desktop/loopback.py), so the tray and the
windows import neither requests nor urllib/http.client (which import ssl: ~6 MB)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.secrets_store import read_secret
from desktop.loopback import http_request


class ServiceUnavailable(Exception):
    """The service is down or did not answer."""


@dataclass
class Reply:
    status: int
    body: Any


def http_get_json(url: str, timeout: float = 2.0) -> dict | None:
    """GET a JSON document; None on any failure."""
    try:
        status, raw = http_request(url, timeout=timeout)
        data = json.loads(raw) if 200 <= status < 300 else None
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


class ServiceClient:
    """Calls the running service with the local token; the URL changes when the supervisor restarts it."""

    def __init__(self, url: Callable[[], str | None], token_file: Path, timeout: float = 10.0) -> None:
        self._url = url
        self._token_file = token_file
        self._timeout = timeout

    def token(self) -> str | None:
        return read_secret(self._token_file)

    def health(self) -> dict | None:
        base = self._url()
        return http_get_json(base + "/api/health") if base else None

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        status, raw = self.request_bytes(method, path, data, "application/json", timeout=timeout)
        return Reply(status, _json_or_none(raw))

    def request_bytes(self, method: str, path: str, data: bytes | None = None,
                      content_type: str = "application/json", timeout: float | None = None) -> tuple[int, bytes]:
        """Any body and any answer (a CSV import and export): (status, the answer's bytes). timeout: for the
        calls known to take longer than the client's usual wait (a model test loads and runs the LLM)."""
        base = self._url()
        if not base:
            raise ServiceUnavailable("the service is not running")
        headers = {"Accept": "application/json"}
        token = self.token()
        if token:  # no token file yet: ask without one, and the service answers 401 as to anyone
            headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            return http_request(base + path, method, data, headers, timeout=timeout or self._timeout)
        except (OSError, ValueError) as exc:
            raise ServiceUnavailable(str(exc)) from exc


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
