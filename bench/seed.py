"""Build a data directory with N messages, fast, for the growth benchmark (bench/scale.py).

    python bench/seed.py 1000000            # -> bench/out/seed-1000000/ (reused when already built)
    python bench/seed.py 100000 --rebuild

Not the HTTP path: the schema comes from storage/migrations.py and the rows go in with executemany in
transactions of CHUNK messages, the same INSERT columns the capture writes (storage/messages.py, customers.py).
Realistic shape: ~N/20 customers (pt 70%, es 15%, en 15%; Pareto-skewed activity, one conversation each),
messages over the two years before now in pt/en/es from templates with product names and order numbers, one
analysis each (sentiment and intent spread as in captured data) and an LLM follow-up for 3% of the inbound ones,
the hourly roll-ups the dashboard reads. The secondary indexes, the FTS index and the triggers that keep them are
set aside during the load and rebuilt once at the end (what a bulk import would do); the result is exactly the
schema a migrated agent has. A directory is used by scale.py only once its `seeded.json` exists, so an
interrupted build is rebuilt, never half-used.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
SEED_VERSION = 2
# A customer's share of the messages: Pareto-skewed, capped so that the busiest chat holds a few hundred times the
# average (a few thousand messages), as a seller's busiest customer does, whatever N is.
MAX_WEIGHT = 100.0
CHUNK = 200_000
DAYS = 730
LLM_FOLLOW_UP_SHARE = 0.03

PRODUCTS = ["notebook", "celular", "fone", "cadeira", "mesa", "camiseta", "tênis", "mochila", "relógio", "câmera",
            "impressora", "monitor", "teclado", "mouse", "geladeira", "fogão", "sofá", "colchão", "bicicleta", "óculos"]
MODELS = ["Pro", "Max", "Lite", "Plus", "Mini", "Ultra", "Air", "One", "Go", "Neo", "Flex", "Prime", "Zen", "Nova",
          "Sol", "Luna", "Terra", "Vento", "Fogo", "Água"]
TEMPLATES = {
    "pt": ["Oi, tudo bem? Quanto custa o {p}?", "Qual o prazo de entrega do pedido {n}?", "Obrigado pela atenção!",
           "Quero cancelar o pedido {n}, chegou com defeito", "Vocês aceitam pix ou cartão?",
           "O {p} está em promoção? Vi a ação no Instagram", "Meu pedido {n} ainda não chegou, péssimo atendimento",
           "Bom dia! Vocês têm o {p} em estoque?", "Pode me mandar o boleto do pedido {n}?",
           "Adorei o {p}, recomendo muito", "Seu pedido {n} foi enviado hoje", "Posso agendar a instalação do {p}?"],
    "es": ["Hola, ¿cuánto cuesta el {p}?", "¿Dónde está mi pedido {n}?", "¡Muchas gracias!",
           "Quiero cancelar la suscripción, el {p} llegó roto", "¿Puedo pagar con transferencia?",
           "Tu pedido {n} sale hoy", "¿Tienen el {p} en promoción?", "Excelente atención, el {p} es genial"],
    "en": ["Hi, how much is the {p}?", "Where is my order {n}?", "Thanks a lot!", "Please cancel order {n}",
           "Do you accept PayPal?", "Your refund for order {n} was processed today", "Is the {p} on sale?",
           "The {p} arrived broken, terrible service"],
}
FIRST = ["Ana", "João", "Maria", "José", "Lúcia", "Pedro", "Carla", "Luís", "Sofía", "Miguel", "Beatriz", "Andrés",
         "Fernanda", "Rafael", "Camila", "Tomás", "Julia", "Mateo", "Larissa", "Gonçalo", "Emily", "James", "Olivia"]
LAST = ["Silva", "Souza", "Oliveira", "Pereira", "Lima", "Gómez", "Rodríguez", "Martínez", "Conceição", "Araújo",
        "Fernández", "Smith", "Johnson", "Brown", "Costa", "Gonçalves", "Ribeiro", "Núñez", "Carvalho", "Almeida"]
# As the built-in analyzer spreads captured messages: mostly neutral, a long tail of intents.
SENTIMENTS = (("neutral", 0.5), ("positive", 0.3), ("negative", 0.2))
INTENTS = (("other", 0.22), ("greeting", 0.14), ("pricing", 0.12), ("order_status", 0.11), ("support", 0.09),
           ("purchase", 0.08), ("payment", 0.07), ("complaint", 0.06), ("praise", 0.05), ("scheduling", 0.03),
           ("cancellation", 0.03))
SCORES = {"positive": 0.6, "neutral": 0.0, "negative": -0.6}
LANGUAGES = (("pt", 0.7), ("es", 0.15), ("en", 0.15))


def iso_of(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def seed_dir(messages: int) -> Path:
    return OUT / f"seed-{messages}"


def is_seeded(messages: int) -> bool:
    marker = seed_dir(messages) / "seeded.json"
    return marker.exists() and json.loads(marker.read_text()).get("seed_version") == SEED_VERSION


def ensure_seeded(messages: int, rebuild: bool = False) -> Path:
    """The data directory with `messages` messages, built when missing (or when rebuild)."""
    if rebuild or not is_seeded(messages):
        build(messages)
    return seed_dir(messages)


def build(messages: int) -> dict[str, float]:
    from storage.database import Database, sqlite_url
    from storage.migrations import migrate

    directory = seed_dir(messages)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    db_path = directory / "crm_agent.db"
    now = time.time()
    started = time.perf_counter()
    db = Database(sqlite_url(db_path))
    migrate(db, iso_of(now))
    db.close()

    conn = sqlite3.connect(db_path, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    set_aside = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                             "AND sql IS NOT NULL AND tbl_name IN ('messages', 'ai_analysis', 'customers', "
                             "'conversations')").fetchall()
    for kind, name, _ in set_aside:
        conn.execute(f"DROP {kind.upper()} {name}")

    timings: dict[str, float] = {}
    rows = _insert_rows(conn, messages, now)
    timings["messages, analyses, customers, roll-ups"] = time.perf_counter() - started
    t = time.perf_counter()
    for _, _, sql in set_aside:
        conn.execute(sql)
    timings["indexes and triggers"] = time.perf_counter() - t
    t = time.perf_counter()
    # What storage/search.py rebuild_search (migration 16) runs, on this bulk connection.
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")
    timings["full-text index"] = time.perf_counter() - t
    t = time.perf_counter()
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    timings["ANALYZE"] = time.perf_counter() - t
    total = time.perf_counter() - started
    size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
    summary = {"messages": messages, "rows": rows, "seconds": round(total, 1), "rows_per_s": round(rows / total),
               "bytes": size, "seed_version": SEED_VERSION, "timings": {k: round(v, 1) for k, v in timings.items()},
               "built_at": iso_of(now), "load": os.getloadavg()}
    (directory / "seeded.json").write_text(json.dumps(summary, indent=1))
    return summary


def _insert_rows(conn: sqlite3.Connection, total: int, now: float) -> int:
    from storage.migrations import ACTIVE_CONVERSATION

    rng = random.Random(17_000 + total)
    customers = max(1, total // 20)
    start = now - DAYS * 86400
    step = DAYS * 86400 / total
    cum_weights = list(itertools.accumulate(min(MAX_WEIGHT, rng.paretovariate(1.2)) for _ in range(customers)))
    languages = [rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES])[0] for _ in range(customers)]
    first_seen = array("d", [0.0]) * customers
    last_seen = array("d", [0.0]) * customers
    counts_in = array("l", [0]) * customers
    counts_out = array("l", [0]) * customers
    awaiting = array("d", [0.0]) * customers
    metrics: dict[tuple[str, str], float] = {}
    sent_labels, sent_w = zip(*SENTIMENTS, strict=True)
    intent_labels, intent_w = zip(*INTENTS, strict=True)
    sent_cum, intent_cum = list(itertools.accumulate(sent_w)), list(itertools.accumulate(intent_w))
    products = [f"{p} {m}" for p in PRODUCTS for m in MODELS]
    suggestions = {lang: json.dumps([texts[2]], ensure_ascii=False) for lang, texts in TEMPLATES.items()}
    seq = 0
    rows = 0
    analysis_id = 0
    random_ = rng.random
    for chunk_start in range(0, total, CHUNK):
        msgs, analyses = [], []
        seq += 1
        for i in range(chunk_start, min(total, chunk_start + CHUNK)):
            ts = start + (i + random_()) * step
            cust = bisect.bisect(cum_weights, random_() * cum_weights[-1])
            lang = languages[cust]
            inbound = random_() < 0.6 or counts_in[cust] + counts_out[cust] == 0
            direction = "in" if inbound else "out"
            response = None
            if inbound:
                counts_in[cust] += 1
                if not awaiting[cust]:
                    awaiting[cust] = ts
            else:
                counts_out[cust] += 1
                if awaiting[cust]:
                    response = round(ts - awaiting[cust], 3)
                    awaiting[cust] = 0.0
            if not first_seen[cust]:
                first_seen[cust] = ts
            last_seen[cust] = ts
            template = TEMPLATES[lang][int(random_() * len(TEMPLATES[lang]))]
            content = template.format(p=products[int(random_() * len(products))], n=int(random_() * 900_000) + 100_000)
            sentiment = sent_labels[bisect.bisect(sent_cum, random_() * sent_cum[-1])]
            intent = intent_labels[bisect.bisect(intent_cum, random_() * intent_cum[-1])]
            at = iso_of(ts)
            pk = i + 1
            analysis_id += 1
            analyses.append((analysis_id, pk, sentiment, SCORES[sentiment], intent, round(random_(), 3),
                             suggestions[lang], "seed-1", "rules", lang, at, seq))
            if inbound and random_() < LLM_FOLLOW_UP_SHARE:  # a later LLM reading replaces the built-in one
                sentiment = sent_labels[bisect.bisect(sent_cum, random_() * sent_cum[-1])]
                intent = intent_labels[bisect.bisect(intent_cum, random_() * intent_cum[-1])]
                analysis_id += 1
                analyses.append((analysis_id, pk, sentiment, SCORES[sentiment], intent, round(random_(), 3),
                                 suggestions[lang], "seed-llm", "llm", lang, at, seq))
            msgs.append((pk, f"wamid.SEED{pk:010d}", cust + 1, cust + 1, direction, content, lang, at, response,
                         sentiment, intent, seq))
            hour = at[:13]
            _bump(metrics, hour, "messages")
            _bump(metrics, hour, f"direction.{direction}")
            if inbound:
                _bump(metrics, hour, f"sentiment.{sentiment}")
                _bump(metrics, hour, f"intent.{intent}")
            if response is not None:
                _bump(metrics, hour, "response_time_sum", response)
                _bump(metrics, hour, "response_count")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (id, message_id, conversation_id, customer_id, direction, type, content, language, "
            "sent_at, response_time_s, sentiment, intent, created_at, updated_at, change_seq) VALUES "
            "(?, ?, ?, ?, ?, 'text', ?, ?, ?, ?, ?, ?, ?8, ?8, ?12)", msgs)
        conn.executemany(
            "INSERT INTO ai_analysis (id, message_id, sentiment_label, sentiment_score, intent_label, "
            "intent_confidence, suggested_responses, confidence_scores, model_version, engine, language, latency_ms, "
            "created_at, updated_at, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, 0.2, ?11, ?11, ?12)",
            analyses)
        conn.execute("COMMIT")
        rows += len(msgs) + len(analyses)
        elapsed_rows = chunk_start + len(msgs)
        print(f"   {elapsed_rows:>12,} messages", flush=True)
    seq += 1
    customer_rows, conversation_rows = [], []
    for c in range(customers):
        if not first_seen[c]:
            continue
        lang = languages[c]
        phone = {"pt": f"+5511{900000000 + c:09d}", "es": f"+5255{10000000 + c:08d}", "en": f"+1415{2000000 + c:07d}"}[
            lang]
        name = None if rng.random() < 0.1 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"cliente{c}@example.com" if rng.random() < 0.3 else None
        first_at, last_at = iso_of(first_seen[c]), iso_of(last_seen[c])
        customer_rows.append((c + 1, phone, name, email, "customer" if rng.random() < 0.3 else "lead", lang, first_at,
                              last_at, counts_in[c], counts_out[c], seq))
        conversation_rows.append((c + 1, phone[1:] + "@c.us", c + 1, "open" if rng.random() < 0.5 else "closed",
                                  first_at, last_at, iso_of(awaiting[c]) if awaiting[c] else None,
                                  counts_in[c] + counts_out[c], seq))
        _bump(metrics, first_at[:13], "new_customers")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO customers (id, phone, name, email, status, language, first_contact_at, "
                     "last_contact_at, messages_in, messages_out, created_at, updated_at, change_seq) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?7, ?8, ?9, ?10, ?7, ?8, ?11)", customer_rows)
    conn.executemany("INSERT INTO conversations (id, chat_id, customer_id, status, started_at, last_message_at, "
                     "awaiting_reply_since, message_count, created_at, updated_at, change_seq) VALUES "
                     "(?, ?, ?, ?, ?5, ?6, ?7, ?8, ?5, ?6, ?9)", conversation_rows)
    conn.executemany("INSERT INTO metrics_hourly (hour, name, value) VALUES (?, ?, ?)",
                     [(hour, name, value) for (hour, name), value in metrics.items()])
    # The dashboard's customer total (migration 15's row_counts; its triggers are set aside during the load).
    conn.execute("UPDATE row_counts SET value = (SELECT COUNT(*) FROM customers WHERE kind IN ('phone', 'lid')) "
                 "WHERE name = 'customers'")
    # The dashboard's active conversations per hour (migration 18's conversation_hours, triggers set aside too).
    conn.execute("DELETE FROM conversation_hours")
    conn.execute(f"INSERT INTO conversation_hours (hour, active) SELECT substr(last_message_at, 1, 13), COUNT(*) "
                 f"FROM conversations WHERE {ACTIVE_CONVERSATION} GROUP BY 1")
    conn.execute("UPDATE change_sequence SET value = ? WHERE id = 1", (seq,))
    conn.execute("COMMIT")
    return rows + len(customer_rows) + len(conversation_rows)


def _bump(metrics: dict[tuple[str, str], float], hour: str, name: str, value: float = 1) -> None:
    key = (hour, name)
    metrics[key] = metrics.get(key, 0) + value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("messages", type=int, nargs="+", help="message counts to build (e.g. 100000 1000000)")
    parser.add_argument("--rebuild", action="store_true", help="build again even when the directory exists")
    opts = parser.parse_args(argv)
    for count in opts.messages:
        if is_seeded(count) and not opts.rebuild:
            summary = json.loads((seed_dir(count) / "seeded.json").read_text())
            print(f"== seed {count:,}: cached in {seed_dir(count).relative_to(ROOT)}")
        else:
            print(f"== seed {count:,} messages into {seed_dir(count).relative_to(ROOT)} "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
            summary = build(count)
        print(f"   {summary['rows']:,} rows in {summary['seconds']} s = {summary['rows_per_s']:,} rows/s; "
              f"{summary['bytes'] / 2**30:.2f} GiB on disk; {summary['timings']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
