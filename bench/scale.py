"""Query cost as the data grows (issue 17): the same requests at 100k, 1M and 10M messages, through the real service.

    python bench/scale.py                       # 100k and 1M (seeded by bench/seed.py, cached in bench/out/)
    python bench/scale.py --sizes 100000 1000000 10000000 --requests 100

For each size: `agent.py serve` on a free port over the seeded data directory, then p50/p99 of each request
(client-side, HTTP included): the list, filtered by sentiment, by intent, a deep page by offset 49,950 (the
baseline) and by keyset (`before`), a search for a common word and for a rarer pair, a customer search, a customer
profile and the dashboard. Prints the issue's targets with PASS/MISS at 1M and the growth ratio largest/smallest
per request (goal: within 2x), with the load average: the machine is shared, re-run on a quiet one for final figures.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Service, header, percentiles, time_requests
from seed import ensure_seeded

# (request name, target p50 ms, target p99 ms) from the table, checked at 1M messages.
TARGETS = {"filter by sentiment": (30, 100), "filter by intent": (30, 100), "deep page (keyset)": (30, None),
           "search (common word)": (30, None)}
GROWTH_GOAL = 2.0


def requests_for(db_path: Path) -> dict[str, object]:
    """name -> path with query (or a callable for the keyset page, whose anchor depends on the data)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        # The anchor of a keyset page 49,950 rows down, found the way a client would reach it (the previous page's
        # last id): read once here so each timed request is the keyset page alone.
        anchor = conn.execute("SELECT id FROM messages ORDER BY sent_at DESC, id DESC LIMIT 1 OFFSET 49949").fetchone()
        busy = conn.execute("SELECT phone FROM customers ORDER BY messages_in + messages_out DESC LIMIT 1").fetchone()
        names = [r[0] for r in conn.execute("SELECT name FROM customers WHERE name IS NOT NULL LIMIT 200")]
    finally:
        conn.close()
    surname = random.Random(1).choice(names).split()[-1]
    return {
        "list": "/api/messages?limit=50",
        "filter by sentiment": "/api/messages?limit=50&sentiment=negative",
        "filter by intent": "/api/messages?limit=50&intent=scheduling",
        "deep page (offset 49,950)": "/api/messages?limit=50&offset=49950",
        "deep page (keyset)": f"/api/messages?limit=50&before={anchor[0]}",
        "search (common word)": "/api/messages?limit=50&q=pedido",
        "search (two words, accents)": "/api/messages?limit=50&q=camera%20ultra",
        "customer search (name)": f"/api/customers?limit=50&q={surname}",
        "customer profile": f"/api/customers/{busy[0].replace('+', '%2B')}",
        "dashboard": "/api/metrics/dashboard",
    }


def measure(size: int, count: int) -> dict[str, dict[float, float]]:
    data_dir = ensure_seeded(size)
    paths = requests_for(data_dir / "crm_agent.db")
    started = time.perf_counter()
    service = Service(data_dir, config={"ai": {"llm_enabled": False}}, timeout=600)
    print(f"   {size:>10,}  service healthy after {time.perf_counter() - started:.1f} s "
          f"(start-up quick_check of a {(data_dir / 'crm_agent.db').stat().st_size / 2**30:.1f} GiB file)", flush=True)
    results = {}
    try:
        for _ in range(3):  # every query once before timing any: the page cache holds what each one reads
            for path in paths.values():
                service.get(path)
        for name, path in paths.items():
            samples = time_requests(lambda p=path: service.get(p), count, warmup=5)
            results[name] = percentiles(samples, (50, 99))
            print(f"   {size:>10,}  {name:<30} p50 {results[name][50] * 1000:8.2f} ms   "
                  f"p99 {results[name][99] * 1000:8.2f} ms   (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        service.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=100, help="timed requests per query and size")
    opts = parser.parse_args(argv)
    header(f"query cost by data size: {', '.join(f'{s:,}' for s in opts.sizes)} messages, "
           f"{opts.requests} requests each (load average {os.getloadavg()[0]:.1f})")
    by_size = {size: measure(size, opts.requests) for size in opts.sizes}

    target_size = 1_000_000 if 1_000_000 in by_size else max(by_size)
    print(f"\n== targets at {target_size:,} messages (client-side, HTTP included)")
    at = by_size[target_size]
    for name, (p50_ms, p99_ms) in TARGETS.items():
        ok = at[name][50] * 1000 <= p50_ms and (p99_ms is None or at[name][99] * 1000 <= p99_ms)
        target = f"p50<={p50_ms}" + (f", p99<={p99_ms}" if p99_ms else "")
        print(f"   {name:<30} p50 {at[name][50] * 1000:7.2f} ms  p99 {at[name][99] * 1000:7.2f} ms   "
              f"target {target:<20} {'PASS' if ok else 'MISS'}")
    baseline = at["deep page (offset 49,950)"][50]
    print(f"   baseline in the same run: deep page by offset p50 {baseline * 1000:.2f} ms "
          f"(keyset {at['deep page (keyset)'][50] * 1000:.2f} ms)")

    small, large = min(by_size), max(by_size)
    if small != large:
        print(f"\n== growth {large:,} / {small:,} messages (p50 ratio; goal within {GROWTH_GOAL:g}x)")
        for name in at:
            ratio = by_size[large][name][50] / by_size[small][name][50]
            verdict = "PASS" if ratio <= GROWTH_GOAL else "MISS"
            if name == "deep page (offset 49,950)":
                verdict = "(baseline: offset pages are not meant to stay flat)"
            print(f"   {name:<30} {by_size[small][name][50] * 1000:7.2f} -> {by_size[large][name][50] * 1000:7.2f} ms"
                  f"   x{ratio:5.2f}   {verdict}")
    print(f"\n   load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          "(shared machine: re-run on a quiet one for the final figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
