"""A tiny HTTP client for the local service (urllib: the tray stays small; no requests import)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.secrets_store import read_secret


class ServiceUnavailable(Exception):
    """The service is down or did not answer."""


@dataclass
class Reply:
    status: int
    body: Any


def http_get_json(url: str, timeout: float = 2.0) -> dict | None:
    """GET a JSON document; None on any failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our loopback URL
            data = json.loads(response.read())
            return data if isinstance(data, dict) else None
    except (OSError, ValueError, urllib.error.URLError):
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
        headers = {"Authorization": f"Bearer {self.token() or ''}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=timeout or self._timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (OSError, urllib.error.URLError) as exc:
            raise ServiceUnavailable(str(exc)) from exc


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
