"""History import through POST /api/messages/capture/batch, end to end, as the extension does it.

    python bench/capture_batch.py [--messages 20000] [--batch 500] [--concurrency 1]

A fresh service (agent.py serve, default config: request log on, LLM follow-up as configured by the
environment) receives --messages distinct captures in batches of --batch, sent one batch at a time by
each of --concurrency clients (the extension sends one batch at a time). The messages look like an
imported history: 200 chats (phone @c.us, @lid without a phone, groups with @c.us and @lid participants),
in and out, some media with and without captions, each with a pt-BR data-pre-plain-text, locale and UTC
offset. Timed from the first request sent to the last answer read, client JSON encoding included.

After the run every result must be 201 and the SQLite file must hold exactly --messages messages.
Target (issue 11): >= 2,000 messages/s; the extension's 2,000-message import then takes about a second.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Service, header, remove, target_line, temp_dir

TARGET = 2000.0
TEXTS = ["Oi, quanto custa o plano mensal?", "Meu pedido ainda não chegou, já faz 10 dias", "Obrigado, adorei!",
         "Vocês entregam no sábado?", "Quero cancelar a assinatura", "Pode me mandar o boleto?", "Bom dia!",
         "O produto veio com defeito, quero trocar", "Qual o prazo de entrega para Campinas?", "Fechado, pode enviar"]
CONFIG = {"security": {"rate_limit_per_s": 1_000_000, "rate_limit_burst": 1_000_000}}


def chats(rng: random.Random) -> list[dict[str, str]]:
    out = []
    for i in range(200):
        kind = ("phone", "lid", "group")[i % 3]
        digits = "".join(rng.choice("0123456789") for _ in range(8))
        if kind == "phone":
            out.append({"chat_id": f"55119{digits}@c.us", "name": f"Cliente {i}"})
        elif kind == "lid":
            out.append({"chat_id": f"9{digits}{i:06d}@lid", "name": f"Oculto {i}"})
        else:
            out.append({"chat_id": f"120363{digits}{i:04d}@g.us", "name": f"Grupo {i}",
                        "members": [f"55219{digits[:4]}{j:04d}@c.us" if j % 2 else f"8{digits}{j:06d}@lid"
                                    for j in range(5)]})
    return out


def history(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    all_chats = chats(rng)
    start = int(time.time() * 1000) - count * 60_000
    items = []
    for n in range(count):
        chat = all_chats[n % len(all_chats)]
        direction = "out" if rng.random() < 0.35 else "in"
        ts = start + n * 60_000
        local = time.gmtime(ts // 1000 - 3 * 3600)
        kind = rng.choice(["text"] * 8 + ["image", "audio"])
        item = {"message_id": f"{'true' if direction == 'out' else 'false'}_{chat['chat_id']}_3EB0{n:012d}",
                "chat_id": chat["chat_id"], "chat_name": chat["name"], "content": rng.choice(TEXTS) if kind != "audio"
                else "", "type": kind, "direction": direction, "timestamp": int(time.time() * 1000),
                "pre_plain_text": f"[{local.tm_hour:02d}:{local.tm_min:02d}, {local.tm_mday:02d}/{local.tm_mon:02d}/"
                                  f"{local.tm_year}] {chat['name']}: ",
                "locale": "pt-BR", "utc_offset_min": -180}
        if "members" in chat and direction == "in":
            item["participant"] = rng.choice(chat["members"])
        items.append(item)
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    import requests

    items = history(args.messages)
    batches = [items[i:i + args.batch] for i in range(0, len(items), args.batch)]
    data_dir = temp_dir("bench-batch")
    service = Service(data_dir, config=CONFIG)
    try:
        token = service.token()
        sessions = [requests.Session() for _ in range(args.concurrency)]

        def send(index: int) -> list[int]:
            session = sessions[index % args.concurrency]
            r = session.post(service.url + "/api/messages/capture/batch", json={"messages": batches[index]},
                             headers={"Authorization": f"Bearer {token}"}, timeout=120)
            r.raise_for_status()
            return [result["status"] for result in r.json()["results"]]

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            statuses = [s for batch in pool.map(send, range(len(batches))) for s in batch]
        elapsed = time.perf_counter() - started
        conn = sqlite3.connect(data_dir / "crm_agent.db")
        stored = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM customers GROUP BY kind").fetchall())
        conn.close()
        rate = args.messages / elapsed
        header("history import: POST /api/messages/capture/batch, end to end")
        print(f"   {args.messages:,} messages in {len(batches)} batches of {args.batch}, {args.concurrency} client(s), "
              f"analyzer {service.analyzer()}")
        print(f"   {elapsed:.2f} s, {rate:,.0f} messages/s, {elapsed / len(batches) * 1000:.0f} ms per batch")
        print(f"   answered: 201={statuses.count(201)} other={len(statuses) - statuses.count(201)}; "
              f"SQLite messages={stored}; customers by kind {kinds}")
        ok = statuses.count(201) == args.messages == stored
        print(target_line("messages/s", f"{rate:,.0f}", f">= {TARGET:,.0f}", rate >= TARGET and ok))
        return 0 if ok else 1
    finally:
        service.stop()
        remove(data_dir)


if __name__ == "__main__":
    sys.exit(main())
