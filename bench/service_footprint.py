"""Idle memory and cold start of the real service.

    python bench/service_footprint.py [--runs 5]

- cold start: spawn `agent.py serve --port 0 --data-dir <fresh dir>` and poll GET /api/health every 5 ms
  until the first 200 (first start: creates the database, the secrets and the admin user). Median of
  --runs runs, each with a fresh data directory. Target: <= 2 s.
- idle RSS: after a start, a login and a few requests (health, dashboard, one capture, message list),
  then 3 s of settling, the service process's RSS (psutil). Target: <= 70 MB (issue 17).
- baseline in the same run: `python -c "import gevent, bottle"` (spawn to the imports done, and the RSS
  of that process) — the floor any gevent + Bottle service starts from.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Service, agent_command, header, remove, stop_process, target_line, temp_dir

TARGET_RSS_MB = 70.0  # issue 17 (was 80)
TARGET_START_S = 2.0
SETTLE_S = 3.0


def cold_start(data_dir: Path) -> tuple[float, float]:
    """(seconds from spawn to the port line, seconds from spawn to the first 200 from /api/health)."""
    import re
    import socket

    started = time.perf_counter()
    process = subprocess.Popen([*agent_command(), "serve", "--port", "0", "--data-dir", str(data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        port = None
        while port is None:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("service exited before listening")
            if m := re.search(r"listening on http://[^:]+:(\d+)", line):
                port = int(m.group(1))
        announced = time.perf_counter() - started
        request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(request)
                    head = sock.recv(64)
                if head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    return announced, time.perf_counter() - started
            except OSError:
                pass
            if time.perf_counter() - started > 60:
                raise RuntimeError("no healthy answer within 60 s")
            time.sleep(0.005)
    finally:
        stop_process(process)


def baseline_process() -> tuple[float, float]:
    """(seconds from spawn to 'import gevent, bottle' done, its RSS in MB)."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", "import gevent, bottle, sys, time; print('ready', flush=True); "
                                "sys.stdin.read()"], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    try:
        process.stdout.readline()
        ready = time.perf_counter() - started
        time.sleep(0.5)
        rss = psutil.Process(process.pid).memory_info().rss / 2**20
        return ready, rss
    finally:
        process.stdin.close()
        process.wait(10)


def idle_rss() -> tuple[float, float, str]:
    """(RSS MB right after the requests, RSS MB after settling, analyzer)."""
    import psutil

    data_dir = temp_dir("crm-bench-footprint-")
    service = Service(data_dir)
    try:
        analyzer = service.analyzer()
        token = service.token()
        headers = {"Authorization": f"Bearer {token}"}
        s = service.session
        for path in ("/api/health", "/api/metrics/dashboard", "/api/messages?limit=50", "/api/customers"):
            s.get(service.url + path, headers=headers, timeout=30).raise_for_status()
        r = s.post(service.url + "/api/messages/capture", headers=headers, timeout=30, json={
            "message_id": "wamid.FOOTPRINT1", "chat_id": "5511999990000@c.us", "phone": "+55 11 99999-0000",
            "name": "Maria Silva", "content": "Oi, quanto custa o plano mensal?", "type": "text", "direction": "in",
            "timestamp": int(time.time() * 1000)})
        r.raise_for_status()
        proc = psutil.Process(service.pid)
        after = proc.memory_info().rss / 2**20
        time.sleep(SETTLE_S)
        settled = proc.memory_info().rss / 2**20
        children = proc.children(recursive=True)
        if children:
            analyzer += f" (+{len(children)} child processes: " + ", ".join(
                f"{c.pid} {c.memory_info().rss / 2**20:.0f} MB" for c in children) + ")"
        return after, settled, analyzer
    finally:
        service.stop()
        remove(data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args(argv)
    header("footprint: idle RSS and cold start")

    base = [baseline_process() for _ in range(opts.runs)]
    base_start = statistics.median(b[0] for b in base)
    base_rss = statistics.median(b[1] for b in base)

    starts = []
    for _ in range(opts.runs):
        data_dir = temp_dir("crm-bench-coldstart-")
        try:
            starts.append(cold_start(data_dir))
        finally:
            remove(data_dir)
    announce = statistics.median(s[0] for s in starts)
    healthy = statistics.median(s[1] for s in starts)

    after, settled, analyzer = idle_rss()
    print(f"   analyzer: {analyzer}; load average {os.getloadavg()[0]:.2f}")
    print(f"   baseline `python -c 'import gevent, bottle'`: start {base_start * 1000:.0f} ms (median of {opts.runs}), "
          f"RSS {base_rss:.1f} MB")
    print("   cold start, fresh data dir, spawn -> first 200 /api/health: "
          + ", ".join(f"{s[1] * 1000:.0f}" for s in starts) + " ms; median "
          f"{healthy * 1000:.0f} ms (port announced at {announce * 1000:.0f} ms); {healthy / base_start:.1f}x baseline")
    print(f"   idle RSS: {after:.1f} MB after the requests, {settled:.1f} MB after {SETTLE_S:g} s idle; "
          f"{settled / base_rss:.1f}x baseline (+{settled - base_rss:.1f} MB)")
    print(target_line("idle RSS", f"{settled:.1f} MB", f"<= {TARGET_RSS_MB:g} MB", settled <= TARGET_RSS_MB))
    print(target_line("cold start (median)", f"{healthy:.2f} s", f"<= {TARGET_START_S:g} s", healthy <= TARGET_START_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
