"""Follow the service's WebSocket from a desktop process (tray, windows) on a thread of its own.

Uses desktop/loopback.py's WebSocket (no gevent in desktop processes; no websocket-client, which imports ssl)
and resumes with ?since=<last id> after a reconnect, so a restart of the service loses no events the service
still buffers.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from desktop.loopback import WebSocket

log = logging.getLogger(__name__)


class EventStream:
    """Follows /ws on a thread; calls on_event(event) for each event, on_state(connected) on changes.

    `url()` gives the service URL (None while it is down); `token()` the local token. A lost connection is
    retried after 0.2 s growing to 5 s, and with a new URL when the supervisor restarted the service.
    """

    SILENCE_PINGS = 3  # a service that missed this many pings is treated as lost

    def __init__(self, url: Callable[[], str | None], token: Callable[[], str | None],
                 on_event: Callable[[dict[str, Any]], None], on_state: Callable[[bool], None],
                 wait_up: Callable[[float], str | None] | None = None, silence_timeout_s: float | None = None,
                 ) -> None:
        self._url = url
        self._silence_timeout_s = silence_timeout_s
        self._token = token
        self._on_event = on_event
        self._on_state = on_state
        self._wait_up = wait_up
        self.last_id: int | None = None
        self._ws: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-stream", daemon=True)
        self.connects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.abort()
            except Exception as exc:  # noqa: BLE001 - best effort
                log.debug("ignored: %s", exc)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def ws_url(self, base: str, token: str) -> str:
        query = {"token": token}
        if self.last_id is not None:
            query["since"] = str(self.last_id)
        return base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws?" + urlencode(query)

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            base = self._url()
            if base is None and self._wait_up is not None:
                base = self._wait_up(1.0)
            token = self._token()
            if not base or not token:
                if self._stop.wait(0.2 if self._wait_up is None else 0):
                    return
                continue
            try:
                ws = WebSocket.connect(self.ws_url(base, token), timeout=5)
            except Exception as exc:  # noqa: BLE001 - refused, reset, handshake error...
                log.debug("event stream: cannot connect to %s: %s", base, exc)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self._ws = ws
            self.connects += 1
            # A dead service closes the socket at once; a hung one stops sending its pings, and after
            # silence_timeout_s of nothing at all recv() raises and the connection counts as lost.
            ws.settimeout(self._silence_timeout_s)
            self._on_state(True)
            try:
                while not self._stop.is_set():
                    raw = ws.recv()
                    if not raw:
                        break
                    self._dispatch(raw)
            except Exception as exc:  # noqa: BLE001 - closed by the peer or by stop()
                log.debug("event stream closed: %s", exc)
            finally:
                self._ws = None
                try:
                    ws.close()
                except Exception as exc:  # noqa: BLE001 - best effort
                    log.debug("ignored: %s", exc)
            if not self._stop.is_set():
                self._on_state(False)

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if isinstance(event.get("id"), int):
            self.last_id = max(self.last_id or 0, event["id"])
        try:
            self._on_event(event)
        except Exception:
            log.exception("handling event %s failed", event.get("type"))
