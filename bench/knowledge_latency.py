"""The capture path's analysis step with the knowledge base: p50/p99 with 0 and with 1,000 entries.

    python bench/knowledge_latency.py [--entries 1000] [--rounds 3]

The step timed is what the service runs per captured message: language detection and the built-in analysis
(ai/items.py analyse_items, as the rules worker does), then crm/grounding.py's grounding in the service process
(the table-version check, one query per batch, is timed with each message here: the worst case, a batch of one).
The knowledge base is bench/data/knowledge_base.csv plus generated product entries (a catalogue: name, material,
colour, sizes, price) up to --entries, in a real SQLite file. Messages: bench/data/chat_dev.csv's texts and the
knowledge questions. Goal (issue 15): p50 <= 2 ms with 1,000 entries.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ai.builtin import BuiltinAnalyzer  # noqa: E402
from ai.items import AnalysisItem, analyse_items  # noqa: E402
from bench.knowledge_eval import DATA, load_base, load_questions  # noqa: E402
from crm.grounding import Grounding  # noqa: E402
from storage import knowledge as knowledge_rows  # noqa: E402
from storage.database import Database, sqlite_url  # noqa: E402
from storage.migrations import migrate  # noqa: E402

NOW = "2026-01-01T00:00:00.000Z"
PRODUCTS = ("vestido", "saia", "blusa", "camisa", "calça", "jaqueta", "casaco", "bolsa", "mochila", "carteira",
            "tênis", "sandália", "bota", "relógio", "colar", "brinco", "pulseira", "óculos", "cinto", "chapéu",
            "boné", "meia", "pijama", "biquíni", "maiô", "short", "macacão", "cardigã", "suéter", "regata")
STYLES = ("midi", "longo", "curto", "básico", "estampado", "listrado", "floral", "liso", "oversize", "slim",
          "infantil", "plus size", "fitness", "social", "casual", "festa", "praia", "inverno", "verão", "vintage")
MATERIALS = ("algodão", "linho", "couro", "jeans", "seda", "malha", "tricô", "viscose", "poliéster", "camurça")
COLOURS = ("preto", "branco", "azul", "rosa", "verde", "vermelho", "bege", "caramelo", "vinho", "cinza")


def generated_entries(count: int, rng: random.Random) -> list[dict]:
    entries = []
    for number in range(count):
        product, style, material = rng.choice(PRODUCTS), rng.choice(STYLES), rng.choice(MATERIALS)
        colours = ", ".join(rng.sample(COLOURS, 3))
        price = rng.randint(29, 599) + 0.9
        title = f"{product.capitalize()} {style} de {material} {number}"
        content = (f"O {title} custa R$ {price:.2f}".replace(".", ",") + f", nas cores {colours}, "
                   f"nos tamanhos P ao GG. Código {1000 + number}.")
        entries.append({"title": title, "content": content, "language": "pt", "tags": [product, "produto"]})
    return entries


def build_database(path: Path, total: int) -> Database:
    db = Database(sqlite_url(path))
    migrate(db, NOW)
    base = [{"title": e.title, "content": e.content, "language": e.language, "tags": list(e.tags)}
            for e in load_base()] if total else []
    extra = generated_entries(max(0, total - len(base)), random.Random(15))
    with db.transaction():
        for fields in (base + extra)[:total]:
            knowledge_rows.insert_entry(db, fields, NOW)
    return db


def messages() -> list[str]:
    with (DATA / "chat_dev.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return texts + [q.text for q in load_questions()]


def time_step(grounding: Grounding, analyzer: BuiltinAnalyzer, texts: list[str], rounds: int) -> list[float]:
    grounding.index()  # built once before timing: a rebuild happens only after a write to the table
    timings = []
    for _ in range(rounds):
        for text in texts:
            item = AnalysisItem(text, None, "Maria Silva", "in", "text")
            started = time.perf_counter()
            results = analyse_items(analyzer, [item])
            grounding.apply_to_batch([item], results)
            timings.append((time.perf_counter() - started) * 1000.0)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    analyzer = BuiltinAnalyzer()
    texts = messages()
    p50s = {}
    with tempfile.TemporaryDirectory(prefix="crm-bench-knowledge-") as tmp:
        for total in (0, args.entries):
            db = build_database(Path(tmp) / f"k{total}.db", total)
            try:
                grounding = Grounding(db)
                started = time.perf_counter()
                grounding.index()
                built_ms = (time.perf_counter() - started) * 1000.0
                timings = time_step(grounding, analyzer, texts, args.rounds)
                grounded = sum(1 for t in texts if grounding.matches(t, None))
            finally:
                db.close()
            p50s[total] = statistics.median(timings)
            p99 = percentile(timings, 0.99)
            print(f"   {total:>5} entries: analysis step p50 {p50s[total]:.3f} ms  p99 {p99:.3f} ms"
                  f"  ({len(timings)} messages; index built in {built_ms:.0f} ms; {grounded}/{len(texts)} "
                  "messages match an entry)")
    ratio = p50s[args.entries] / p50s[0] if p50s[0] else float("nan")
    print(f"   p50 ratio {args.entries} entries / 0 entries: {ratio:.2f}; goal p50 <= 2 ms: "
          f"{'met' if p50s[args.entries] <= 2.0 else 'NOT met'}")
    return 0 if p50s[args.entries] <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
