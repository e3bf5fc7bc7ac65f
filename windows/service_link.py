"""The UI's connection to the service: HTTP calls off the Tk thread, the event stream, service up/down.

The service's URL comes from `service.json`, which the running service writes into the data directory
(pid, port); it is re-read on every call, so a service restarted by the tray on a new port is found
again. Calls carry the local token (`local_token`, 0600): the windows never ask for a password.

Only the tray (the desktop agent) owns the service's life: the windows ask it to restart the service, start
it (which starts the service) when none runs, and never stop a service themselves.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.children import child_env, running_service
from core.discovery import read_service_url
from core.i18n import SOURCE_LANGUAGE, Translator
from core.paths import DataDir
from desktop.autostart import launch_command
from desktop.event_stream import EventStream
from desktop.instance import RESTART_SERVICE, TRAY, hand_over, instance_running
from desktop.service_client import Reply, ServiceClient
from windows.calls import BackgroundCalls, UiQueue
from windows.errors import ApiError

if TYPE_CHECKING:
    import psutil

log = logging.getLogger(__name__)

EventListener = Callable[[dict[str, Any]], None]
StateListener = Callable[[bool], None]


class ServiceNotRestarted(Exception):
    """Only the tray restarts the service, and it could not be asked: the message says why, for the user."""


class ServiceLink:
    """Everything a window needs from the service. Callbacks always run on the Tk thread."""

    def __init__(self, data_dir: DataDir, ui: UiQueue, calls: BackgroundCalls, timeout: float = 10.0,
                 tr: Translator | None = None) -> None:
        self.data_dir = data_dir
        self.tr = tr or Translator(SOURCE_LANGUAGE)  # the sentences start/restart return are for the user
        self._ui = ui
        self._calls = calls
        self.client = ServiceClient(lambda: read_service_url(data_dir), data_dir.local_token_file, timeout=timeout)
        self._event_listeners: list[EventListener] = []
        self._state_listeners: list[StateListener] = []
        self.connected = False
        self._stream = EventStream(lambda: read_service_url(data_dir), self.client.token,
                                   self._event_from_thread, self._state_from_thread)

    # -- HTTP ---------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """Blocking (worker threads only): the JSON body of a 2xx answer; ApiError or ServiceUnavailable."""
        reply: Reply = self.client.request(method, path, body, timeout=timeout)
        if not 200 <= reply.status < 300:
            raise ApiError(reply.status, reply.body)
        return reply.body

    def request_text(self, method: str, path: str, text: str | None = None,
                     content_type: str = "text/csv; charset=utf-8") -> Any:
        """Blocking (worker threads only): send text (a CSV file), get back the answer's text, or its JSON when
        the service answers JSON; ApiError (with the JSON error body) or ServiceUnavailable."""
        import json

        status, raw = self.client.request_bytes(method, path, None if text is None else text.encode("utf-8"),
                                                content_type)
        try:
            body: Any = json.loads(raw) if raw and raw.lstrip()[:1] in (b"{", b"[") else None
        except ValueError:
            body = None
        if not 200 <= status < 300:
            raise ApiError(status, body)
        return body if body is not None else raw.decode("utf-8", errors="replace")

    def call(self, method: str, path: str, body: Any = None, *, on_done: Callable[[Any], Any],
             on_error: Callable[[Exception], Any] | None = None) -> None:
        """Non-blocking: run the request on a worker; on_done(json) or on_error(exc) on the Tk thread."""
        self._calls.submit(lambda: self.request(method, path, body), on_done, on_error)

    def get(self, path: str, on_done: Callable[[Any], Any], on_error: Callable[[Exception], Any] | None = None,
            ) -> None:
        self.call("GET", path, on_done=on_done, on_error=on_error)

    def run(self, work: Callable[[], Any], on_done: Callable[[Any], Any],
            on_error: Callable[[Exception], Any] | None = None) -> None:
        """Run any blocking work (several requests, file reads) off the Tk thread."""
        self._calls.submit(work, on_done, on_error)

    # -- events -------------------------------------------------------------------------------------

    def start_events(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()

    def on_event(self, listener: EventListener) -> Callable[[], None]:
        """Listen to service events (on the Tk thread); returns a function that stops listening."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener) if listener in self._event_listeners else None

    def on_state(self, listener: StateListener) -> Callable[[], None]:
        """Listen to connected/disconnected changes (on the Tk thread); returns an unsubscribe function."""
        self._state_listeners.append(listener)
        return lambda: self._state_listeners.remove(listener) if listener in self._state_listeners else None

    def _event_from_thread(self, event: dict[str, Any]) -> None:
        self._ui.post(lambda: self._deliver_event(event))

    def _state_from_thread(self, connected: bool) -> None:
        self._ui.post(lambda: self._deliver_state(connected))

    def _deliver_event(self, event: dict[str, Any]) -> None:
        for listener in list(self._event_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed on %s", event.get("type"))

    def _deliver_state(self, connected: bool) -> None:
        self.connected = connected
        for listener in list(self._state_listeners):
            try:
                listener(connected)
            except Exception:
                log.exception("state listener failed")

    # -- the service's life: the tray's, the windows ask ----------------------------------------------

    def tray_running(self) -> bool:
        """The tray supervises the service (and restarts it itself) while it runs."""
        return instance_running(self.data_dir.root, TRAY)

    def start_service(self) -> str:
        """The error state's Start button (blocking for a moment). Returns a sentence for the user."""
        if self.tray_running():
            return self.tr._("The tray agent is running and restarts the service by itself; wait a few seconds.")
        elsewhere = running_service(self.data_dir)
        if elsewhere is not None:
            return self.tr._("The service runs without the desktop agent ({where}) but does not answer.").format(
                where=where_started(elsewhere, self.tr))
        return self._start_desktop_agent()

    def restart_service(self) -> str:
        """Settings' "Restart now" (blocking: run it off the Tk thread). Returns a sentence for the user, or raises
        ServiceNotRestarted saying why not.

        With the tray running, its supervisor restarts its child (the 'restart-service' request). A service
        started without the tray (`agent.py serve`) belongs to whoever started it: it is named, not stopped.
        With neither, the desktop agent is started, and its new service reads the saved settings."""
        if self.tray_running():
            if hand_over(self.data_dir.root, RESTART_SERVICE, timeout=3, name=TRAY):
                return self.tr._("The tray agent is restarting the service…")
            log.warning("the tray did not answer the restart request; the service was left as it is")
            raise ServiceNotRestarted(self.tr._("the desktop agent is running but did not answer. Use Restart "
                                                "service in its tray menu, or quit CRM Agent and start it again."))
        elsewhere = running_service(self.data_dir)
        if elsewhere is not None:
            log.info("restart: the service runs without the tray (%s); left as it is", where_started(elsewhere))
            raise ServiceNotRestarted(self.tr._("it runs without the desktop agent ({where}). Restart it where it "
                                                "was started.").format(where=where_started(elsewhere, self.tr)))
        return self._start_desktop_agent()

    def _start_desktop_agent(self) -> str:
        """Start the tray on this data directory, detached (it outlives this window); it starts the service."""
        cmd = launch_command(str(self.data_dir.root))
        try:
            # Detached and outliving this window: independent of this process's unpacked bundle when frozen.
            subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, env=child_env(independent=True))
        except OSError as exc:
            log.error("cannot start the desktop agent: %s", exc)
            return self.tr._("Could not start the desktop agent: {problem}").format(problem=exc)
        log.info("started the desktop agent: %s", " ".join(cmd[1:]))
        return self.tr._("Starting the desktop agent, which starts the service…")


def where_started(service: psutil.Process, tr: Translator | None = None) -> str:
    """`agent.py serve` (pid N), started by <its parent> (pid P): where the user can stop or restart it."""
    import psutil  # lazily, for start-up speed (~25 ms): only a service started without the tray needs it

    tr = tr or Translator(SOURCE_LANGUAGE)  # the log line (no tr) stays English
    try:
        parent = service.parent()
        started_by = tr._("started by {name} (pid {pid})").format(name=parent.name(), pid=parent.pid) \
            if parent is not None and parent.pid > 1 else tr._("whose starter has exited")
    except psutil.Error:
        started_by = tr._("whose starter is unknown")
    return f"`agent.py serve`, pid {service.pid}, {started_by}"

