"""Release smoke test of the one-file binary (driven by scripts/release-smoke.sh).

Runs the built CRM-Agent the way a user does: copied into a fresh directory with no source tree, started
with a clean environment (env -i; only PATH=/usr/bin:/bin, HOME, DISPLAY, TMPDIR). Checks every mode a
release needs, with the real parts: the CLI (init, config, user add/list, autostart, backup now/restore),
the service becomes healthy, a captured message comes back analysed by the built-in analyzer (in the
frozen rules-worker) and then by llama.cpp in the binary's own ai-worker (the bundled Gemma model through
ai.model_path), the desktop agent starts its service under Xvfb, and `ui logs` and `ui dashboard` (its
matplotlib charts on Tk) open their windows. Prints the binary's size and the cold start to
healthy, and writes them to <work>/summary.json. Exit status 0 only when every check passed.

  python scripts/release_smoke.py --binary dist/CRM-Agent --model /path/to/model.gguf [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import requests

LISTENING = re.compile(r"listening on http://[^:]+:(\d+)")
PASSWORD = secrets.token_urlsafe(16)  # a fresh one per run
MESSAGE = {
    "chat_id": "5511999990000@c.us",
    "phone": "+55 11 99999-0000",
    "name": "Maria Silva",
    "content": "O pedido chegou quebrado, quero meu dinheiro de volta",
    "type": "text",
    "direction": "in",
}


class SmokeFailure(AssertionError):
    pass


def check(condition: object, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)
    print(f"  ok: {what}", flush=True)


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


class Binary:
    """The copied binary, always run from the work directory with a clean environment."""

    def __init__(self, path: Path, work: Path, display: str | None = None) -> None:
        self.path = path
        self.work = work
        self.display = display

    def env(self) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.work / "home"), "TMPDIR": str(self.work / "tmp")}
        if self.display:
            env["DISPLAY"] = self.display
        return env

    def argv(self, *args: str) -> list[str]:
        # env -i as the user's shell would not: nothing from this (virtualenv'd) process leaks in.
        return ["env", "-i", *(f"{k}={v}" for k, v in self.env().items()), str(self.path), *args]

    def run(self, *args: str, stdin: str | None = None, timeout_s: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), cwd=self.work, input=stdin, capture_output=True, text=True,
                              timeout=timeout_s)

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        with log.open("w") as out:
            return subprocess.Popen(self.argv(*args), cwd=self.work, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(proc: subprocess.Popen, timeout_s: float = 15) -> int:
    """SIGTERM the process group, wait; returns the exit code (negative = killed by that signal)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def port_from_log(log: Path) -> int | None:
    match = LISTENING.search(log.read_text(errors="replace"))
    return int(match.group(1)) if match else None


def health(port: int) -> dict[str, Any] | None:
    try:
        r = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    except requests.RequestException:
        return None
    return r.json() if r.status_code == 200 else None


@contextmanager
def running_service(binary: Binary, data_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen, int, float]]:
    """`CRM-Agent serve --port 0`; yields (process, port, seconds from spawn to a healthy answer)."""
    started = time.monotonic()
    proc = binary.start("serve", "--port", "0", "--data-dir", str(data_dir), log=log)
    try:
        def healthy_port() -> int | None:
            if proc.poll() is not None:
                raise SmokeFailure(f"service exited with {proc.returncode}: {log.read_text(errors='replace')}")
            port = port_from_log(log)
            return port if port and (health(port) or {}).get("status") in ("ok", "degraded") else None

        port = wait_for(healthy_port, 120, "the service to answer /api/health")
        yield proc, port, time.monotonic() - started
    finally:
        code = stop(proc)
        if code not in (0, -signal.SIGTERM):
            raise SmokeFailure(f"service exited with {code} on SIGTERM (a crash?): {log.read_text(errors='replace')}")


def login(port: int, username: str, password: str) -> str:
    r = requests.post(f"http://127.0.0.1:{port}/api/auth/login", json={"username": username, "password": password},
                      timeout=10)
    check(r.status_code == 200, f"login as {username!r} with the password given to `user add` ({r.status_code})")
    return r.json()["access_token"]


def api(port: int, token: str, method: str, path: str, timeout_s: float = 30, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=timeout_s, **kwargs)


def capture(port: int, token: str, content: str) -> dict[str, Any]:
    body = {**MESSAGE, "content": content, "message_id": f"wamid.SMOKE{time.time_ns()}",
            "timestamp": int(time.time() * 1000)}
    r = api(port, token, "POST", "/api/messages/capture", json=body)
    check(r.status_code == 201, f"capture answered 201 ({r.status_code} {r.text[:200]})")
    return r.json()


def process_maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def system_copies_of_bundled_libraries(pid: int) -> list[str]:
    """Libraries a process mapped from outside its bundle although the bundle ships them (by soname)."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    bundle = next(v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"_PYI_APPLICATION_HOME_DIR="))
    shipped = [name for name in os.listdir(bundle) if ".so" in name]
    mapped = {line.split()[-1] for line in process_maps(pid).splitlines() if ".so" in line.split()[-1]}
    return sorted(path for path in mapped if not path.startswith(bundle)
                  and any(Path(path).name.startswith(name) for name in shipped))


def check_cli(binary: Binary, data_dir: Path) -> None:
    print("CLI modes", flush=True)
    for args in (("init", "--data-dir", str(data_dir)), ("config", "check", "--data-dir", str(data_dir))):
        out = binary.run(*args)
        check(out.returncode == 0, f"`CRM-Agent {' '.join(args[:2])}` exits 0 ({out.stderr.strip()[-300:]})")
    out = binary.run("user", "add", "smoke", "--role", "admin", "--password-stdin", "--data-dir", str(data_dir),
                     stdin=PASSWORD + "\n")
    check(out.returncode == 0 and "created user 'smoke'" in out.stdout, f"`CRM-Agent user add` ({out.stdout}"
                                                                        f"{out.stderr.strip()[-300:]})")
    out = binary.run("user", "list", "--data-dir", str(data_dir))
    check("smoke\tadmin\tactive" in out.stdout, "`CRM-Agent user list` shows the new user")
    check_sync_modes(binary, data_dir)
    check_autostart(binary)


def check_sync_modes(binary: Binary, data_dir: Path) -> None:
    """The sync modes run frozen: status of an unconfigured agent, `sync now` refusing clearly, and the hub's
    PostgreSQL driver loaded (a refused connection is psycopg2's answer, not an ImportError)."""
    out = binary.run("sync", "status", "--data-dir", str(data_dir))
    check(out.returncode == 0 and json.loads(out.stdout).get("state") == "disabled",
          f"`CRM-Agent sync status` reports sync disabled ({out.stdout.strip()[:200]}{out.stderr.strip()[-300:]})")
    out = binary.run("sync", "now", "--data-dir", str(data_dir))
    check(out.returncode == 1 and "not configured" in out.stderr,
          f"`CRM-Agent sync now` refuses clearly without a hub ({out.stderr.strip()[-300:]})")
    out = binary.run("hub", "agent-list", "--db", "postgresql://smoke@127.0.0.1:1/hub")
    check(out.returncode == 1 and out.stderr.startswith("cannot open the database:") and "refused" in out.stderr,
          f"`CRM-Agent hub agent-list` reaches PostgreSQL's driver ({out.stderr.strip()[-300:]})")


def check_autostart(binary: Binary) -> None:
    entry = binary.work / "home" / ".config" / "autostart" / "crm-agent.desktop"
    out = binary.run("autostart", "on")
    check(out.returncode == 0 and entry.is_file(), f"`CRM-Agent autostart on` wrote {entry} ({out.stderr[-300:]})")
    text = entry.read_text()
    icon = Path(re.search(r"^Icon=(.*)$", text, re.M).group(1))
    check(f"Exec={binary.path}\n" in text, "the entry starts the binary itself")
    check(icon.is_file() and "_MEI" not in str(icon), f"its icon {icon} outlives the binary's temporary files")
    out = binary.run("autostart", "off")
    check(out.returncode == 0 and not entry.exists(), "`CRM-Agent autostart off` removed it")


def check_service(binary: Binary, data_dir: Path, model: Path, logs: Path, figures: dict[str, Any]) -> None:
    print("service (first start of a new data directory)", flush=True)
    with running_service(binary, data_dir, logs / "serve-1.log") as (_, port, seconds):
        figures["cold_start_first_s"] = round(seconds, 2)
        check(True, f"healthy {seconds:.2f} s after the start (first start: migrations, keys)")
        token = login(port, "smoke", PASSWORD)
        created = capture(port, token, MESSAGE["content"])
        analysis = created["analysis"]
        check(analysis["engine"] == "rules" and analysis["sentiment"], f"built-in analysis at capture: {analysis}")
        check_llm_follow_up(port, token, created["id"], model, figures)
        answer = api(port, token, "POST", "/api/analysis/generate", timeout_s=300,
                     json={"text": "Quero cancelar minha assinatura agora", "engine": "llm"}).json()
        check(answer.get("engine") == "llm" and "fallback" not in answer,
              f"/api/analysis/generate engine=llm answered by llama.cpp, no fallback ({answer})")
        ai = health(port)["ai"]
        check(ai["restarts"] == 0 and ai["jobs_failed"] == 0, f"the ai-worker never crashed or failed ({ai})")
        check(ai["rules_worker"]["pid"] and ai["rules_worker"]["batches_in_worker"] >= 1,
              f"captures analysed by the frozen rules-worker ({ai['rules_worker']})")
        for name, pid in (("rules-worker", ai["rules_worker"]["pid"]), ("ai-worker", ai["pid"])):
            strays = system_copies_of_bundled_libraries(pid)
            check(not strays, f"the {name} loads the bundled libraries, not the system's copies ({strays})")
        check_backup_and_restore(binary, data_dir, port, token)
    print("service (restarts of the same data directory)", flush=True)
    restarts = []
    for number in (2, 3, 4):
        with running_service(binary, data_dir, logs / f"serve-{number}.log") as (_, port, seconds):
            restarts.append(round(seconds, 2))
            check(True, f"healthy {seconds:.2f} s after the start")
    figures["cold_start_s"] = sorted(restarts)[1]  # the median of three
    figures["cold_start_runs_s"] = restarts


def message_total(port: int, token: str) -> int:
    return api(port, token, "GET", "/api/messages").json()["total"]


def check_backup_and_restore(binary: Binary, data_dir: Path, port: int, token: str) -> None:
    backup = binary.run("backup", "now", "--data-dir", str(data_dir))
    check(backup.returncode == 0 and "verified" in backup.stdout, f"`CRM-Agent backup now` while serving "
                                                                  f"({backup.stdout.strip()}{backup.stderr[-300:]})")
    saved = message_total(port, token)
    capture(port, token, "Mais uma mensagem depois do backup")
    check(message_total(port, token) == saved + 1, "one more message after the backup")
    # The size is in the user's number format ("335,872", "335.872"): only the path matters here.
    path = re.search(r"verified: (.+) \([\d.,\s]+ bytes\)", backup.stdout).group(1)
    restore = binary.run("backup", "restore", path, "--data-dir", str(data_dir), timeout_s=300)
    check(restore.returncode == 0, f"`CRM-Agent backup restore` through the running service "
                                   f"({restore.stdout.strip()[-300:]}{restore.stderr[-300:]})")
    wait_for(lambda: message_total(port, token) == saved, 30, "the restored database to be served")
    check(True, f"the service serves the restored database ({saved} messages, the later one gone)")


def check_llm_follow_up(port: int, token: str, message_id: int, model: Path, figures: dict[str, Any]) -> None:
    started = time.monotonic()

    def llm_analysis() -> dict[str, Any] | None:
        found = api(port, token, "GET", f"/api/messages/{message_id}").json()["analysis"]
        return found if found and found["engine"] == "llm" else None

    analysis = wait_for(llm_analysis, 300, "the LLM follow-up analysis of the captured message", 0.2)
    figures["llm_follow_up_s"] = round(time.monotonic() - started, 2)
    check(True, f"the captured message came back analysed by the LLM in {figures['llm_follow_up_s']} s: "
                f"{analysis}")
    ai = health(port)["ai"]
    check(ai["model_path"] == str(model), f"the worker loaded ai.model_path {model}")
    worker = psutil.Process(ai["pid"])
    binary = Path(os.environ["SMOKE_BINARY"])
    check(Path(worker.exe()) == binary and worker.cmdline()[1:2] == ["ai-worker"],
          f"the ai-worker (pid {worker.pid}) is the frozen binary itself: {worker.exe()} {worker.cmdline()[1:2]}")
    # A one-file program runs as two processes (the bootloader and the Python it starts): look in both.
    libraries = {line.split()[-1] for proc in (worker, *worker.children(recursive=True))
                 for line in process_maps(proc.pid).splitlines() if "libllama" in line}
    check(libraries and all("/_MEI" in lib for lib in libraries),
          f"llama.cpp loaded from the binary's own bundle ({sorted(libraries)})")


def check_desktop(binary: Binary, data_dir: Path, logs: Path) -> None:
    print("desktop agent under Xvfb (tray + supervised service)", flush=True)
    log = logs / "desktop.log"
    port = free_port()
    proc = binary.start("--data-dir", str(data_dir), "--port", str(port), log=log)
    try:
        wait_for(lambda: proc.poll() is None and health(port), 120, "the desktop agent's service to be healthy")
        check(proc.poll() is None, f"the tray runs and its service answers on port {port}")
    finally:
        code = stop(proc)
    check(code in (0, -signal.SIGTERM), f"the desktop agent quit cleanly on SIGTERM ({code})")
    wait_for(lambda: not health(port), 15, "the service to stop with the tray")
    check(True, "its service stopped with it")


def check_window(binary: Binary, data_dir: Path, logs: Path, window: str, title: str) -> None:  # title: regex
    """`CRM-Agent ui <window>` against the running service: its window is mapped and the process keeps running
    (no module or data file missing when it loads its data)."""
    print(f"ui {window} under Xvfb", flush=True)
    with running_service(binary, data_dir, logs / f"serve-ui-{window}.log"):
        log = logs / f"ui-{window}.log"
        proc = binary.start("ui", window, "--data-dir", str(data_dir), log=log)
        try:
            def window_shown() -> bool:
                if proc.poll() is not None:
                    raise SmokeFailure(f"`ui {window}` exited with {proc.returncode}: {log.read_text()}")
                found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                                       env={"DISPLAY": binary.display or ""}, capture_output=True, text=True,
                                       timeout=10)
                return found.returncode == 0 and found.stdout.strip()

            started = time.monotonic()
            wait_for(window_shown, 120, f"the {window} window to be mapped", 0.1)
            check(True, f"`CRM-Agent ui {window}` mapped its window {title!r} in {time.monotonic() - started:.1f} s")
            time.sleep(3)  # let it load its data from the service
            check(proc.poll() is None and "Traceback" not in log.read_text(errors="replace"),
                  f"the {window} window is still running, no traceback ({log.read_text(errors='replace')[-500:]})")
        finally:
            stop(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def xvfb() -> Iterator[str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            raise SmokeFailure("Xvfb did not start")
        yield f":{int(number)}"
    finally:
        proc.terminate()
        proc.wait(10)


def prepare(binary: Path, work: Path) -> Path:
    """Copy the binary into a fresh directory that holds nothing else."""
    for sub in ("bin", "home", "tmp", "logs"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    copy = work / "bin" / binary.name
    shutil.copy2(binary, copy)
    return copy


def write_config(data_dir: Path, model: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.json").write_text(json.dumps({"ai": {"model_path": str(model), "job_timeout_s": 120}}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="a GGUF file (the assembled bundled model)")
    parser.add_argument("--work", type=Path, help="empty directory to run in (default: a new temporary one)")
    args = parser.parse_args(argv)
    # Killed (a CI timeout): unwind through the `finally` blocks so no service, tray or Xvfb is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = (args.work or Path(tempfile.mkdtemp(prefix="crm-agent-release-"))).resolve()
    copy = prepare(args.binary.resolve(), work)
    os.environ["SMOKE_BINARY"] = str(copy)
    model = args.model.resolve()
    size = copy.stat().st_size
    figures: dict[str, Any] = {"binary_bytes": size, "binary_mb": round(size / 1e6, 1), "work": str(work)}
    print(f"release smoke test of {copy} ({figures['binary_mb']} MB) in {work}", flush=True)
    data_dir = work / "data"
    write_config(data_dir, model)
    try:
        with xvfb() as display:
            binary = Binary(copy, work, display)
            check_cli(Binary(copy, work), data_dir)
            check_service(Binary(copy, work), data_dir, model, work / "logs", figures)
            check_desktop(binary, work / "desktop-data", work / "logs")
            # A pattern, not the title: xdotool compares bytes in the C locale, and the titles hold an em dash.
            check_window(binary, data_dir, work / "logs", "logs", "^CRM Agent .* Logs$")
            check_window(binary, data_dir, work / "logs", "dashboard", "^CRM Agent .* Dashboard$")
    except SmokeFailure as exc:
        print(f"FAILED: {exc}", flush=True)
        print(f"(logs in {work / 'logs'})", flush=True)
        return 1
    (work / "summary.json").write_text(json.dumps(figures, indent=2))
    print("release smoke test passed: " + json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
