"""A knowledge CSV import at the row cap, in process: crm/knowledge.py KnowledgeBase on a real SQLite file.

Prints the time to import 5,000 new rows (IMPORT_MAX_ROWS, ~800 characters each: about the 4 MiB body cap),
to import the same file again (every row found by its shortcut or title, unchanged), and to export it; the
import runs on the service's event loop, so this is how long one import holds it.

    python bench/knowledge_import.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clock import Clock, iso
from crm.knowledge import IMPORT_MAX_ROWS, KnowledgeBase
from storage.database import Database, sqlite_url
from storage.migrations import migrate


def csv_body(rows: int) -> bytes:
    lines = ["title,content,language,tags,shortcut"]
    for i in range(rows):
        shortcut = f"atalho{i}" if i % 2 else ""  # half by shortcut, half by title
        text = f'"Resposta {i}: frete, prazos e ""condições"" para a região {i % 50}.\n' + "x" * 700 + '"'
        lines.append(f"Entrada {i},{text},pt,frete;região,{shortcut}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=IMPORT_MAX_ROWS)
    args = parser.parse_args()
    body = csv_body(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        db = Database(sqlite_url(Path(tmp) / "bench.db"))
        migrate(db, iso(clock.now()))
        base = KnowledgeBase(db, clock, lambda event_type, data: None)
        started = time.perf_counter()
        first = base.import_csv(body)
        created_s = time.perf_counter() - started
        started = time.perf_counter()
        again = base.import_csv(body)
        unchanged_s = time.perf_counter() - started
        started = time.perf_counter()
        exported = base.export_csv()
        export_s = time.perf_counter() - started
        db.close()
    print(f"body {len(body) / 1024 / 1024:.2f} MiB, {args.rows} rows")
    print(f"import (all new):       {created_s:.2f} s  created={first.created} errors={len(first.errors)}")
    print(f"import (same again):    {unchanged_s:.2f} s  unchanged={again.unchanged} updated={again.updated}")
    print(f"export:                 {export_s:.2f} s  {len(exported.encode()) / 1024 / 1024:.2f} MiB")


if __name__ == "__main__":
    main()
