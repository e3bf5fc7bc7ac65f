"""Shared pieces of the service benchmarks: start the real service, run wrk, time requests, print results.

Also a tiny reference server, the bare Bottle + gevent JSON echo the capture benchmark compares against:

    python bench/_common.py echo-server [--no-nodelay]     prints "echo listening on PORT", serves POST /echo

The service is started as `python agent.py serve --port 0 --data-dir DIR` (the same way tests/helpers.py
does). BENCH_AGENT=/path/to/agent.py runs another entry point instead (e.g. another checkout).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
WRK_DIR = BENCH / "wrk"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")
PASSWORD = re.compile(r"with password (\S+)")


# -- output -------------------------------------------------------------------------------------------


def header(title: str) -> None:
    now = datetime.now(timezone.utc).astimezone()
    print(f"== {title}")
    print(f"   {now:%Y-%m-%d %H:%M %Z} | {platform.node()} | {os.cpu_count()} cores | "
          f"{_mem_gb():.0f} GB RAM | Python {platform.python_version()} | {platform.system()} {platform.release()}")


def _mem_gb() -> float:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except Exception:
        return 0.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def target_line(label: str, value: str, target: str, ok: bool) -> str:
    return f"   {label:<44} {value:>14}   target {target:<12} {verdict(ok)}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def percentiles(samples: list[float], points: tuple[float, ...] = (50, 90, 99)) -> dict[float, float]:
    ordered = sorted(samples)
    out = {}
    for p in points:
        k = (len(ordered) - 1) * p / 100
        lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
        out[p] = ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
    return out


# -- the service --------------------------------------------------------------------------------------


def agent_command() -> list[str]:
    script = os.environ.get("BENCH_AGENT") or str(ROOT / "agent.py")
    return [sys.executable, script]


class Service:
    """agent.py serve in a subprocess, on a free port, with its own data directory."""

    def __init__(self, data_dir: Path, config: dict[str, dict[str, Any]] | None = None,
                 env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        import requests

        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (self.data_dir / "config.json").write_text(json.dumps(config))
        cmd = [*agent_command(), "serve", "--port", "0", "--data-dir", str(self.data_dir)]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                        env={**os.environ, **(env or {})})
        self.port: int | None = None
        self.admin_password: str | None = None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while self.port is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("service exited before listening:\n" + "".join(lines))
            lines.append(line)
            if m := PASSWORD.search(line):
                self.admin_password = m.group(1)
            if m := LISTENING.search(line):
                self.port = int(m.group(1))
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("service did not announce its port")
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.session = requests.Session()
        self._token: str | None = None
        self.wait_healthy(timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.session.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("service never became healthy")
            time.sleep(0.02)

    def token(self) -> str:
        if self._token is None:
            password = self.admin_password
            if password is None:
                text = (self.data_dir / "admin_password.txt").read_text()
                password = re.search(r"password: (\S+)", text).group(1)
            r = self.session.post(self.url + "/api/auth/login", json={"username": "admin", "password": password},
                                  timeout=30)
            if r.status_code != 200:
                raise RuntimeError(f"login failed: {r.status_code} {r.text}")
            self._token = r.json()["access_token"]
        return self._token

    def get(self, path: str, auth: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        return self.session.get(self.url + path, headers=headers, timeout=60)

    def analyzer(self) -> str:
        a = self.get("/api/health", auth=False).json().get("analyzer", {})
        return f"{a.get('engine')} {a.get('model_version')}"

    def stop(self) -> None:
        if self.process.poll() is None:
            stop_process(self.process, 15)
        self.session.close()


def time_requests(fn: Callable[[], Any], count: int, warmup: int = 10) -> list[float]:
    """Seconds per call of fn (which must raise or return a response with .status_code 200)."""
    for _ in range(warmup):
        check_ok(fn())
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = fn()
        samples.append(time.perf_counter() - started)
        check_ok(response)
    return samples


REQUEST_LINE = re.compile(r" (GET|POST|PATCH|PUT|DELETE) (\S+) (\d{3}) ([\d.]+)ms$")


def server_times(data_dir: Path) -> dict[str, list[float]]:
    """Server-side milliseconds per request from the service's request log (one line per request, in order),
    keyed 'METHOD path' with the phone of /api/customers/<phone> written as {phone}."""
    out: dict[str, list[float]] = {}
    for log_file in sorted((Path(data_dir) / "logs").glob("agent.log*"), reverse=True):
        for line in log_file.open(encoding="utf-8", errors="replace"):
            m = REQUEST_LINE.search(line.rstrip("\n"))
            if m:
                path = re.sub(r"^/api/customers/[^/]+$", "/api/customers/{phone}", m.group(2))
                out.setdefault(f"{m.group(1)} {path}", []).append(float(m.group(4)) / 1000)
    return out


def check_ok(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text[:300]}")


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- wrk ----------------------------------------------------------------------------------------------


def run_wrk(url: str, script: Path, *, threads: int, connections: int, duration_s: float,
            args: tuple[str, ...] = (), timeout_s: int = 5) -> dict[str, Any]:
    """Run wrk with a Lua script whose done() prints one line 'WRK_RESULT {json}'; return that dict."""
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
           f"--timeout={timeout_s}s", "--latency",
           "-s", str(script), url]
    if args:
        cmd += ["--", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            result = json.loads(line[len("WRK_RESULT "):])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def wrk_errors(result: dict[str, Any]) -> int:
    """Socket errors plus every response that was not 2xx."""
    e = result["errors"]
    socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
    return socket_errors + result["non2xx"]


# -- the reference echo server ------------------------------------------------------------------------


def echo_server_main(argv: list[str]) -> int:
    """A bare Bottle app on gevent pywsgi: POST /echo parses the JSON body and returns it as JSON."""
    from gevent import monkey

    monkey.patch_all()
    import socket

    import bottle
    from gevent.pywsgi import WSGIServer

    nodelay = "--no-nodelay" not in argv
    app = bottle.Bottle()

    @app.post("/echo")
    def echo() -> bytes:
        body = json.loads(bottle.request.body.read())
        bottle.response.content_type = "application/json"
        return json.dumps({"id": 1, "duplicate": False, "echo": body}, ensure_ascii=False).encode("utf-8")

    class Server(WSGIServer):
        # handle() runs for every accepted connection. (gevent calls wrap_socket_and_handle() only when the
        # server has ssl_args, so setting the option there would never run on a plain-HTTP server.)
        def handle(self, client_socket, address):
            if nodelay:
                client_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().handle(client_socket, address)

    server = Server(("127.0.0.1", 0), app, log=None, spawn=1000)
    server.start()
    print(f"echo listening on {server.server_port} nodelay={nodelay}", flush=True)
    server.serve_forever()
    return 0


class EchoServer:
    def __init__(self, nodelay: bool = True) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "echo-server"] + ([] if nodelay else ["--no-nodelay"])
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        line = self.process.stdout.readline()
        m = re.search(r"echo listening on (\d+)", line)
        if not m:
            self.process.kill()
            raise RuntimeError(f"echo server failed: {line}{self.process.stdout.read()}")
        self.port = int(m.group(1))
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen, grace_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited after grace_s."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pump_tk(root: Any, predicate: Callable[[], Any], timeout: float, what: str, interval_s: float = 0.002) -> Any:
    """Run Tk's loop until predicate() is truthy (returned); RuntimeError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval_s)


def median(values: list[float]) -> float:
    return statistics.median(values)


if __name__ == "__main__":
    if sys.argv[1:2] == ["echo-server"]:
        sys.exit(echo_server_main(sys.argv[2:]))
    print(__doc__)
    sys.exit(2)
