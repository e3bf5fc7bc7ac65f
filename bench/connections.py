"""GET /api/health while idle and slowloris connections are held: the service's connection limits at work.

    python bench/connections.py [--idle 1000] [--slowloris 200] [--seconds 8]

- baseline: GET /api/health on a fresh connection every 50 ms for --seconds, nothing else connected.
- held: --idle connections that send nothing and --slowloris ones that trickle request headers one byte a
  second are opened and held (the issue's attack); the same health requests for --seconds.
- reconnecting: the same, but every connection the service closes (to make room, or at a timeout) is opened
  again at once, so the attack stays above the cap and the service evicts all the time.
- service RSS (psutil) before the attack, at the end of each phase and 3 s after the attack ends.
Default configuration (server.max_connections 1000, header timeout 10 s): 1,200 connections exceed the cap,
so the service closes the longest-waiting ones to answer. Target: health p99 <= 100 ms under attack.
"""

from __future__ import annotations

import argparse
import resource
import selectors
import socket
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Service, fmt_ms, header, percentiles, remove, target_line, temp_dir

TARGET_P99_S = 0.100
INTERVAL_S = 0.05
SLOWLORIS_HEADERS = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100_000


def health_latency(port: int) -> float:
    """Seconds from connect to the whole 200 answer of GET /api/health on a fresh connection."""
    request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    elapsed = time.perf_counter() - started
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"health answered {data[:80]!r}")
    return elapsed


def health_samples(port: int, seconds: float) -> tuple[list[float], int]:
    samples, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            samples.append(health_latency(port))
        except (OSError, RuntimeError):
            failures += 1
        time.sleep(INTERVAL_S)
    return samples, failures


class Attack:
    """Idle and slowloris connections held open; with reopen set, kept at their number by opening a new one
    for each the service closes."""

    def __init__(self, port: int, idle: int, slowloris: int) -> None:
        self.port = port
        self.wanted = {False: idle, True: slowloris}  # by "trickles its headers"
        self.reopen = False
        self.selector = selectors.DefaultSelector()
        self.position = 0  # how far into SLOWLORIS_HEADERS every slowloris connection is (they keep in step)
        self.closed_by_service = 0
        self.failed_connects = 0
        self.stop = threading.Event()
        self._top_up()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _top_up(self) -> None:
        for trickle, wanted in self.wanted.items():
            for _ in range(wanted - self._count(trickle)):
                self._open(trickle)

    def _count(self, trickle: bool) -> int:
        return sum(1 for key in self.selector.get_map().values() if key.data is trickle)

    def _open(self, trickle: bool) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
        except OSError:
            self.failed_connects += 1
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, trickle)

    def _run(self) -> None:
        next_byte = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):  # readable: the service answered or closed it
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                self.closed_by_service += 1
            if self.reopen:
                self._top_up()
            if time.monotonic() >= next_byte:
                self._trickle()
                next_byte += 1.0

    def _trickle(self) -> None:
        byte = SLOWLORIS_HEADERS[self.position % len(SLOWLORIS_HEADERS):][:1]
        self.position += 1
        for key in list(self.selector.get_map().values()):
            if key.data:
                try:
                    key.fileobj.send(byte)
                except OSError:
                    pass  # the selector sees it closed next round

    @property
    def held(self) -> int:
        return len(self.selector.get_map())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def summary(label: str, samples: list[float], failures: int) -> str:
    if not samples:
        return f"   {label:<28} no answer  failed={failures}"
    p = percentiles(samples, (50, 99))
    return (f"   {label:<28} p50 {fmt_ms(p[50]):>10}  p99 {fmt_ms(p[99]):>10}  max {fmt_ms(max(samples)):>10}"
            f"  n={len(samples)} failed={failures}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + args.slowloris + 512)), hard))

    header(f"health under {args.idle} idle + {args.slowloris} slowloris connections")
    data_dir = temp_dir("bench-connections-")
    service = Service(data_dir, config={"ai": {"llm_enabled": False}})
    mb = 1024 * 1024
    try:
        process = psutil.Process(service.pid)
        print(f"   service open-files limit {process.rlimit(psutil.RLIMIT_NOFILE)[0]}; default limits "
              f"(server.max_connections 1000, header timeout 10 s); a fresh connection per health request")
        baseline = health_samples(service.port, args.seconds)
        rss = {"before": process.memory_info().rss}
        attack = Attack(service.port, args.idle, args.slowloris)
        time.sleep(2)
        opened = attack.held
        held = health_samples(service.port, args.seconds)
        rss["held"] = process.memory_info().rss
        print(f"   held: {opened} connections open after 2 s; the service closed {attack.closed_by_service} "
              f"of them by the end ({attack.failed_connects} connects failed)")
        closed_before = attack.closed_by_service
        attack.reopen = True
        reconnecting = health_samples(service.port, args.seconds)
        rss["reconnecting"] = process.memory_info().rss
        print(f"   reconnecting: the service closed {attack.closed_by_service - closed_before} connections in "
              f"{args.seconds:g} s, each reopened at once; {attack.held} open at the end")
        attack.close()
        time.sleep(3)
        rss["after"] = process.memory_info().rss
        print(summary("baseline (no attack)", *baseline))
        print(summary("held attack", *held))
        print(summary("reconnecting attack", *reconnecting))
        print("   service RSS: " + ", ".join(f"{name} {value / mb:.1f} MB" for name, value in rss.items()))
        samples, failures = held
        p99 = percentiles(samples, (99,))[99] if samples else float("inf")
        print(target_line("health p99, held attack (the issue's)", fmt_ms(p99), "<= 100 ms",
                          p99 <= TARGET_P99_S and failures == 0))
        # No target for a connect flood: it is a race for the CPU with whoever reconnects fastest.
        if reconnecting[0]:
            print(f"   {'health p99, reconnecting attack':<44} "
                  f"{fmt_ms(percentiles(reconnecting[0], (99,))[99]):>14}   (figure)")
        return 0
    finally:
        service.stop()
        remove(data_dir)


if __name__ == "__main__":
    sys.exit(main())
