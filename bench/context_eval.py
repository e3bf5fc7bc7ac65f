"""Intent accuracy of short replies read with their conversation window vs without it (same run, same analyzer).

    python bench/context_eval.py            # dev and holdout halves, with and without the window
    python bench/context_eval.py --errors   # also list the dev half's misses (the holdout's are never printed)
    python bench/context_eval.py --latency  # also the analysis time per message with and without a window

Data: bench/data/context_replies.csv: id, split (dev | holdout), language, previous (JSON [[direction, text], ...]
oldest first: the seller's "out" and the customer's "in" messages before the reply), text, expected intent.
The holdout half was written with the dev half, before the resolver was run on it, and is not tuned on.
Earlier messages carry no stored intent here: the analyzer reads them from their text, as it does for the
earlier messages of a capture batch.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ai.analysis import AnalysisContext, PreviousMessage  # noqa: E402
from ai.builtin import BuiltinAnalyzer  # noqa: E402

DATA = os.path.join(ROOT, "bench", "data", "context_replies.csv")


def load(path: str = DATA) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["window"] = tuple(PreviousMessage(direction, text) for direction, text in json.loads(row["previous"]))
    return rows


def intent(analyzer: BuiltinAnalyzer, row: dict, with_window: bool) -> str:
    context = AnalysisContext(previous=row["window"] if with_window else ())
    return analyzer.analyse(row["text"], row["language"], context).intent_label


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list the dev half's misses")
    parser.add_argument("--latency", action="store_true", help="time the analysis with and without a window")
    args = parser.parse_args(argv)
    analyzer, rows = BuiltinAnalyzer(), load()
    print(f"{'split':<9} {'n':>3}  {'without window':>14}  {'with window':>11}")
    for split in ("dev", "holdout", "all"):
        chosen = [r for r in rows if split == "all" or r["split"] == split]
        without = sum(intent(analyzer, r, False) == r["expected"] for r in chosen) / len(chosen)
        with_window = sum(intent(analyzer, r, True) == r["expected"] for r in chosen) / len(chosen)
        print(f"{split:<9} {len(chosen):>3}  {without:>14.3f}  {with_window:>11.3f}")
    if args.errors:
        for row in rows:
            got = intent(analyzer, row, True)
            if row["split"] == "dev" and got != row["expected"]:
                print(f"  {row['id']}: {row['text']!r} -> {got}, expected {row['expected']}")
    if args.latency:
        latency(analyzer, rows)
    return 0


def latency(analyzer: BuiltinAnalyzer, rows: list[dict], rounds: int = 200) -> None:
    """p50 per message over the set: no window, a window with stored intents (the capture path's usual case),
    and a window whose intents are read from the text (a batch's earlier messages)."""
    stored = tuple(PreviousMessage(p.direction, p.text, analyzer.intent_of_text(p.text)) for p in
                   max((r["window"] for r in rows), key=len))
    cases = {"no window": lambda r: (), "window, stored intents": lambda r: stored,
             "window, intents from text": lambda r: r["window"]}
    for name, window in cases.items():
        times = []
        for _ in range(rounds):
            for row in rows:
                context = AnalysisContext(previous=window(row))
                started = time.perf_counter()
                analyzer.analyse(row["text"], None, context)
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(f"{name:<27} p50 {times[len(times) // 2]:.3f} ms  p90 {times[int(len(times) * 0.9)]:.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
