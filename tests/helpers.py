"""Start the real service (agent.py serve --port 0) in a subprocess and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (https?)://[^:]+:(\d+)")
PASSWORD = re.compile(r"with password (\S+)")


# Secrets the test run handed out (login and pairing tokens, passwords sent to the service), as (kind, value):
# conftest.py's session-end check greps every log file under pytest's basetemp for them (tests/secret_leaks.py).
CREATED_SECRETS: list[tuple[str, str]] = []
SECRET_ROUTES = ("/api/auth/login", "/api/users")  # requests whose body's passwords are registered


def register_secret(kind: str, value: Any) -> None:
    if isinstance(value, str) and value:
        CREATED_SECRETS.append((kind, value))


def register_exchange(path: str, body: Any, response: requests.Response) -> None:
    """The passwords a request sent and the token its answer gave, as secrets of the run."""
    if isinstance(body, dict) and path.startswith(SECRET_ROUTES):
        register_secret("password sent to the service", body.get("password"))
        register_secret("password sent to the service", body.get("current_password"))
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            answer = response.json()
        except ValueError:
            return
        if isinstance(answer, dict):
            register_secret("access token", answer.get("access_token"))
            register_secret("extension token", answer.get("token"))


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    """Poll predicate until it returns a truthy value (returned) or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@dataclass
class RunningService:
    process: subprocess.Popen
    data_dir: Path
    port: int
    admin_password: str | None
    session: requests.Session = field(default_factory=requests.Session)
    _token: str | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def local_token(self) -> str:
        return (self.data_dir / "local_token").read_text().strip()

    def token(self) -> str:
        """An admin access token obtained through the login endpoint (cached)."""
        if self._token is None:
            password = self.admin_password or _password_from_file(self.data_dir)
            r = self.session.post(self.url + "/api/auth/login", json={"username": "admin", "password": password})
            assert r.status_code == 200, r.text
            register_secret("access token", r.json()["access_token"])
            self._token = r.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, token: str | None | bool = True, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is True:
            token = self.token()
        if token:
            headers.setdefault("Authorization", f"Bearer {token}")
        timeout = kwargs.pop("timeout", 30)
        response = self.session.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)
        register_exchange(path, kwargs.get("json"), response)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def log_text(self, timeout: float = 10.0) -> str:
        """agent.log once every line logged so far is in it. The service writes INFO lines on a short timer
        (core/logging_setup.py), in order: a marker request's own line showing up means the earlier ones are there."""
        marker = f"/api/log-flush-{time.time_ns()}"
        self.session.get(self.url + marker, timeout=timeout)
        log = self.data_dir / "logs" / "agent.log"
        wait_until(lambda: log.exists() and marker in log.read_text(encoding="utf-8", errors="replace"),
                   timeout=timeout, message="the service's log to reach the marker request")
        return log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        self.session.close()  # no idle keep-alive connection left for the service to wait on
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _password_from_file(data_dir: Path) -> str:
    text = (data_dir / "admin_password.txt").read_text()
    return re.search(r"password: (\S+)", text).group(1)


def write_config(data_dir: Path, sections: dict[str, dict[str, Any]]) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "config.json"
    path.write_text(json.dumps(sections))
    return path


def start_service(data_dir: Path, config: dict[str, dict[str, Any]] | None = None, extra_args: tuple[str, ...] = (),
                  env: dict[str, str] | None = None, timeout: float = 30.0, llm: bool = False,
                  verify: str | bool = True) -> RunningService:
    """llm=False turns the LLM worker off (ai.llm_enabled): only the tests about it pay for the model.

    verify: the CA file that checks an HTTPS service's certificate (server.tls_cert_file).
    """
    config = {section: dict(values) for section, values in (config or {}).items()}
    if not llm:
        config.setdefault("ai", {}).setdefault("llm_enabled", False)
    if config or not (data_dir / "config.json").exists():
        write_config(data_dir, config)
    cmd = [sys.executable, str(ROOT / "agent.py"), "serve", "--port", "0", "--data-dir", str(data_dir), *extra_args]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                               env={**os.environ, **(env or {})})
    port = None
    scheme = "http"
    password = None
    deadline = time.monotonic() + timeout
    lines = []
    while port is None:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"service exited before listening:\n{''.join(lines)}")
        lines.append(line)
        found = PASSWORD.search(line)
        if found:
            password = found.group(1)
        match = LISTENING.search(line)
        if match:
            scheme, port = match.group(1), int(match.group(2))
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("service did not announce its port")
    service = RunningService(process, data_dir, port, password, scheme=scheme)
    service.session.verify = verify
    wait_until(lambda: _healthy(service), timeout=timeout, message="/api/health")
    _drain_in_background(process)
    return service


def _drain_in_background(process: subprocess.Popen) -> None:
    import threading

    def drain() -> None:
        with process.stdout:  # closed at EOF, when the service exits
            for _ in process.stdout:
                pass

    threading.Thread(target=drain, daemon=True).start()


def _healthy(service: RunningService) -> bool:
    try:
        return requests.get(service.url + "/api/health", timeout=2, verify=service.session.verify).status_code == 200
    except requests.RequestException:
        return False


_counter = [0]


@contextmanager
def strace_attached(pid: int, trace: Path, syscalls: str, *options: str) -> Iterator[None]:
    """strace -f attached to the running process pid, writing the given syscalls (-e trace=...) to trace while
    the block runs, then detached (the process goes on). Skips the test where strace cannot attach (ptrace)."""
    import pytest

    tracer = subprocess.Popen(["strace", "-f", *options, "-o", str(trace), "-p", str(pid), "-e", f"trace={syscalls}"],
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: trace.exists() or tracer.poll() is not None, timeout=10, message="strace started")
        time.sleep(1.0)  # attaching to each of the process's threads takes a moment; strace says nothing when done
        if tracer.poll() is not None:
            pytest.skip(f"strace cannot attach here: {tracer.stderr.read().strip()[:200]}")
        yield
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches; the process goes on
        tracer.wait(10)


def message(**overrides: Any) -> dict[str, Any]:
    """A realistic capture body with a fresh message id."""
    _counter[0] += 1
    body = {
        "message_id": f"wamid.TEST{time.time_ns()}{_counter[0]}",
        "chat_id": "5511999990000@c.us",
        "phone": "+55 11 99999-0000",
        "name": "Maria Silva",
        "content": "Oi, quanto custa o plano mensal?",
        "type": "text",
        "direction": "in",
        "timestamp": int(time.time() * 1000),
    }
    body.update(overrides)
    return body
