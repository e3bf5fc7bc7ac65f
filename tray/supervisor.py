"""The service child's whole life: start, read its port, health-poll, restart with back-off, stop, clean up.

`agent.py serve --data-dir D` runs as a child of the tray, through core.supervisor.ChildProcess. Its stdout
announces the port on its last startup line (after an optional first-run password line). When it dies the
supervisor starts it again after a back-off (1 s doubling to 30 s, plus up to 0.5 s of jitter; back to 1 s once a
child stayed up for 30 s). On quit it sends SIGTERM and kills after 5 s. A service left running by a previous
tray (its pid in service.json, still alive, and our agent's `serve`) is stopped first, so two services never
share the data directory. Only the tray owns the service's life: the windows ask it (desktop.instance requests).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from core.children import agent_command, running_service
from core.discovery import read_service_info, remove_service_info
from core.i18n import N_, SOURCE_LANGUAGE, Translator
from core.paths import DataDir
from core.supervisor import ChildProcess, RestartBackoff
from desktop.service_client import http_get_json

log = logging.getLogger(__name__)

LISTENING = re.compile(r"listening on (http://[^\s:]+:(\d+))")
# `agent.py serve`'s first-start line, in the user's language (the same message as cli/serve.py's, which prints
# it): the tray reads the user and the password from it, in English or in the language of its own Translator.
FIRST_START = N_("First start: created user '{user}' with password {password} (also saved, readable only by you, "
                 "in {file})")


def first_start_pattern(template: str) -> re.Pattern[str]:
    """A regular expression for the first-start line written from `template` (the user and the password named)."""
    fields = {"{user}": r"(?P<user>[^'\s]+)", "{password}": r"(?P<password>\S+)", "{file}": r".*"}
    parts = re.split(r"(\{user\}|\{password\}|\{file\})", template)
    return re.compile("".join(fields.get(part, re.escape(part)) for part in parts))


def service_backoff() -> RestartBackoff:
    """1 s doubling to 30 s (plus up to 0.5 s of jitter); a run of 30 s is healthy and starts over."""
    return RestartBackoff(first_s=1.0, maximum_s=30.0, healthy_after_s=30.0)


def child_output_logger(path: Path, max_bytes: int = 1024 * 1024, backups: int = 3) -> logging.Logger:
    """A private logger writing the child's raw output to a rotating file (not to the tray's log)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"service-child:{path}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    return logger


class ServiceSupervisor:
    """Owns the `agent.py serve` child. Callbacks run on the supervisor's thread and must return quickly.

    on_up(url): the child answered /api/health; on_down(detail): it exited or is restarting;
    on_password(user, password): the first start created the admin account; on_start_failed(line): the child
    exited before listening, and line is the last thing it said (`serve` refuses in one line: a damaged
    database, a config error), which says what to do.
    """

    def __init__(self, data_dir: DataDir, *, port: int | None = 0, config_file: Path | None = None,
                 command: Callable[[], list[str]] | None = None,
                 wait: Callable[[float], bool] | None = None, clock: Callable[[], float] = time.monotonic,
                 backoff: RestartBackoff | None = None, health_timeout_s: float = 60.0, stop_grace_s: float = 5.0,
                 on_up: Callable[[str], None] | None = None, on_down: Callable[[str], None] | None = None,
                 on_password: Callable[[str, str], None] | None = None,
                 on_start_failed: Callable[[str], None] | None = None, tr: Translator | None = None) -> None:
        self.data_dir = data_dir
        self.tr = tr or Translator(SOURCE_LANGUAGE)  # on_down's detail is shown in the tooltip
        self._first_start = [first_start_pattern(template) for template in dict.fromkeys((FIRST_START,
                                                                                          self.tr._(FIRST_START)))]
        argv = (command or self._default_command(port, config_file))()
        # stdout carries the announcement, then the child's log lines (stderr joins it) for service-child.log.
        self.child = ChildProcess("service", argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace",
                                  extra_env={"PYTHONUNBUFFERED": "1"}, grace_s=stop_grace_s,
                                  backoff=backoff or service_backoff(), stale=self._stale_service_pid, clock=clock)
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait  # returns True when stop() was called: injectable for tests
        self._health_timeout_s = health_timeout_s
        self._on_up = on_up or (lambda url: None)
        self._on_down = on_down or (lambda detail: None)
        self._on_password = on_password or (lambda user, password: None)
        self._on_start_failed = on_start_failed or (lambda line: None)
        self._restart_now = threading.Event()
        self._thread: threading.Thread | None = None
        self._up = threading.Event()
        self.url: str | None = None
        self._child_pids: list[int] = []
        self.delays: list[float] = []  # back-off delays waited so far (for tests and the log)
        self.output = child_output_logger(data_dir.logs / "service-child.log")

    def _default_command(self, port: int | None, config_file: Path | None) -> Callable[[], list[str]]:
        args = ["serve", "--data-dir", str(self.data_dir.root)]
        if port is not None:
            args += ["--port", str(port)]
        if config_file is not None:
            args += ["--config", str(config_file)]
        return lambda: agent_command(*args)

    def _stale_service_pid(self) -> int | None:
        process = running_service(self.data_dir)
        return process.pid if process is not None else None

    # -- public -------------------------------------------------------------------------------------

    def start(self) -> None:
        self.child.stop_stale()
        self._thread = threading.Thread(target=self._loop, name="service-supervisor", daemon=True)
        self._thread.start()

    def wait_up(self, timeout: float | None = None) -> str | None:
        """Block until the service is healthy (returns its URL) or the timeout passes (None)."""
        return self.url if self._up.wait(timeout) else None

    @property
    def pid(self) -> int | None:
        return self.child.pid

    @property
    def starts(self) -> int:
        return self.child.starts

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def restart(self) -> None:
        """Stop the running child; the loop starts a new one at once (no back-off)."""
        log.info("restarting the service on request")
        self._restart_now.set()
        self.child.stop()

    def stop(self) -> int | None:
        """Stop for good: SIGTERM, then kill after the grace period. Returns the child's exit code."""
        self._stop.set()
        code = self.child.stop()
        if self._thread is not None:
            self._thread.join(timeout=self.child.grace_s + 5)
        self._forget_dead_service_info()
        return code

    def _forget_dead_service_info(self) -> None:
        """A child that was killed could not remove its service.json; do it for one of ours that is gone."""
        info = read_service_info(self.data_dir)
        if info is None:
            return
        pid = info.pid
        if pid in self._child_pids:
            import psutil  # lazily, for start-up speed (~25 ms): needed only when quitting

            try:
                gone = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            except psutil.Error:
                gone = True
            if gone:
                remove_service_info(self.data_dir, pid)

    # -- loop ---------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            code = self._run_once()
            ran_for = self.child.ran_for_s() or 0.0
            if self._stop.is_set():
                break
            if self._restart_now.is_set():
                self._restart_now.clear()
                self._on_down(self.tr._(N_("restarting")))
                continue
            delay = self.child.failed()
            self.delays.append(delay)
            log.warning("service exited with code %s after %.1f s; restarting in %.1f s", code, ran_for, delay)
            self._on_down(self.tr._("exited with code {code}, restarting in {delay}").format(
                code=code, delay=self.tr.duration(timedelta(seconds=round(delay)))))
            if self._wait(delay):
                break

    def _run_once(self) -> int | None:
        """Start one child, wait for it to be healthy, then for it to exit. Returns its exit code."""
        try:
            proc = self.child.start()
        except OSError as exc:
            log.error("cannot start the service (%s): %s", self.child.command, exc)
            return None
        self._child_pids.append(proc.pid)
        log.info("started the service (pid %d): %s", proc.pid, " ".join(self.child.command[1:]))
        if self._stop.is_set():  # stop() raced with the start
            self.child.stop()
        last_line: list[str] = []
        url = self._read_announcement(proc, last_line)
        if url is None and last_line and not self._stop.is_set():
            self._on_start_failed(last_line[0])
        if url and self._wait_healthy(url):
            self.url = url
            self._up.set()
            log.info("service healthy at %s", url)
            self._on_up(url)
        for line in proc.stdout:  # the rest of its output, until it exits
            self.output.info(line.rstrip("\n"))
        code = proc.wait()
        proc.stdout.close()
        self._up.clear()
        self.url = None
        return code

    def _read_announcement(self, proc: subprocess.Popen, last_line: list[str]) -> str | None:
        """The URL from the listening line; None when the child's output ended first (last_line then holds the
        last non-empty line it printed)."""
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.strip():
                last_line[:] = [line.strip()]
            found = next((m for m in (p.search(line) for p in self._first_start) if m), None)
            if found:
                # The password is shown once by the tray and kept in admin_password.txt; not in a log.
                self.output.info(line.replace(found.group("password"), "[redacted]"))
                self._on_password(found.group("user"), found.group("password"))
                continue
            self.output.info(line)
            match = LISTENING.search(line)
            if match:
                return match.group(1)
        return None

    def _wait_healthy(self, url: str) -> bool:
        """Readiness: /api/health answers. A child that never does is restarted (stopped: the loop restarts it)."""
        if self.child.wait_ready(lambda: http_get_json(url + "/api/health") is not None, self._health_timeout_s,
                                 give_up=self._stop.is_set):
            return True
        if self.child.alive() and not self._stop.is_set():
            log.error("service at %s did not become healthy in %.0f s: restarting it", url, self._health_timeout_s)
            self.child.stop()
        return False
