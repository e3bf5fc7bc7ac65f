"""Dashboard and read latency of the real service on a large database.

    python bench/service_dashboard.py [--requests 200] [--reseed]

Seeds a SQLite file with 1,000,000 messages (one analysis each) from 100,000 customers (one conversation
each), spread over the last 60 days, plus the metrics_hourly roll-ups computed from those rows (so the
dashboard's figures agree with the tables). The schema comes from storage.migrations.migrate; the rows are
written with sqlite3 executemany in big transactions with the secondary indexes dropped and rebuilt after.
The file is cached in bench/out/ (gitignored), keyed by schema version, seed version and UTC date (the data
is relative to "now", so a new day reseeds); each run copies it into a fresh data directory.

Then it starts the real service on the copy and times, sequentially over one keep-alive connection,
after a warm-up:
    GET /api/metrics/dashboard     (target: p50 <= 50 ms)
    GET /api/health                (baseline: the cheapest route through the same stack)
    GET /api/customers?q=...       GET /api/messages?limit=50       GET /api/customers/{phone}   (reported)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    OUT,
    Service,
    header,
    percentiles,
    remove,
    server_times,
    target_line,
    temp_dir,
    time_requests,
)

SEED_VERSION = 1
MESSAGES = 1_000_000
CUSTOMERS = 100_000
DAYS = 60
TARGET_P50_MS = 50.0

FIRST = ["Maria", "João", "Ana", "Pedro", "Juliana", "Lucas", "Fernanda", "Rafael", "Camila", "Bruno", "Carlos",
         "Lucía", "Javier", "Sofía", "Diego", "Valentina", "John", "Emily", "Michael", "Sarah", "David", "Laura"]
LAST = ["Silva", "Souza", "Oliveira", "Santos", "Costa", "Pereira", "Lima", "Almeida", "García", "Martínez",
        "López", "Hernández", "Ramírez", "Torres", "Smith", "Johnson", "Brown", "Davis", "Miller", "Wilson"]
TEXTS = {
    "pt": ["Oi, quanto custa o plano mensal?", "Meu pedido ainda não chegou, podem verificar?",
           "Obrigada pelo atendimento!", "Quero cancelar minha assinatura.", "Aceitam Pix?",
           "O produto veio com defeito.", "Posso agendar para sexta?", "Claro! Seu pedido sai hoje."],
    "es": ["Hola, ¿cuánto cuesta el envío?", "Mi pedido llegó incompleto.", "¡Muchas gracias!",
           "Quiero cancelar la suscripción.", "¿Puedo pagar con transferencia?", "Tu pedido sale hoy."],
    "en": ["Hi, how much is the annual plan?", "Where is my order?", "Thanks a lot!", "Please cancel my order.",
           "Do you accept PayPal?", "Your refund was processed today."],
}
SENTIMENTS = (("positive", 0.3), ("neutral", 0.5), ("negative", 0.2))
INTENTS = ("greeting", "pricing", "purchase", "order_status", "support", "complaint", "cancellation", "payment",
           "scheduling", "praise", "other")
CONV_STATUS = (("open", 0.4), ("pending", 0.1), ("converted", 0.2), ("lost", 0.1), ("closed", 0.2))
CUST_STATUS = ("lead", "prospect", "active", "customer", "inactive")


def iso_of(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def schema_version() -> int:
    from storage.migrations import MIGRATIONS

    return MIGRATIONS[-1][0]


def cached_seed() -> Path:
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    return OUT / f"dashboard-schema{schema_version()}-seed{SEED_VERSION}-{today}.db"


def seed(path: Path) -> dict[str, float]:
    """Write the seeded database to path (replacing it). Returns timings."""
    from storage.database import Database, sqlite_url
    from storage.migrations import migrate

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    now = time.time()
    db = Database(sqlite_url(tmp))
    migrate(db, iso_of(now))
    db.close()

    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")

    rng = random.Random(20261129)
    start = now - DAYS * 86400
    # Every customer has at least one message; the rest go to customers with skewed (Pareto) weights.
    weights = [rng.paretovariate(1.2) for _ in range(CUSTOMERS)]
    extra = rng.choices(range(CUSTOMERS), weights=weights, k=MESSAGES - CUSTOMERS)
    counts = [1] * CUSTOMERS
    for c in extra:
        counts[c] += 1

    sent_labels = [s for s, _ in SENTIMENTS]
    sent_weights = [w for _, w in SENTIMENTS]
    conv_labels = [s for s, _ in CONV_STATUS]
    conv_weights = [w for _, w in CONV_STATUS]
    customers, conversations, messages, analyses = [], [], [], []
    seq = 0
    msg_id = 0
    suggestions = {lang: json.dumps([texts[-1]], ensure_ascii=False) for lang, texts in TEXTS.items()}

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO messages (id, message_id, conversation_id, customer_id, direction, type, "
                         "content, language, sent_at, response_time_s, created_at, updated_at, change_seq) VALUES "
                         "(?, ?, ?, ?, ?, 'text', ?, ?, ?, ?, ?, ?, ?)", messages)
        conn.executemany("INSERT INTO ai_analysis (id, message_id, sentiment_label, sentiment_score, intent_label, "
                         "intent_confidence, suggested_responses, confidence_scores, model_version, engine, "
                         "language, latency_ms, created_at, updated_at, change_seq) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, '{}', 'seed-1', 'rules', ?, 0.2, ?, ?, ?)", analyses)
        conn.execute("COMMIT")
        messages.clear()
        analyses.clear()

    for c in range(CUSTOMERS):
        cid = c + 1
        kind = c % 20
        if kind < 14:
            phone, lang = f"+5511{900000000 + c:09d}", "pt"
        elif kind < 17:
            phone, lang = f"+5255{10000000 + c:08d}", "es"
        else:
            phone, lang = f"+1415{2000000 + c:07d}", "en"
        n = counts[c]
        first_ts = start + rng.random() * (DAYS * 86400 - 60)
        last_ts = first_ts if n == 1 else first_ts + rng.random() * (now - first_ts)
        times = sorted([first_ts, last_ts] + [first_ts + rng.random() * (last_ts - first_ts) for _ in range(n - 2)])
        times = times[:n]
        awaiting = None
        inbound = outbound = 0
        texts = TEXTS[lang]
        for i, ts in enumerate(times):
            msg_id += 1
            seq += 1
            direction = "in" if i == 0 or rng.random() < 0.6 else "out"
            response = None
            if direction == "in":
                inbound += 1
                if awaiting is None:
                    awaiting = ts
            else:
                outbound += 1
                if awaiting is not None and ts >= awaiting:
                    response = round(ts - awaiting, 3)
                    awaiting = None
            at = iso_of(ts)
            messages.append((msg_id, f"wamid.SEED{msg_id:09d}", cid, cid, direction, rng.choice(texts), lang, at,
                             response, at, at, seq))
            sentiment = rng.choices(sent_labels, sent_weights)[0]
            score = {"positive": 0.6, "neutral": 0.0, "negative": -0.6}[sentiment]
            analyses.append((msg_id, msg_id, sentiment, score, rng.choice(INTENTS), round(rng.random(), 3),
                             suggestions[lang], lang, at, at, seq))
        first_at, last_at = iso_of(times[0]), iso_of(times[-1])
        name = None if rng.random() < 0.1 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"cliente{c}@example.com" if rng.random() < 0.3 else None
        seq += 1
        customers.append((cid, phone, name, email, '["vip"]' if rng.random() < 0.05 else "[]",
                          rng.choice(CUST_STATUS), lang, first_at, last_at, inbound, outbound, first_at, last_at, seq))
        conversations.append((cid, phone[1:] + "@c.us", cid, rng.choices(conv_labels, conv_weights)[0], first_at,
                              last_at, iso_of(awaiting) if awaiting is not None else None, n, first_at, last_at,
                              seq))
        if len(messages) >= 200_000:
            flush()
    flush()
    timings["generate+insert messages"] = time.perf_counter() - t0

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO customers (id, phone, name, email, tags, status, language, first_contact_at, "
                     "last_contact_at, messages_in, messages_out, created_at, updated_at, change_seq) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
    conn.executemany("INSERT INTO conversations (id, chat_id, customer_id, status, started_at, last_message_at, "
                     "awaiting_reply_since, message_count, created_at, updated_at, change_seq) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", conversations)
    # The hourly roll-ups, exactly as the capture pipeline would have counted them.
    hour = "substr(m.sent_at, 1, 13)"
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'messages', COUNT(*) "
                 f"FROM messages m GROUP BY 1")
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'direction.' || m.direction, "
                 f"COUNT(*) FROM messages m GROUP BY 1, 2")
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'sentiment.' || a.sentiment_label, "
                 f"COUNT(*) FROM messages m JOIN ai_analysis a ON a.id = m.id WHERE m.direction = 'in' GROUP BY 1, 2")
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'intent.' || a.intent_label, "
                 f"COUNT(*) FROM messages m JOIN ai_analysis a ON a.id = m.id WHERE m.direction = 'in' GROUP BY 1, 2")
    conn.execute("INSERT INTO metrics_hourly (hour, name, value) SELECT substr(first_contact_at, 1, 13), "
                 "'new_customers', COUNT(*) FROM customers GROUP BY 1")
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'response_time_sum', "
                 f"SUM(m.response_time_s) FROM messages m WHERE m.response_time_s IS NOT NULL GROUP BY 1")
    conn.execute(f"INSERT INTO metrics_hourly (hour, name, value) SELECT {hour}, 'response_count', COUNT(*) "
                 f"FROM messages m WHERE m.response_time_s IS NOT NULL GROUP BY 1")
    conn.execute("UPDATE change_sequence SET value = ? WHERE id = 1", (seq,))
    conn.execute("COMMIT")
    timings["customers, conversations, roll-ups"] = time.perf_counter() - t0 - sum(timings.values())

    t1 = time.perf_counter()
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    timings["rebuild indexes + ANALYZE"] = time.perf_counter() - t1
    for old in path.parent.glob("dashboard-schema*-seed*.db"):
        old.unlink()
    tmp.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    return timings


def summary(label: str, samples: list[float]) -> str:
    p = percentiles(samples, (50, 90, 99))
    return (f"   {label:<44} p50 {p[50] * 1000:7.2f} ms  p90 {p[90] * 1000:7.2f} ms  p99 {p[99] * 1000:7.2f} ms  "
            f"(n={len(samples)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed dashboard and health requests")
    parser.add_argument("--reads", type=int, default=50, help="timed requests for each other read")
    parser.add_argument("--reseed", action="store_true", help="rebuild the cached database")
    opts = parser.parse_args(argv)

    header(f"dashboard latency on {MESSAGES:,} messages / {CUSTOMERS:,} customers")
    cache = cached_seed()
    if opts.reseed or not cache.exists():
        started = time.perf_counter()
        timings = seed(cache)
        print(f"   seeded {cache.relative_to(OUT.parent.parent)} in {time.perf_counter() - started:.1f} s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}); {cache.stat().st_size / 2**20:,.0f} MB")
    else:
        print(f"   using cached seed {cache.relative_to(OUT.parent.parent)} ({cache.stat().st_size / 2**20:,.0f} MB)")

    data_dir = temp_dir("crm-bench-dashboard-")
    try:
        shutil.copyfile(cache, data_dir / "crm_agent.db")
        with sqlite3.connect(data_dir / "crm_agent.db") as conn:
            counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                      for t in ("messages", "ai_analysis", "customers", "conversations", "metrics_hourly")}
            phones = [r[0] for r in conn.execute("SELECT phone FROM customers ORDER BY messages_in + messages_out "
                                                 "DESC LIMIT 25")]
            phones += [r[0] for r in conn.execute("SELECT phone FROM customers WHERE id % 4000 = 7")]
        print("   rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        service = Service(data_dir)
        try:
            print(f"   analyzer: {service.analyzer()}")
            service.token()
            dash = service.get("/api/metrics/dashboard").json()
            print(f"   dashboard: messages_today={dash['messages_today']:,} "
                  f"total_customers={dash['total_customers']:,} "
                  f"active_conversations={dash['active_conversations']:,} conversion_rate={dash['conversion_rate']} "
                  f"avg_response_time_s={dash['avg_response_time_s']}")
            n = opts.requests
            dashboard = time_requests(lambda: service.get("/api/metrics/dashboard"), n, warmup=20)
            health = time_requests(lambda: service.get("/api/health", auth=False), n, warmup=20)
            queries = iter(["Silva", "Maria", "5511900012", "cliente77", "García", "Smith", "Ana Costa"] * 1000)
            customers_q = time_requests(lambda: service.get(f"/api/customers?q={next(queries)}"), opts.reads,
                                        warmup=3)
            messages_page = time_requests(lambda: service.get("/api/messages?limit=50"), opts.reads, warmup=3)
            phone_iter = iter(phones * 1000)
            profile = time_requests(lambda: service.get(f"/api/customers/{next(phone_iter)}"), opts.reads, warmup=3)
        finally:
            service.stop()
        logged = server_times(data_dir)
    finally:
        remove(data_dir)

    print("   client-observed (requests, one keep-alive connection, sequential):")
    print(summary("GET /api/metrics/dashboard", dashboard))
    print(summary("GET /api/health (baseline)", health))
    print(summary("GET /api/customers?q=<name|phone|email>", customers_q))
    print(summary("GET /api/messages?limit=50", messages_page))
    print(summary("GET /api/customers/{phone} (profile)", profile))
    print("   server-side, same requests (the service's request log: WSGI call to response ready):")
    for key, label, samples in (("GET /api/metrics/dashboard", "GET /api/metrics/dashboard", dashboard),
                                ("GET /api/health", "GET /api/health (baseline)", health),
                                ("GET /api/customers", "GET /api/customers?q=<name|phone|email>", customers_q),
                                ("GET /api/messages", "GET /api/messages?limit=50", messages_page),
                                ("GET /api/customers/{phone}", "GET /api/customers/{phone} (profile)", profile)):
        times = logged.get(key, [])[-len(samples):]
        if len(times) == len(samples):
            print(summary(label, times))
    p50_dash = percentiles(dashboard, (50,))[50]
    p50_health = percentiles(health, (50,))[50]
    print(f"   dashboard p50 / health p50: {p50_dash / p50_health:.1f}x")
    print(target_line("dashboard p50", f"{p50_dash * 1000:.2f} ms", f"<= {TARGET_P50_MS:g} ms",
                      p50_dash * 1000 <= TARGET_P50_MS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
