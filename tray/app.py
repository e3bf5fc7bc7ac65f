"""The desktop agent (`python agent.py` with no command): tray icon + supervised service + notifications.

Threads: pystray's loop owns the icon (main thread); the supervisor owns the service child; the event
stream follows the WebSocket; the notifier shows notifications; the dock watcher (X11 only) keeps the icon
docked; the instance listener takes requests from later launches. Menu actions that talk to the service
run on short-lived worker threads so the icon's loop never waits on the network.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from core.children import agent_command, child_env
from core.i18n import Translator, translator_for
from core.options import add_common_options
from core.paths import PRIVATE_UMASK, DataDir, resolve_data_dir
from desktop import autostart
from desktop.event_stream import EventStream
from desktop.instance import OPEN_DASHBOARD, QUIT, RESTART_SERVICE, InstanceLock, hand_over
from desktop.pairing import expiry_epoch
from desktop.service_client import ServiceClient, ServiceUnavailable
from tray.icon import MenuActions, asset_path
from tray.notifications import ConnectionWatch, NotificationSettings, Notifier
from tray.status import StatusBoard, paired_from_health, paired_from_list, stalled_from_health
from tray.supervisor import ServiceSupervisor

log = logging.getLogger("tray")

REFRESH_ON = ("alert.raised", "alert.resolved", "ai.state", "events.lost", "sync.status", "capture.stalled",
              "capture.resumed", "pairing.completed", "extension.revoked")
UI_WINDOWS = ("dashboard", "settings", "logs", "connect")  # what ui.open_requested may name (it becomes argv)


def display_available() -> bool:
    """Windows and macOS always have a desktop; elsewhere an X11 or Wayland display must be set."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_headless(data_dir: DataDir, config_file: Path | None, port: int | None) -> int:
    """Become `agent.py serve` (exec on POSIX, so no tray process stays around; a child elsewhere)."""
    args = ["serve", "--data-dir", str(data_dir.root)]
    if config_file is not None:
        args += ["--config", str(config_file)]
    if port is not None:
        args += ["--port", str(port)]
    cmd = agent_command(*args)
    sys.stdout.flush()
    if os.name == "posix":
        os.execve(cmd[0], cmd, child_env())  # noqa: S606 - our own interpreter and agent.py
    return subprocess.call(cmd, env=child_env())


class DesktopApp:
    def __init__(self, data_dir: DataDir, config: Any, *, port: int | None = None,
                 config_file: Path | None = None, settings: NotificationSettings | None = None,
                 tr: Translator | None = None) -> None:
        self.data_dir = data_dir
        self.config = config
        # One Translator for the tray process (ui.language), passed to all that shows text.
        self.tr = tr or translator_for(_config_value(config, "ui.language", "auto"))
        self.board = StatusBoard()
        self.settings = settings or NotificationSettings.from_config(config)
        icon_file = asset_path("icon.ico" if sys.platform == "win32" else "icon.png")
        self.notifier = Notifier(self.settings, str(icon_file), self.tr)
        self.connection = ConnectionWatch(self.notifier, self.settings.connection_lost_after_s)
        self.supervisor = ServiceSupervisor(data_dir, port=port, config_file=config_file, on_up=self._service_up,
                                            on_down=self._service_down, on_password=self._first_password,
                                            on_start_failed=self._start_failed, tr=self.tr)
        self.client = ServiceClient(lambda: self.supervisor.url, data_dir.local_token_file)
        silence = _config_value(config, "websocket.ping_interval_s", 20) * EventStream.SILENCE_PINGS
        self.stream = EventStream(lambda: self.supervisor.url, self.client.token, self._on_event,
                                  self._on_stream_state, wait_up=self.supervisor.wait_up, silence_timeout_s=silence)
        self.autostart = autostart.for_platform()
        self.instance: InstanceLock | None = None
        self.icon: Any = None
        self.watcher: Any = None
        self.loop_calls: Any = None  # tray/docking.py LoopThreadCalls, on the X11 backend
        self.ui_children: deque[subprocess.Popen] = deque(maxlen=16)
        self._quitting = threading.Event()
        self._start_failure = ""  # the refusal last shown: told once, not at every restart

    # -- lifecycle ----------------------------------------------------------------------------------

    def run(self, instance: InstanceLock) -> int:
        from tray.icon import TrayIcon

        self.instance = instance
        self.icon = TrayIcon(self.actions(), self.board.status, self.tr)
        self.board.listen(self.icon.show_status)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.quit())
        if self.icon.backend == "_xorg":
            self._prepare_xorg_icon()
        # The service and the rest start before the icon's loop and never wait for it: captures must flow even
        # when the tray host (a panel we do not control) misbehaves.
        self.notifier.start()
        self.supervisor.start()
        self.stream.start()
        self.instance.serve(self._on_request)
        self.icon.run(self._setup)
        self._shutdown()
        return 0

    def _prepare_xorg_icon(self) -> None:
        """Before pystray's loop starts, while its X connection has a single user: let the icon receive clicks,
        and route every later call from our threads through a connection of our own (tray/docking.py)."""
        from tray.docking import LoopThreadCalls, enable_clicks, quiet_pystray_dock_errors

        quiet_pystray_dock_errors()
        try:
            enable_clicks(self.icon.icon)
            self.loop_calls = LoopThreadCalls(self.icon.icon)
        except Exception:
            log.exception("cannot prepare the tray icon's X11 window")

    def _setup(self, icon: Any) -> None:
        if self._quitting.is_set():
            return
        icon.visible = True
        if self.icon.backend == "_xorg":
            self._start_dock_watcher(icon)
        log.info("desktop agent ready (data: %s)", self.data_dir.root)

    def _start_dock_watcher(self, icon: Any) -> None:
        from tray.docking import DockWatcher

        try:
            self.watcher = DockWatcher(icon._window.id,
                                       redock=lambda: self.icon.call_locked(icon._show),
                                       on_docked=self._repaint)
            self.watcher.start()
        except Exception:
            log.exception("cannot watch the tray icon's docking")

    def _repaint(self) -> None:
        # pystray drops image updates while undocked; after (re)docking draw the current state again.
        threading.Thread(target=lambda: self.icon.call_locked(
            lambda: setattr(self.icon.icon, "icon", self.icon.image_for(self.board.status))), daemon=True).start()

    def quit(self) -> None:
        if self._quitting.is_set():
            return
        self._quitting.set()
        log.info("quit requested")
        if self.watcher is not None:
            self.watcher.request_stop()
        # Not on this thread: SIGTERM runs quit() on pystray's loop thread, which may be inside an X server grab
        # (pystray grabs the server to look up the tray host). A new X connection opened here would wait for
        # that grab to end, and the grab for this handler to return: the tray hung after "quit requested".
        threading.Thread(target=self._stop_icon_loop, name="quit", daemon=True).start()

    def _stop_icon_loop(self) -> None:
        if self.icon.backend != "_xorg":
            self.icon.icon.stop()  # the other backends post the stop to their own loop
            return
        from tray.docking import close_icon_window  # pystray's X11 backend, like the watcher: needs a display

        try:
            close_icon_window(self.icon.icon._window.id)
        except Exception:  # noqa: BLE001 - no second connection (display gone): pystray's own way, as before
            log.warning("could not close the icon window through a second X connection", exc_info=True)
            self.icon.icon.stop()

    def quit_from_another_thread(self) -> None:
        """pystray's X11 loop is not thread-safe: stopping the icon from another thread can lose the window's
        DestroyNotify and leave the loop waiting forever. On POSIX, quit the way SIGTERM does: the main
        thread's blocking read is interrupted and the handler (quit) runs there."""
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
        else:
            self.quit()  # win32/darwin backends post the stop to their own loop

    def _shutdown(self) -> None:
        """After the icon's loop returned: stop everything, the service last-but-one, the lock last."""
        self._quitting.set()
        self.connection.cancel()
        self.stream.stop()
        code = self.supervisor.stop()
        log.info("service stopped (exit code %s)", code)
        self.notifier.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.loop_calls is not None:
            self.loop_calls.close()
        for child in list(self.ui_children):
            if child.poll() is None:
                child.terminate()
        if self.instance is not None:
            self.instance.release()
        log.info("desktop agent stopped")

    # -- service state ------------------------------------------------------------------------------

    def _service_up(self, url: str) -> None:
        self._start_failure = ""
        self.board.update(service_up=True, url=url, detail="")
        self._refresh_health()

    def _service_down(self, detail: str) -> None:
        self.board.update(service_up=False, detail=detail)

    def _start_failed(self, line: str) -> None:
        """The service refused to start (a damaged database, a config error): its one line says what to do.
        Outside the notification policy, like the first-run password: nothing works until the user acts, and
        the supervisor keeps restarting it, so it starts by itself once the cause is fixed."""
        self.board.update(service_up=False, detail=line)
        if line == self._start_failure:
            return
        self._start_failure = line
        message = line.removeprefix("error: ")
        self.notifier.notify_now(self.tr._("CRM Agent cannot start"), message[:1].upper() + message[1:])

    def _first_password(self, user: str, password: str) -> None:
        # The password itself never goes into a notification: notification daemons keep a history and show it
        # on the lock screen. The file is readable only by the user.
        del password
        tr = self.tr
        self.notifier.notify_now(
            tr._("CRM Agent is ready: your admin account"),
            tr._("Sign in as '{user}'. Your password is in {file} (readable only by you)").format(
                user=user, file=self.data_dir.admin_password_file))

    def _on_stream_state(self, connected: bool) -> None:
        if connected:
            self.connection.connected()
            self._refresh_health()
        elif not self._quitting.is_set():
            log.warning("lost the connection to the service")
            self.connection.lost()
            self._background(self._restart_if_hung)

    def _restart_if_hung(self, grace_s: float = 10.0) -> None:
        """The stream dropped: a dead child is the supervisor's business; a live child that stopped answering
        /api/health for grace_s is hung, and gets restarted."""
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if self._quitting.is_set() or not self.supervisor.is_up or self.client.health() is not None:
                return
            time.sleep(0.5)
        if self.supervisor.is_up and not self._quitting.is_set():
            log.error("the service is running but has not answered for %.0f s: restarting it", grace_s)
            self.supervisor.restart()

    def _on_event(self, event: dict[str, Any]) -> None:
        self.board.apply_event(event)
        if event.get("type") in REFRESH_ON:
            self._refresh_health()
        self.notifier.handle_event(event)
        self._open_window_for(event)

    def _open_window_for(self, event: dict[str, Any]) -> None:
        """A browser asking to pair: the Connect window shows its code. The extension's "open dashboard":
        the window it names."""
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if event.get("type") == "pairing.requested":
            expires = expiry_epoch(data.get("expires_at"))
            if expires is None or expires > time.time():  # not for a stale one replayed after a reconnect
                self.open_ui("connect")
        elif event.get("type") == "ui.open_requested":
            window = data.get("window") or "dashboard"
            if window in UI_WINDOWS:
                self.open_ui(window)
            else:
                log.warning("ignored a request to open an unknown window: %r", window)

    def _refresh_health(self) -> None:
        health = self.client.health()
        if health is None:
            return
        self.board.apply_health(health)
        stalled = stalled_from_health(health)
        if stalled is not None:
            self.notifier.stalls.keep_only(stalled)
        if paired_from_health(health) is None:
            self._refresh_paired_from_list()

    def _refresh_paired_from_list(self) -> None:
        """The health of a service without the `extensions` part: count GET /api/extensions; unknown (None)
        when that route is missing too (an older service: 404)."""
        try:
            reply = self.client.request("GET", "/api/extensions")
        except ServiceUnavailable:
            return
        self.board.update(extensions_paired=paired_from_list(reply.body) if reply.status == 200 else None)

    # -- menu ---------------------------------------------------------------------------------------

    def actions(self) -> MenuActions:
        return MenuActions(
            open_dashboard=lambda: self.open_ui("dashboard"),
            open_settings=lambda: self.open_ui("settings"),
            open_logs=lambda: self.open_ui("logs"),
            open_connect=lambda: self.open_ui("connect"),
            needs_extension=lambda: self.board.status.needs_extension,
            toggle_capture=lambda: self._background(self.toggle_capture),
            restart_service=lambda: self._background(self.supervisor.restart),
            backup_now=lambda: self._background(self.backup_now),
            toggle_autostart=self.toggle_autostart,
            autostart_enabled=self.autostart.enabled,
            capture_paused=lambda: self.board.status.capture_paused,
            quit=self.quit,
        )

    def _on_request(self, request: str) -> None:
        if request == QUIT:
            self.quit_from_another_thread()
            return
        if request == RESTART_SERVICE:
            self._background(self.supervisor.restart)
            return
        self.open_ui(request.removeprefix("open-") if request != OPEN_DASHBOARD else "dashboard")

    @staticmethod
    def _background(fn: Any) -> None:
        threading.Thread(target=fn, daemon=True).start()

    def open_ui(self, window: str) -> None:
        """Start `agent.py ui <window>` and log an error if it fails (the UI process is its own program)."""
        cmd = agent_command("ui", window, "--data-dir", str(self.data_dir.root))
        log.info("opening the %s window: %s", window, " ".join(cmd[1:]))
        try:
            child = subprocess.Popen(cmd, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        except OSError as exc:
            log.error("cannot start the %s window: %s", window, exc)
            return
        self.ui_children.append(child)

        def reap() -> None:
            _, err = child.communicate()
            if child.returncode != 0 and not self._quitting.is_set():
                tail = " | ".join(err.strip().splitlines()[-3:])
                log.error("the %s window exited with code %s: %s", window, child.returncode, tail)

        threading.Thread(target=reap, name=f"ui-{window}", daemon=True).start()

    def toggle_capture(self) -> None:
        tr = self.tr
        paused = not self.board.status.capture_paused
        try:
            reply = self.client.request("POST", "/api/system/capture", {"paused": paused})
        except ServiceUnavailable as exc:
            self.notifier.notify_now(tr._("Capture unchanged"), tr._("The service is not reachable: {error}").format(
                error=exc))
            return
        if reply.status == 200:
            self.board.update(capture_paused=paused)
        else:
            log.error("pause/resume capture failed: %s %s", reply.status, reply.body)
            self.notifier.notify_now(tr._("Capture unchanged"), tr._("The service answered {status}.").format(
                status=reply.status))

    def backup_now(self) -> None:
        tr = self.tr
        try:
            reply = self.client.request("POST", "/api/system/backup", {})
        except ServiceUnavailable as exc:
            self.notifier.notify_now(tr._("Backup failed"), tr._("The service is not reachable: {error}").format(
                error=exc))
            return
        if reply.status == 404:
            self.notifier.notify_now(tr._("Backup not available"), tr._("Backups are not available in this version."))
        elif 200 <= reply.status < 300:
            where = reply.body.get("path") if isinstance(reply.body, dict) else None
            self.notifier.notify_now(tr._("Backup done"), tr._("Saved to {path}").format(path=where) if where
                                     else tr._("The backup was written."))
        else:
            detail = reply.body.get("error") if isinstance(reply.body, dict) else reply.status
            log.error("backup failed: %s %s", reply.status, reply.body)
            self.notifier.notify_now(tr._("Backup failed"), tr._("The service answered {status}: {detail}").format(
                status=reply.status, detail=detail))

    def toggle_autostart(self) -> None:
        try:
            if self.autostart.enabled():
                log.info("start on login off: %s", self.autostart.disable())
            else:
                log.info("start on login on: %s", self.autostart.enable(autostart.launch_command()))
        except OSError as exc:
            log.error("cannot change start on login: %s", exc)
            self.notifier.notify_now(self.tr._("Start on login unchanged"), str(exc))


def _config_value(config: Any, key: str, default: Any) -> Any:
    try:
        return config[key]
    except (KeyError, TypeError):
        return default


def setup_tray_logging(data_dir: DataDir, config: Any) -> None:
    from core.logging_setup import setup_logging

    setup_logging(config["logging.level"], data_dir.logs / "tray.log", config["logging.max_bytes"],
                  config["logging.backup_count"], to_stderr=True)


def dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 <tray pid>` writes every thread's stack to stderr: the tray waits on X, D-Bus and its child
    at once, and a hang there must be diagnosable on a user's machine (and in a CI log) without a debugger."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def run_desktop(data_dir: DataDir, config: Any, *, port: int | None = None, config_file: Path | None = None,
                settings: NotificationSettings | None = None) -> int:
    """The desktop agent; headless service when there is no display. Returns the exit code."""
    tr = translator_for(_config_value(config, "ui.language", "auto"))
    if not display_available():
        print(tr._("no display: running the service headless (agent.py serve)"), flush=True)
        return run_headless(data_dir, config_file, port)
    data_dir.ensure()
    instance = InstanceLock(data_dir.root)
    if not instance.acquire():
        if hand_over(data_dir.root, OPEN_DASHBOARD):
            print(tr._("CRM Agent is already running: asked it to open the dashboard"), flush=True)
            return 0
        print(tr._("CRM Agent is already running but did not answer"), file=sys.stderr)
        return 1
    setup_tray_logging(data_dir, config)
    dump_stacks_on_sigusr1()
    try:
        import pystray  # noqa: F401 - its X11 backend connects to the display at import
    except Exception as exc:  # noqa: BLE001 - DisplayNameError, connection refused, no backend...
        instance.release()
        print(tr._("no usable display ({error}): running the service headless").format(
            error=f"{type(exc).__name__}: {exc}"), flush=True)
        return run_headless(data_dir, config_file, port)
    app = DesktopApp(data_dir, config, port=port, config_file=config_file, settings=settings, tr=tr)
    return app.run(instance)


def main(argv: list[str] | None = None) -> int:
    """`agent.py [--data-dir DIR] [--config FILE] [--port N]`: the desktop agent."""
    parser = argparse.ArgumentParser(prog="agent.py", description="CRM Agent desktop: tray icon and service.")
    add_common_options(parser)
    parser.add_argument("--port", type=int, help="service port (default from config server.port; 0 = any free)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    os.umask(PRIVATE_UMASK)  # also when started as `python -m tray`, not through agent.py
    from core.config import ConfigError, load_effective_config

    data_dir = DataDir(resolve_data_dir(args.data_dir))
    config_file = Path(args.config).expanduser() if args.config else None
    try:
        config = load_effective_config(config_file or data_dir.config_file)
    except ConfigError as exc:  # no settings to read the language from: the system's
        print(translator_for("auto")._("config error: {error}").format(error=exc), file=sys.stderr)
        return 1
    return run_desktop(data_dir, config, port=args.port, config_file=config_file)
