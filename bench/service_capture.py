"""Capture throughput of the real service at 50 concurrent keep-alive connections.

    python bench/service_capture.py [--duration 10] [--warmup 3] [--connections 50] [--threads 2]
                                    [--synchronous full|normal] [--llm both|on|off]
    python bench/service_capture.py --profile 5000     in-process: where the time of one capture goes
    python bench/service_capture.py --live-profile [--llm off]   the served process under cProfile, under wrk

What runs, in one process tree, with the same wrk settings (2 threads, 50 connections, ~10 s after a
short warm-up) and the same request bodies (bench/wrk/capture.lua):

1. the baseline: a bare Bottle + gevent pywsgi JSON echo (bench/_common.py echo-server) with TCP_NODELAY
   set on accepted sockets, POSTing the same capture bodies to /echo;
2. for reference, the same echo without TCP_NODELAY (responses then wait for the client's delayed ACK);
3. the service (agent.py serve, fresh data directory, default config, request log on) POSTing distinct
   messages to /api/messages/capture with an admin bearer token obtained first: with the LLM follow-ups
   off (ai.llm_enabled false), on (the default config: the bundled model analyses each inbound message
   again after it is stored), then off again (the two off runs measure the noise), each on a fresh data
   directory (--llm on|off runs one).

Only the rate limits are raised for the run: their defaults (500/s sustained per token and per client,
burst 1000) would answer most of a 2,000/s run with 429. Non-2xx responses are counted by the Lua
response() hook and reported as errors. After the run, the stored message count (GET /api/messages total,
and COUNT(*) in the SQLite file) must equal the number of 201 responses (warm-up included).

Targets (issue 17): the service with the LLM off at >= 45% of the TCP_NODELAY echo's captures/s, with a p99
<= 2x the echo's p99 in the same run; the LLM on within noise of the LLM off (>= 90% of the two off runs' mean
captures/s, p99 <= 1.25x their mean p99); zero errors; every 201 stored. The issue-8 targets (>= 2,000
captures/s, p99 <= 50 ms) are printed for reference. The load average is printed with the figures: on a
shared machine re-run them quiet.

--profile N builds the service in this process (build_service + create_app, the default config, the
request log to a file) and calls the WSGI app directly with N distinct capture requests (texts from
capture.lua): no sockets, no gevent. It prints the mean cost per capture with and without cProfile, the
cost of each pipeline step timed on its own, and the top functions by cumulative and own time.

--live-profile runs only the service (no echo) under wrk as above, with agent.py under cProfile
(bench/profiled_agent.py): the served process's own time per capture by function, gevent and HTTP included.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    WRK_DIR,
    EchoServer,
    Service,
    header,
    remove,
    run_wrk,
    target_line,
    temp_dir,
    wrk_errors,
)

SCRIPT = WRK_DIR / "capture.lua"
TARGET_RPS = 2000.0  # issue 8, for reference
TARGET_P99_MS = 50.0  # issue 8, for reference
TARGET_RATIO = 0.45  # issue 17: of the TCP_NODELAY echo's captures/s in the same run
TARGET_P99_VS_ECHO = 2.0  # issue 17: capture p99 at most this many times the echo's p99
LLM_RPS_NOISE = 0.90  # issue 17: LLM on "within noise" of off: at least this share of its captures/s ...
LLM_P99_NOISE = 1.25  # ... and a p99 at most this many times its p99

BENCH_CONFIG = {
    # Everything else stays at its default (the request log included).
    "security": {"rate_limit_per_s": 1_000_000, "rate_limit_burst": 1_000_000},
}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def describe(name: str, r: dict) -> str:
    lat = r["latency_us"]
    s = r["status"]
    statuses = ", ".join(f"{k}:{v}" for k, v in s.items() if v)
    return (f"   {name:<30} {r['rps']:>9,.0f} req/s  p50 {lat['p50'] / 1000:6.2f} ms  p90 {lat['p90'] / 1000:6.2f} ms"
            f"  p99 {lat['p99'] / 1000:6.2f} ms  max {lat['max'] / 1000:7.2f} ms  n={r['requests']}  "
            f"errors={wrk_errors(r)} [{statuses}]")


def wrk_pair(url: str, args: tuple[str, str], opts: argparse.Namespace, path: str,
             pid: int | None = None) -> tuple[dict, dict]:
    """The warm-up run, then the measured one; with pid, main["cpu_s"] is that process's CPU time during it."""
    token, tag = args
    warm = run_wrk(url, SCRIPT, threads=opts.threads, connections=opts.connections, duration_s=opts.warmup,
                   args=(token, tag + "W", path))
    cpu_before = process_cpu_s(pid) if pid else None
    main = run_wrk(url, SCRIPT, threads=opts.threads, connections=opts.connections, duration_s=opts.duration,
                   args=(token, tag + "M", path))
    if cpu_before is not None:
        cpu_after = process_cpu_s(pid)
        main["cpu_s"] = cpu_after - cpu_before if cpu_after is not None else None
    return warm, main


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None elsewhere). Less sensitive to the machine's load
    than a rate: on a shared machine the service gets a fair share of the cores, and its rate follows that share."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_echo(opts: argparse.Namespace, nodelay: bool) -> dict:
    server = EchoServer(nodelay=nodelay)
    try:
        _, main = wrk_pair(server.url, ("-", "E"), opts, "/echo", pid=server.process.pid)
        return main
    finally:
        server.stop()


def bench_service(opts: argparse.Namespace, llm: bool) -> tuple[dict, dict, dict]:
    """The service on a fresh data directory; llm False turns the LLM worker (and its follow-ups) off."""
    data_dir = temp_dir("crm-bench-capture-")
    config = {**BENCH_CONFIG, "database": {"synchronous": opts.synchronous}}
    if not llm:
        config["ai"] = {"llm_enabled": False}
    service = Service(data_dir, config=config)
    try:
        token = service.token()
        analyzer = service.analyzer()
        tag = f"{int(time.time()) % 100000:05d}"
        warm, main = wrk_pair(service.url, (token, tag), opts, "/api/messages/capture", pid=service.process.pid)
        wal_bytes = (data_dir / "crm_agent.db-wal").stat().st_size  # right after the load, before any idle round
        load = load_average()
        ai = service.get("/api/health", auth=False).json().get("ai", {})
        time.sleep(0.5)
        first_page = service.get("/api/messages?limit=1").json()
        # Since issue 17 the list counts up to 10,000 and then says total_capped: a capped total is "at least".
        api_total, api_capped = first_page["total"], bool(first_page.get("total_capped"))
        with sqlite3.connect(f"file:{data_dir / 'crm_agent.db'}?mode=ro", uri=True) as conn:
            db_total = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            analyses = conn.execute("SELECT COUNT(*) FROM ai_analysis").fetchone()[0]
            customers = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
            conversations = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        logged_201 = logged_other = 0
        for log_file in sorted((data_dir / "logs").glob("agent.log*")):
            for line in log_file.open(encoding="utf-8", errors="replace"):
                if "POST /api/messages/capture " in line:
                    if " 201 " in line:
                        logged_201 += 1
                    else:
                        logged_other += 1
        check = {"api_total": api_total, "api_capped": api_capped, "db_total": db_total, "analyses": analyses,
                 "customers": customers,
                 "conversations": conversations, "created": warm["status"]["201"] + main["status"]["201"],
                 "analyzer": analyzer, "logged_201": logged_201, "logged_other": logged_other,
                 "wal_bytes": wal_bytes, "load": load, "ai_state": ai.get("state", "off"),
                 "follow_ups_dropped": ai.get("follow_ups_dropped", 0)}
        return warm, main, check
    finally:
        service.stop()
        remove(data_dir)


# -- in-process profile ------------------------------------------------------------------------------


def lua_texts() -> list[str]:
    import re

    lua = SCRIPT.read_text(encoding="utf-8")
    block = lua[lua.index("local texts = {"):]
    block = block[: block.index("\n}\n")]
    return re.findall(r'^\s*"(.*)",\s*$', block, re.M)


def capture_bodies(count: int, tag: str) -> list[bytes]:
    import json
    import random

    rng = random.Random(7)
    texts = lua_texts()
    bodies = []
    for i in range(count):
        c = rng.randrange(20000)
        a, b = 1000 + (c * 37) % 9000, 1000 + (c * 91 + 17) % 9000
        digits = f"55119{a:04d}{b:04d}"
        phone = rng.choice([f"(11) 9{a:04d}-{b:04d}", f"+55 11 9{a:04d} {b:04d}", digits + "@c.us"])
        bodies.append(json.dumps({
            "message_id": f"3EB0{tag}{i:08X}", "chat_id": digits + "@c.us", "phone": phone, "name": "Maria Silva",
            "content": rng.choice(texts), "type": "text", "direction": "in" if rng.random() < 0.65 else "out",
            "timestamp": int(time.time() * 1000)}, ensure_ascii=False).encode("utf-8"))
    return bodies


def profile_in_process(count: int) -> int:
    import cProfile
    import io
    import json
    import logging
    import pstats

    from ai.analysis import AnalysisContext
    from ai.builtin import BuiltinAnalyzer
    from ai.language import detect_language
    from api.app import create_app
    from api.schemas import CaptureRequest
    from core.config import load_config
    from core.logging_setup import setup_logging
    from core.paths import DataDir
    from crm.phones import to_e164
    from runtime.build import build_service

    header(f"capture, in process: {count} distinct captures through the WSGI app (no sockets, no gevent)")
    data_dir = temp_dir("crm-bench-profile-")
    try:
        dd = DataDir(data_dir).ensure()
        config = load_config(None).with_overrides(
            {f"security.{k}": v for k, v in BENCH_CONFIG["security"].items()})
        setup_logging(config["logging.level"], dd.log_file, config["logging.max_bytes"],
                      config["logging.backup_count"], to_stderr=False, buffered=True)  # as agent.py serve
        service = build_service(config, dd)
        print(f"   analyzer: {service.analyzer.name} {service.analyzer.model_version}; "
              f"request log: {config['server.request_log']}")
        wsgi, policy = create_app(service)
        policy.port = 8080
        token = service.tokens.issue("admin", "admin")

        def call(body: bytes) -> str:
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": "/api/messages/capture", "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080", "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": f"Bearer {token}",
                "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            status = []
            b"".join(wsgi(environ, lambda s, h, e=None: status.append(s)))
            return status[0]

        for body in capture_bodies(300, "WARM"):  # warm caches (phones, statements)
            assert call(body).startswith("201"), "warm-up capture failed"

        plain = capture_bodies(count, "PLAIN")
        started = time.perf_counter()
        statuses = [call(body) for body in plain]
        per_call = (time.perf_counter() - started) / count
        bad = [st for st in statuses if not st.startswith("201")]
        if bad:
            raise RuntimeError(f"{len(bad)} captures not 201, e.g. {bad[0]}")
        print(f"   mean per capture, no profiler: {per_call * 1e6:8.0f} us  -> ceiling {1 / per_call:,.0f} captures/s "
              f"on one core (HTTP parsing and sockets not included)")

        # Individual steps, each timed alone over the same bodies.
        parsed = [json.loads(b) for b in plain]
        requests_ = [CaptureRequest.model_validate(d) for d in parsed]

        def step(label: str, fn) -> None:
            t0 = time.perf_counter()
            for item in range(count):
                fn(item)
            us = (time.perf_counter() - t0) / count * 1e6
            print(f"   step {label:<42} {us:8.1f} us  ({us / (per_call * 1e6):5.1%})")

        step("json.loads(body)", lambda i: json.loads(plain[i]))
        step("CaptureRequest.model_validate", lambda i: CaptureRequest.model_validate(parsed[i]))
        step("to_e164 (lru-cached)", lambda i: to_e164(requests_[i].phone, "BR"))
        step("detect_language", lambda i: detect_language(requests_[i].content))
        builtin = BuiltinAnalyzer()  # what the rules worker runs for each capture (in its own process)
        step("built-in analyse(text, 'pt').to_dict()",
             lambda i: builtin.analyse(requests_[i].content, "pt", AnalysisContext()).to_dict())
        step("tokens.authenticate (cached JWT + SQL)", lambda i: service.tokens.authenticate(token))
        request_log = logging.getLogger("crm_agent.bench")
        step("one INFO log line (buffered file)", lambda i: request_log.info("%s %s %s %.1fms", "POST",
                                                                        "/api/messages/capture", "201", 1.0))

        # SQL: time per statement kind over a separate batch of captures.
        sql_time: dict[str, list[float]] = {}
        db = service.db
        real_execute, real_executemany = db.execute, db.executemany

        def label(sql: str) -> str:
            words = sql.split()
            if words[0] in ("INSERT", "UPDATE") and len(words) > 2:
                return " ".join(words[:3])[:48]
            if words[0] == "SELECT":
                return ("SELECT ... " + sql[sql.index(" FROM "):][:38]) if " FROM " in sql else sql[:48]
            return " ".join(words[:2])[:48]

        def timed_execute(sql, params=None):
            t0 = time.perf_counter()
            try:
                return real_execute(sql, params)
            finally:
                sql_time.setdefault(label(sql), []).append(time.perf_counter() - t0)

        def timed_executemany(sql, rows):
            t0 = time.perf_counter()
            try:
                return real_executemany(sql, rows)
            finally:
                sql_time.setdefault("executemany " + label(sql), []).append(time.perf_counter() - t0)

        db.execute, db.executemany = timed_execute, timed_executemany
        sql_bodies = capture_bodies(count, "SQL")
        t0 = time.perf_counter()
        for body in sql_bodies:
            call(body)
        sql_per_call = (time.perf_counter() - t0) / count
        db.execute, db.executemany = real_execute, real_executemany
        total_sql = sum(sum(v) for v in sql_time.values()) / count
        print(f"\n   SQL per capture: {total_sql * 1e6:.0f} us of {sql_per_call * 1e6:.0f} us "
              f"({total_sql / sql_per_call:.0%}); by statement (us per capture, calls per capture):")
        for name, times in sorted(sql_time.items(), key=lambda kv: -sum(kv[1])):
            ordered = sorted(times)
            slow = sum(t for t in times if t > 0.002)
            print(f"     {sum(times) / count * 1e6:8.1f} us  {len(times) / count:4.1f}x  {name:<48} "
                  f"median {ordered[len(ordered) // 2] * 1e6:7.1f} us  max {ordered[-1] * 1e3:6.1f} ms  "
                  f"calls > 2 ms: {sum(1 for t in times if t > 0.002)} ({slow / sum(times):.0%} of its time)")

        profiled = capture_bodies(count, "PROF")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for body in profiled:
            call(body)
        profiler.disable()
        print(f"   mean per capture under cProfile: {(time.perf_counter() - started) / count * 1e6:8.0f} us")
        for order, n in (("cumulative", 40), ("tottime", 25)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(n)
            text = out.getvalue()
            print(f"\n   -- top {n} by {order} --")
            print(text[text.index("   ncalls"):].rstrip())
        service.close()
        return 0
    finally:
        remove(data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each measured run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", type=int, metavar="N", help="profile N captures in process instead")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full",
                        help="database.synchronous of the service (full, the default: fsync at every commit)")
    parser.add_argument("--live-profile", action="store_true",
                        help="run only the service, under cProfile, and print where its time went")
    parser.add_argument("--llm", choices=("both", "on", "off"), default="both",
                        help="run the service with the LLM follow-ups off, on (the default config), or both")
    opts = parser.parse_args(argv)
    if opts.profile:
        return profile_in_process(opts.profile)
    if opts.live_profile:
        return profile_served(opts)

    header("capture throughput: POST /api/messages/capture, distinct messages, keep-alive")
    print(f"   wrk -t{opts.threads} -c{opts.connections} -d{opts.duration:g}s (after a {opts.warmup:g} s warm-up), "
          f"script {SCRIPT.relative_to(SCRIPT.parent.parent.parent)}; load average before: {load_average()}")
    echo = bench_echo(opts, nodelay=True)
    echo_load = load_average()
    echo_plain = bench_echo(opts, nodelay=False)
    runs: dict[str, tuple[dict, dict, dict]] = {}
    # both: off, on, then off again, so the order of the runs (the machine's load drifts) does not favour one
    # side, and the two off runs show the noise the on run is judged against.
    for name in (("off", "on", "off again") if opts.llm == "both" else (opts.llm,)):
        runs[name] = bench_service(opts, llm=name == "on")

    print(describe("baseline echo (TCP_NODELAY)", echo) + f"  load {echo_load}")
    if echo.get("cpu_s") and echo["requests"]:
        print(f"     echo process CPU during the run: {echo['cpu_s']:.2f} s, "
              f"{echo['cpu_s'] / echo['requests'] * 1e6:.0f} us per request "
              f"({echo['cpu_s'] / opts.duration:.0%} of a core)")
    print(describe("reference echo (no NODELAY)", echo_plain))
    results: list[str] = []
    for name, (warm, svc, check) in runs.items():
        print(describe(f"capture, LLM {name} ({opts.synchronous})", svc) + f"  load {check['load']}")
        results += check_run(name, warm, svc, check, echo, opts)
    if "on" in runs and "off again" in runs:
        on, offs = runs["on"][1], (runs["off"][1], runs["off again"][1])
        off_rps = sum(r["rps"] for r in offs) / 2
        off_p99 = sum(r["latency_us"]["p99"] for r in offs) / 2
        share = on["rps"] / off_rps if off_rps else 0.0
        p99_x = on["latency_us"]["p99"] / off_p99 if off_p99 else 0.0
        rps_spread = abs(offs[0]["rps"] - offs[1]["rps"]) / off_rps
        p99_spread = abs(offs[0]["latency_us"]["p99"] - offs[1]["latency_us"]["p99"]) / off_p99
        print(f"   noise: the two LLM-off runs differ by {rps_spread:.0%} in captures/s and {p99_spread:.0%} in p99; "
              f"LLM on is compared with their mean")
        results += [
            target_line("LLM on: captures/s vs LLM off", f"{share:.1%}", f">= {LLM_RPS_NOISE:.0%}",
                        share >= LLM_RPS_NOISE),
            target_line("LLM on: p99 vs LLM off", f"{p99_x:.2f}x", f"<= {LLM_P99_NOISE:g}x", p99_x <= LLM_P99_NOISE)]
    print(f"   echo TCP_NODELAY / no NODELAY: {echo['rps'] / echo_plain['rps']:.1f}x" if echo_plain["rps"] else "")
    print("\n".join(results))
    return 0


def profile_served(opts: argparse.Namespace) -> int:
    from profiled_agent import profile_next_services, report

    llm = opts.llm == "on"
    header(f"capture, served process under cProfile: wrk -c{opts.connections}, LLM {'on' if llm else 'off'}")
    out = temp_dir("crm-bench-live-profile-") / "agent.prof"
    try:
        profile_next_services(out)
        _, svc, check = bench_service(opts, llm=llm)
        print(describe("capture under cProfile", svc) + f"  load {check['load']}")
        report(out, check["db_total"], "capture")
        return 0
    finally:
        remove(out.parent)


def check_run(name: str, warm: dict, svc: dict, check: dict, echo: dict, opts: argparse.Namespace) -> list[str]:
    """What one service run stored, and its target lines against the echo of the same run."""
    cpu_s, answered = svc.get("cpu_s"), svc["requests"]
    if cpu_s is not None and answered:
        print(f"     service process CPU during the run: {cpu_s:.2f} s, {cpu_s / answered * 1e6:.0f} us per capture "
              f"({cpu_s / opts.duration:.0%} of a core)")
    print(f"     analyzer: {check['analyzer']}; AI worker: {check['ai_state']}, "
          f"LLM follow-ups stored: {check['analyses'] - check['db_total']}, dropped (queue full): "
          f"{check['follow_ups_dropped']}")
    print(f"     stored: created(201)={check['created']} (warm-up {warm['status']['201']} + run "
          f"{svc['status']['201']}), GET /api/messages total={check['api_total']}, "
          f"SQLite messages={check['db_total']}, "
          f"analyses={check['analyses']}, customers={check['customers']}, conversations={check['conversations']}, "
          f"request log: {check['logged_201']} captures answered 201, {check['logged_other']} other; "
          f"WAL after the load: {check['wal_bytes'] / 1e6:.1f} MB")
    ratio = svc["rps"] / echo["rps"] if echo["rps"] else 0.0
    p99 = svc["latency_us"]["p99"] / 1000
    echo_p99 = echo["latency_us"]["p99"] / 1000
    errors = wrk_errors(svc) + wrk_errors(warm)
    # wrk stops with up to one request in flight per connection per run: the service answers those after
    # wrk stops counting. The exact check is against the service's own request log (one line per response).
    in_flight = check["db_total"] - check["created"]
    api_sees_all = (check["api_total"] <= check["db_total"] if check["api_capped"]
                    else check["api_total"] == check["db_total"])
    consistent = (check["logged_201"] == check["db_total"] and api_sees_all
                  and 0 <= in_flight <= 2 * opts.connections and check["logged_other"] == 0)
    print(f"     stored - 201s seen by wrk = {in_flight} (requests in flight when wrk stopped; "
          f"at most {2 * opts.connections})")
    tag = f"LLM {name}: "
    return [
        target_line(tag + "captures/s vs TCP_NODELAY echo", f"{ratio:.1%}", f">= {TARGET_RATIO:.0%}",
                    ratio >= TARGET_RATIO),
        target_line(tag + "p99 vs echo p99", f"{p99 / echo_p99 if echo_p99 else 0:.2f}x",
                    f"<= {TARGET_P99_VS_ECHO:g}x", p99 <= TARGET_P99_VS_ECHO * echo_p99),
        target_line(tag + "captures/s (issue 8)", f"{svc['rps']:,.0f}", f">= {TARGET_RPS:,.0f}",
                    svc["rps"] >= TARGET_RPS),
        target_line(tag + "p99 (issue 8)", f"{p99:.2f} ms", f"<= {TARGET_P99_MS:g} ms", p99 <= TARGET_P99_MS),
        target_line(tag + "errors (socket, non-2xx; warm-up incl.)", f"{errors}", "0", errors == 0),
        target_line(tag + "stored == 201s (request log)", f"{check['db_total']}/{check['logged_201']}",
                    "equal", consistent),
    ]


if __name__ == "__main__":
    sys.exit(main())
