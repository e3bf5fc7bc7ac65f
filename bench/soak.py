"""Soak: the service under a realistic mixed load for a set time; memory, open files, latency over time, errors.

    python bench/soak.py [--minutes 3] [--json out.json] [--no-hub] [--llm]

The load, all at once against one agent service (`agent.py serve`, a fresh data directory):
- 3 browser extensions, each paired through the real pairing flow with its own Origin and token: single
  captures at about --rate per second each (random gaps), a history batch of 20-200 messages every 20-40 s,
  the panel's GET /api/extension/chat every 5 s; every capture not answered 2xx is resent (same message_id);
- 2 WebSocket clients (the tray and a window) on the local token, reading every event;
- the dashboard window's polling every 2 s: dashboard figures, system samples, the newest messages, a customer
  search, sync status, backups;
- the automatic backup job every --backup-interval-s (the first one 60 s after start, as the job does);
- sync to a team hub every --sync-interval-s: a hub (`agent.py serve --hub`) on a private PostgreSQL cluster
  (tests/postgres.py); without PostgreSQL binaries that part is skipped with the reason printed.

Measured: the service process's RSS and open files (psutil) every --sample-s, their least-squares slope after
the warm-up in MB/hour and fds/hour; client-observed p99 per route in --windows equal time windows; errors
(any answer that is not 2xx, any request that failed, a WebSocket that dropped, a sync round or a backup that
failed). Baseline in the same run: an idle service (same version, own data directory, no load) sampled the
same way, and each route's first-window p99.
Goals: 0 errors; RSS slope < 5 MB/hour after the warm-up; no fd growth (the fewest open files in the last fifth
of the samples is not above the most in the first fifth after the warm-up); each route's last-window p99 within
2x its first window's plus 10 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import requests
import websocket

from bench._common import header, percentiles, remove, temp_dir
from runtime.jobs import FIRST_MAINTENANCE_DELAY_S
from tests.helpers import RunningService, start_service
from tests.pairing_helpers import as_extension, pair

RSS_GOAL_MB_PER_H = 5.0
EXTENSION_ORIGINS = tuple("chrome-extension://" + letters * 2 for letters in
                          ("abcdefghijklmnop", "bcdefghijklmnopa", "cdefghijklmnopab"))


# -- what the clients saw ---------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Every request's latency by route, every error, every WebSocket event; thread-safe."""

    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)  # the services' memory reports carry wall time
    latencies: list[tuple[float, str, float]] = field(default_factory=list)  # (t since start, route, seconds)
    errors: list[tuple[float, str]] = field(default_factory=list)
    events: Counter = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)  # message_ids answered 2xx
    first_backup_at: float | None = None  # seconds since start of the first backup.completed event
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append((self.now(), what))

    def request(self, session: requests.Session, method: str, url: str, route: str,
                **kwargs: Any) -> requests.Response | None:
        """One timed request; anything but a 2xx answer is an error (returned as None when there was no answer)."""
        started = time.perf_counter()
        try:
            response = session.request(method, url, timeout=30, **kwargs)
        except requests.RequestException as exc:
            self.error(f"{route}: {type(exc).__name__}")
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append((self.now(), route, elapsed))
        if not 200 <= response.status_code < 300:
            self.error(f"{route}: {response.status_code} {response.text[:120]}")
        return response


def wait_or_stop(stop: threading.Event, seconds: float) -> bool:
    """Sleep, waking at once when the run ends; True when it ended."""
    return stop.wait(max(0.0, seconds))


# -- the load ---------------------------------------------------------------------------------------------------


def capture_body(extension: int, n: int, rng: random.Random) -> dict[str, Any]:
    chat = rng.randrange(300)
    texts = ("Oi, quanto custa o plano mensal?", "Obrigado, vou pensar e te aviso amanhã.",
             "Hi, is the premium plan still on sale?", "¿Tienen envío a Guadalajara?", "O pedido chegou quebrado!!")
    return {"message_id": f"wamid.soak.{extension}.{n}", "chat_id": f"55{extension + 1}1{chat:08d}@c.us",
            "phone": f"+55 {extension + 1}1 9{chat:04d}-{chat:04d}", "name": f"Cliente {extension}-{chat}",
            "content": rng.choice(texts) + f" ({n})", "type": "text",
            "direction": "in" if rng.random() < 0.6 else "out", "timestamp": int(time.time() * 1000)}


def extension_load(url: str, token: str, origin: str, number: int, rate: float, rec: Recorder,
                   stop: threading.Event) -> None:
    """One browser extension: single captures, history batches, the panel's chat request; resend until 2xx."""
    rng = random.Random(number)
    session = requests.Session()
    headers = as_extension(token, origin)
    pending: list[dict[str, Any]] = []  # not answered 2xx yet: sent again, oldest first
    sent = 0

    def new_bodies(count: int) -> list[dict[str, Any]]:
        nonlocal sent
        bodies = [capture_body(number, sent + i, rng) for i in range(count)]
        sent += count
        return bodies

    def acknowledged(body: dict[str, Any], status: int) -> bool:
        if status in (200, 201):
            with rec.lock:
                rec.acknowledged.add(body["message_id"])
            return True
        pending.append(body)
        return False

    next_batch = rec.now() + rng.uniform(20, 40)
    next_panel = rec.now() + 5
    while not wait_or_stop(stop, rng.expovariate(rate)):
        if rec.now() >= next_batch:  # a chat with history opened: its rows arrive as one batch
            next_batch = rec.now() + rng.uniform(20, 40)
            bodies = new_bodies(rng.randint(20, 200))
            response = rec.request(session, "POST", url + "/api/messages/capture/batch",
                                   "POST /api/messages/capture/batch", json={"messages": bodies}, headers=headers)
            results = response.json()["results"] if response is not None and response.status_code == 200 else []
            statuses = [r["status"] for r in results] + [0] * (len(bodies) - len(results))
            for body, status in zip(bodies, statuses, strict=True):
                if not acknowledged(body, status) and status:
                    rec.error(f"POST /api/messages/capture/batch: an item answered {status}")
        if rec.now() >= next_panel:  # the panel shows the open chat
            next_panel = rec.now() + 5
            chat_id = f"55{number + 1}1{rng.randrange(300):08d}@c.us"
            rec.request(session, "GET", url + "/api/extension/chat", "GET /api/extension/chat",
                        params={"chat_id": chat_id}, headers=headers)
        body = pending.pop(0) if pending else new_bodies(1)[0]
        response = rec.request(session, "POST", url + "/api/messages/capture", "POST /api/messages/capture",
                               json=body, headers=headers)
        acknowledged(body, response.status_code if response is not None else 0)
    session.close()


def websocket_client(port: int, token: str, name: str, rec: Recorder, stop: threading.Event) -> None:
    """A desktop client's event stream; a connection that drops is an error (it reconnects with since=)."""
    last_id: int | None = None
    while not stop.is_set():
        since = f"&since={last_id}" if last_id is not None else ""
        try:
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws?token={token}{since}", timeout=10)
        except Exception as exc:
            rec.error(f"ws {name}: connect {type(exc).__name__}")
            wait_or_stop(stop, 1)
            continue
        ws.settimeout(1)
        try:
            while not stop.is_set():
                try:
                    event = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                last_id = event.get("id", last_id)
                with rec.lock:
                    rec.events[event.get("type")] += 1
                    if event.get("type") == "backup.completed" and rec.first_backup_at is None:
                        rec.first_backup_at = rec.now()
                if event.get("type") in ("backup.failed", "events.lost"):
                    rec.error(f"ws {name}: {event.get('type')} {str(event.get('data'))[:120]}")
        except Exception as exc:
            if not stop.is_set():
                rec.error(f"ws {name}: {type(exc).__name__} {exc}")
        finally:
            ws.close()


DASHBOARD_ROUTES = (("/api/metrics/dashboard", "GET /api/metrics/dashboard"),
                    ("/api/metrics/system?limit=60", "GET /api/metrics/system"),
                    ("/api/messages?limit=50", "GET /api/messages"),
                    ("/api/customers?q=Cliente 1", "GET /api/customers?q="),
                    ("/api/sync/status", "GET /api/sync/status"),
                    ("/api/system/backups", "GET /api/system/backups"),
                    ("/api/health", "GET /api/health"))


def dashboard_poll(url: str, token: str, rec: Recorder, stop: threading.Event, sync_errors: set[str]) -> None:
    """The dashboard window's polling; a sync error or a failed backup it shows is an error of the run."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    while not wait_or_stop(stop, 2.0):
        for path, route in DASHBOARD_ROUTES:
            response = rec.request(session, "GET", url + path, route, headers=headers)
            if response is None or response.status_code != 200:
                continue
            body = response.json()
            if route == "GET /api/sync/status" and body.get("last_error") and body["last_error_at"] not in sync_errors:
                sync_errors.add(body["last_error_at"])
                rec.error(f"sync: {body['last_error'][:120]}")
            if route == "GET /api/system/backups" and body.get("last") and not body["last"].get("ok", True):
                rec.error(f"backup: {str(body['last'].get('error'))[:120]}")
    session.close()


# -- resources --------------------------------------------------------------------------------------------------


def open_files(process: psutil.Process) -> Counter:
    """What a process holds open: file names (data directory relative parts) and sockets by state."""
    held: Counter = Counter()
    try:
        for item in process.open_files():
            held[Path(item.path).name] += 1
        for connection in process.net_connections(kind="all"):
            held[f"socket {connection.status or connection.type.name}"] += 1
    except psutil.Error:
        pass
    return held


@dataclass
class Samples:
    points: dict[str, list[tuple[float, float, int]]] = field(default_factory=lambda: defaultdict(list))
    held: dict[str, Counter] = field(default_factory=dict)  # "after warm-up" / "at the end" -> what was open

    def take(self, name: str, process: psutil.Process, t: float) -> None:
        try:
            self.points[name].append((t, process.memory_info().rss / 2**20, process.num_fds()))
        except psutil.Error:
            pass


MEMORY_REPORT_EVERY_S = 30.0


def ask_memory_report(process: psutil.Process) -> None:
    """SIGUSR2: the service appends a memory report (RSS, SQLite's memory, glibc's heap) to logs/memory.jsonl
    (runtime/diagnostics.py)."""
    try:
        process.send_signal(signal.SIGUSR2)
    except psutil.Error:
        pass


def sample_resources(processes: dict[str, psutil.Process], samples: Samples, rec: Recorder, every_s: float,
                     warmup_s: float, stop: threading.Event) -> None:
    next_report = 0.0
    while True:
        for name, process in processes.items():
            samples.take(name, process, rec.now())
        if rec.now() >= next_report and hasattr(signal, "SIGUSR2"):
            for name in ("agent", "idle"):
                ask_memory_report(processes[name])
            next_report = rec.now() + MEMORY_REPORT_EVERY_S
        if rec.now() >= warmup_s and "after warm-up" not in samples.held:
            samples.held["after warm-up"] = open_files(processes["agent"])
        if wait_or_stop(stop, every_s):
            samples.held["at the end"] = open_files(processes["agent"])
            return


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


@dataclass
class Footprint:
    rss_start_mb: float
    rss_end_mb: float
    rss_slope_mb_h: float
    fds_first_max: int
    fds_last_min: int
    fds_slope_h: float

    @property
    def fd_growth(self) -> int:
        return max(0, self.fds_last_min - self.fds_first_max)


def footprint(points: list[tuple[float, float, int]], warmup_s: float) -> Footprint:
    after = [p for p in points if p[0] >= warmup_s] or points
    fifth = max(1, len(after) // 5)
    return Footprint(rss_start_mb=after[0][1], rss_end_mb=after[-1][1],
                     rss_slope_mb_h=slope_per_hour([(t, rss) for t, rss, _ in after]),
                     fds_first_max=max(f for _, _, f in after[:fifth]),
                     fds_last_min=min(f for _, _, f in after[-fifth:]),
                     fds_slope_h=slope_per_hour([(t, float(f)) for t, _, f in after]))


def memory_reports(data_dir: Path, started_at: float) -> list[dict[str, float]]:
    """The service's memory reports, as (seconds since the load started, RSS MB, SQLite's memory MB)."""
    path = data_dir / "logs" / "memory.jsonl"
    if not path.exists():
        return []
    reports = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            report = json.loads(line)
            sqlite_mb = (report.get("sqlite") or {}).get("used", 0) / 2**20
            reports.append({"t": report["t"] - started_at, "rss_mb": report["rss"] / 2**20, "sqlite_mb": sqlite_mb})
        except (ValueError, KeyError, TypeError):
            continue
    return reports


def sqlite_share(reports: list[dict[str, float]], measured_from: float) -> dict[str, float] | None:
    """How much of the RSS slope is SQLite's own memory (its page cache filling as the database grows, up to
    database.cache_mib), and the slope of the rest."""
    after = [r for r in reports if r["t"] >= measured_from]
    if len(after) < 2:
        return None
    return {"sqlite_start_mb": after[0]["sqlite_mb"], "sqlite_end_mb": after[-1]["sqlite_mb"],
            "sqlite_slope_mb_h": slope_per_hour([(r["t"], r["sqlite_mb"]) for r in after]),
            "rest_slope_mb_h": slope_per_hour([(r["t"], r["rss_mb"] - r["sqlite_mb"]) for r in after])}


# -- latency over time ------------------------------------------------------------------------------------------


def p99_by_window(latencies: list[tuple[float, str, float]], duration_s: float,
                  windows: int) -> dict[str, list[float | None]]:
    """route -> p99 in seconds per equal time window (None: no request in that window)."""
    width = duration_s / windows
    grouped: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(windows)])
    for t, route, seconds in latencies:
        grouped[route][min(windows - 1, int(t / width))].append(seconds)
    return {route: [percentiles(w, (99,))[99] if w else None for w in per_window]
            for route, per_window in sorted(grouped.items())}


# -- the run ----------------------------------------------------------------------------------------------------


@dataclass
class Hub:
    service: RunningService | None
    db_url: str | None
    stop: Callable[[], None]
    skipped: str | None = None
    cluster: Any = None


def start_hub(base: Path) -> Hub:
    from tests.postgres import start_cluster
    from tests.sync_helpers import start_hub as start_hub_service

    try:
        cluster = start_cluster()
    except (RuntimeError, OSError) as exc:
        return Hub(None, None, lambda: None, skipped=f"no PostgreSQL: {exc}")
    service, db_url = start_hub_service(cluster, base / "hub")

    def stop() -> None:
        service.stop()
        cluster.stop()

    return Hub(service, db_url, stop, cluster=cluster)


def agent_config(opts: argparse.Namespace, hub: Hub) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {"database": {"backup_interval_s": opts.backup_interval_s,
                                                      "cache_mib": opts.cache_mib},
                                         "ai": {"llm_enabled": opts.llm}}
    if hub.service is not None:
        config["sync"] = {"hub_url": hub.service.url, "interval_s": opts.sync_interval_s}
    return config


def stored_messages(data_dir: Path) -> int:
    connection = sqlite3.connect(data_dir / "crm_agent.db")
    try:
        return connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    finally:
        connection.close()


def wait_for_sync(agent: RunningService, rec: Recorder, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = agent.get("/api/sync/status", token=agent.local_token).json()
        if status.get("pending_rows") == 0 or time.monotonic() > deadline:
            return status
        agent.post("/api/sync/now", token=agent.local_token)
        time.sleep(1)


def run(opts: argparse.Namespace) -> dict[str, Any]:
    from tests.sync_helpers import add_agent, hub_query, prepare_agent

    base = temp_dir("crm-soak-")
    hub = start_hub(base) if not opts.no_hub else Hub(None, None, lambda: None, skipped="--no-hub")
    services: list[RunningService] = []
    try:
        data_dir = base / "agent"
        if hub.service is not None:
            prepare_agent(data_dir, add_agent(hub.db_url, "soak-agent"))
        agent = start_service(data_dir, config=agent_config(opts, hub), llm=opts.llm)
        services.append(agent)
        idle = start_service(base / "idle", config={"ai": {"llm_enabled": opts.llm},
                                                    "database": {"cache_mib": opts.cache_mib}}, llm=opts.llm)
        services.append(idle)
        local_token = agent.local_token
        tokens = [pair(agent.url, local_token, name=f"Soak {i}", origin=origin)["token"]
                  for i, origin in enumerate(EXTENSION_ORIGINS)]
        idle.get("/api/health", token=None)

        rec = Recorder()
        samples = Samples()
        stop = threading.Event()
        sync_errors: set[str] = set()
        processes = {"agent": psutil.Process(agent.process.pid), "idle": psutil.Process(idle.process.pid)}
        if hub.service is not None:
            processes["hub"] = psutil.Process(hub.service.process.pid)
        threads = [threading.Thread(target=sample_resources, args=(processes, samples, rec, opts.sample_s,
                                                                           opts.warmup_s, stop))]
        threads += [threading.Thread(target=extension_load, args=(agent.url, token, origin, i, opts.rate, rec, stop))
                    for i, (token, origin) in enumerate(zip(tokens, EXTENSION_ORIGINS, strict=True))]
        threads += [threading.Thread(target=websocket_client, args=(agent.port, local_token, name, rec, stop))
                    for name in ("tray", "window")]
        threads.append(threading.Thread(target=dashboard_poll, args=(agent.url, local_token, rec, stop, sync_errors)))
        for thread in threads:
            thread.daemon = True
            thread.start()
        duration_s = opts.minutes * 60
        progress_every = max(30.0, duration_s / 10)
        while not wait_or_stop(stop, min(progress_every, duration_s - rec.now())):
            if rec.now() >= duration_s - 0.01:
                break
            last = samples.points["agent"][-1] if samples.points["agent"] else (0, 0, 0)
            print(f"   t={rec.now():5.0f} s  requests={len(rec.latencies):,}  errors={len(rec.errors)}  "
                  f"agent RSS {last[1]:.1f} MB, {last[2]} fds", flush=True)
        stop.set()
        for thread in threads:
            thread.join(60)

        sync = wait_for_sync(agent, rec) if hub.service is not None else {}
        hub_messages = None
        if hub.service is not None:
            hub_messages = hub_query(hub.cluster, hub.db_url,
                                     "SELECT COUNT(*) FROM hub_rows WHERE table_name = 'messages'")[0][0]
        backups = agent.get("/api/system/backups", token=local_token).json()
        stored = stored_messages(data_dir)
        wal = (data_dir / "crm_agent.db-wal")
        result = summarise(opts, rec, samples, duration_s, hub, sync, hub_messages, backups, stored,
                           wal.stat().st_size if wal.exists() else 0)
        result["database_mb"] = (data_dir / "crm_agent.db").stat().st_size / 2**20
        result["sqlite_memory"] = sqlite_share(memory_reports(data_dir, rec.started_wall), result["measured_from_s"])
        return result
    finally:
        for service in services:
            service.stop()
        hub.stop()
        if not opts.keep:
            remove(base)
        else:
            print(f"   kept: {base}")


def summarise(opts: argparse.Namespace, rec: Recorder, samples: Samples, duration_s: float, hub: Hub,
              sync: dict[str, Any], hub_messages: int | None, backups: dict[str, Any], stored: int,
              wal_bytes: int) -> dict[str, Any]:
    errors = list(rec.errors)
    if hub_messages is not None and (sync.get("pending_rows") != 0 or hub_messages != stored):
        errors.append((rec.now(), f"sync: hub holds {hub_messages} messages of {stored}, "
                                  f"{sync.get('pending_rows')} rows pending"))
    if stored != len(rec.acknowledged):
        errors.append((rec.now(), f"stored {stored} messages, {len(rec.acknowledged)} acknowledged"))
    # The warm-up lasts until after the first backup too: its closed read-only connection leaves SQLite one
    # file descriptor it keeps (closing it would drop the process's other locks on the file) and reuses at
    # the next backup: +1 fd once, not a leak.
    measured_from = max(opts.warmup_s, (rec.first_backup_at or 0.0) + opts.sample_s)
    # The first maintenance run (runtime/jobs.py, FIRST_MAINTENANCE_DELAY_S after start) leaves SQLite one more
    # descriptor the same way, once: a run long enough to measure after it starts its slopes there.
    if duration_s >= FIRST_MAINTENANCE_DELAY_S + 600:
        measured_from = max(measured_from, FIRST_MAINTENANCE_DELAY_S + 2 * opts.sample_s)
    verified = [b for b in backups.get("items", []) if b.get("status") == "verified"]
    return {
        "minutes": opts.minutes, "cache_mib": opts.cache_mib, "warmup_s": opts.warmup_s,
        "measured_from_s": measured_from, "duration_s": duration_s,
        "requests": len(rec.latencies), "acknowledged_captures": len(rec.acknowledged), "stored_messages": stored,
        "events": dict(rec.events), "errors": [f"t={t:.0f}s {what}" for t, what in errors],
        "hub": hub.skipped or "on", "hub_messages": hub_messages, "sync_pending": sync.get("pending_rows"),
        "backups": len(backups.get("items", [])), "backups_verified": len(verified), "wal_mb": wal_bytes / 2**20,
        "footprint": {name: footprint(points, measured_from).__dict__ for name, points in samples.points.items()},
        "agent_open": {when: dict(sorted(held.items())) for when, held in samples.held.items()},
        "samples": {name: points for name, points in samples.points.items()},
        "p99_ms": {route: [None if v is None else v * 1000 for v in per_window]
                   for route, per_window in p99_by_window(rec.latencies, duration_s, opts.windows).items()},
    }


# -- the report -------------------------------------------------------------------------------------------------


def goal_line(label: str, value: str, goal: str, ok: bool) -> str:
    return f"   {label:<52} {value:>16}   goal {goal:<22} {'PASS' if ok else 'FAIL'}"


def report(result: dict[str, Any]) -> bool:
    agent, idle = result["footprint"]["agent"], result["footprint"].get("idle")
    print(f"   {result['requests']:,} requests, {result['acknowledged_captures']:,} captures acknowledged, "
          f"{result['stored_messages']:,} stored; hub: {result['hub']}"
          + (f" ({result['hub_messages']:,} messages on the hub, {result['sync_pending']} rows pending)"
             if result["hub_messages"] is not None else ""))
    print(f"   backups: {result['backups']} kept ({result['backups_verified']} verified); WAL at the end "
          f"{result['wal_mb']:.1f} MB; WebSocket events: " + ", ".join(
              f"{k} {v}" for k, v in sorted(result["events"].items())))
    print(f"   slopes from t={result['measured_from_s']:.0f} s (after the warm-up, the first backup and, in long "
          "runs, the first maintenance)")
    for name, fp in result["footprint"].items():
        print(f"   {name:<6} RSS {fp['rss_start_mb']:.1f} -> {fp['rss_end_mb']:.1f} MB after the warm-up, slope "
              f"{fp['rss_slope_mb_h']:+.1f} MB/h; fds {fp['fds_first_max']} (max, first fifth) -> "
              f"{fp['fds_last_min']} (min, last fifth), slope {fp['fds_slope_h']:+.1f}/h")
    share = result.get("sqlite_memory")
    if share:
        print(f"   agent SQLite memory {share['sqlite_start_mb']:.1f} -> {share['sqlite_end_mb']:.1f} MB "
              f"(slope {share['sqlite_slope_mb_h']:+.1f} MB/h; page cache bound {result['cache_mib']} MiB, database "
              f"{result['database_mb']:.1f} MB at the end); RSS less SQLite's memory: slope "
              f"{share['rest_slope_mb_h']:+.1f} MB/h")
    for when, held in result["agent_open"].items():
        print(f"   agent holds open {when}: " + ", ".join(f"{k} x{v}" for k, v in held.items()))
    windows = len(next(iter(result["p99_ms"].values()), []))
    width = result["duration_s"] / max(1, windows) / 60
    print(f"   client p99 in ms per {width:.1f}-minute window:")
    drift_ok = True
    for route, per_window in result["p99_ms"].items():
        cells = " ".join(f"{v:7.1f}" if v is not None else "      -" for v in per_window)
        print(f"     {route:<36} {cells}")
        seen = [v for v in per_window if v is not None]
        if len(seen) >= 2 and seen[-1] > 2 * seen[0] + 10:
            drift_ok = False
    for line in result["errors"][:20]:
        print(f"   error: {line}")
    baseline = f" (idle {idle['rss_slope_mb_h']:+.1f})" if idle else ""
    checks = [
        goal_line("errors", f"{len(result['errors'])}", "0", not result["errors"]),
        goal_line("agent RSS slope after warm-up, MB/h" + baseline, f"{agent['rss_slope_mb_h']:+.1f}",
                  f"< {RSS_GOAL_MB_PER_H:g}", agent["rss_slope_mb_h"] < RSS_GOAL_MB_PER_H),
        goal_line("agent open files: last fifth min - first fifth max",
                  f"{agent['fds_last_min'] - agent['fds_first_max']:+d}", "<= 0 (no growth)",
                  agent["fds_last_min"] <= agent["fds_first_max"]),
        goal_line("p99 drift (last window vs first, every route)", "ok" if drift_ok else "drifted",
                  "<= 2x first + 10 ms", drift_ok),
    ]
    print("\n".join(checks))
    return all(line.endswith("PASS") for line in checks)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the load (CI: 3; documented: 30)")
    parser.add_argument("--warmup-s", type=float, default=None,
                        help="seconds left out of the slopes (default: a sixth of the run, 60 to 300 s)")
    parser.add_argument("--rate", type=float, default=3.0, help="single captures per second per extension")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between RSS/fd samples")
    parser.add_argument("--windows", type=int, default=6, help="time windows of the p99 table")
    parser.add_argument("--backup-interval-s", type=int, default=120)
    parser.add_argument("--sync-interval-s", type=float, default=10.0)
    parser.add_argument("--no-hub", action="store_true", help="no hub, no sync")
    parser.add_argument("--llm", action="store_true", help="the LLM follow-ups on (off by default: the model's CPU)")
    parser.add_argument("--cache-mib", type=int, default=64,
                        help="the services' database.cache_mib (SQLite's page cache bound; the default is the "
                             "service's): RSS grows with the database until the cache is full")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    opts = parser.parse_args(argv)
    if opts.warmup_s is None:
        opts.warmup_s = min(300.0, max(60.0, opts.minutes * 60 / 6))
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    header(f"soak: {opts.minutes:g} minutes of mixed load (3 extensions, 2 WebSockets, dashboard polling, "
           f"backups every {opts.backup_interval_s} s, hub sync every {opts.sync_interval_s:g} s); "
           f"warm-up {opts.warmup_s:.0f} s")
    result = run(opts)
    if result["hub"] != "on":
        print(f"   hub part skipped: {result['hub']}")
    passed = report(result)
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
