"""Evaluate the LLM engines next to the built-in rules analyzer, in the same run.

    python bench/llm_eval.py                 # every set; the full default path timed on the chat sets
    python bench/llm_eval.py --limit 30      # quick run: first 30 messages of each set

Engines, per language and set (sentiment accuracy/macro-F1, intent accuracy/macro-F1, ms p50/p99):
  rules      the built-in analyzer (baseline)
  head       LlmAnalyzer: embedding + logistic-regression heads, template reply
  combined   CombinedAnalyzer: rules and head probabilities pooled, template replies
  llm        CombinedAnalyzer with model-written replies: the worker's default path (chat sets only)

NOTE: the heads are trained on chat_dev.csv and the public sets (python -m ai.llm.train), and the pool
weights were chosen on out-of-fold predictions over the same rows, so chat_dev and the public rows are
training data for head/combined; chat_holdout and chat_blind are unseen (never tuned on).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import ai_eval  # noqa: E402

from ai.analysis import Analysis, AnalysisContext  # noqa: E402
from ai.llm import CombinedAnalyzer, LlmAnalyzer, LlmSettings  # noqa: E402

UNSEEN = ("chat_holdout", "chat_blind")


class _Mode:
    """A loaded engine with or without generated replies, under its own engine name."""

    def __init__(self, analyzer: LlmAnalyzer | CombinedAnalyzer, name: str, generate: bool) -> None:
        self._analyzer, self.name, self._generate = analyzer, name, generate
        self.model_version = analyzer.model_version

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        return self._analyzer.analyse_with(text, language, context, self._generate)


def limited(sets: list[ai_eval.EvalSet], limit: int | None) -> list[ai_eval.EvalSet]:
    return [replace(s, examples=s.examples[:limit]) for s in sets] if limit else sets


def blind_sets(path: str = os.path.join(ai_eval.LOCAL_DATA, "chat_blind.csv")) -> list[ai_eval.EvalSet]:
    """bench/data/chat_blind.csv per language, when it exists (ai_eval does not load it)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        ai_eval.EvalSet(f"chat_blind/{language}",
                        [ai_eval.Example(r["text"], r["language"], r["sentiment"], r["intent"])
                         for r in rows if r["language"] == language], tuned_on=False)
        for language in ("pt", "en", "es")
        if any(r["language"] == language for r in rows)
    ]


def pooled(results: list[ai_eval.SetResult], engine: str, prefix: str, label: str) -> ai_eval.SetResult | None:
    """One summary row over the sets whose name starts with prefix: the per-set metrics averaged with
    the set sizes as weights (so macro-F1 here is a mean of per-set macro-F1s), worst p50/p99."""
    rows = [r for r in results if r.engine == engine and r.set_name.startswith(prefix)]
    if not rows:
        return None
    n = sum(r.n for r in rows)

    def mean(attr: str) -> float | None:
        values = [(getattr(r, attr), r.n) for r in rows if getattr(r, attr) is not None]
        return sum(v * k for v, k in values) / sum(k for _, k in values) if values else None

    return ai_eval.SetResult(engine, label, n, mean("sentiment_acc"), mean("sentiment_f1"),
                             mean("intent_acc"), mean("intent_f1"), mean("language_acc"),
                             max(r.p50_ms for r in rows), max(r.p99_ms for r in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N messages of each set")
    parser.add_argument("--gen-sample", type=int, default=None, help="messages per chat set for llm (default all)")
    parser.add_argument("--model-path", default="", help="GGUF (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--given-language", action="store_true")
    parser.add_argument("--sets", default="", help="comma-separated substrings to select sets")
    parser.add_argument("--errors", type=int, default=0, help="print up to N errors per unseen set")
    args = parser.parse_args(argv)

    sets = ai_eval.load_sets()
    if any(s.name.startswith("chat_blind/") for s in sets):
        # ai_eval splits the blind set into even (tuning set of the rules) and odd (held out) halves; keep
        # the halves only, so no message is run twice.
        sets = [s for s in sets if not s.name.startswith("chat_blind/") or s.name.count("/") == 2]
    else:
        sets += blind_sets()
    sets = limited(sets, args.limit)
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        sets = [s for s in sets if any(w in s.name for w in wanted)]
    models_dir = Path(tempfile.gettempdir()) / "crm-agent-test-models"
    settings = LlmSettings(model_path=args.model_path, n_threads=args.threads)
    combined = CombinedAnalyzer(settings, models_dir)
    combined.load()
    ai_eval.ENGINES_WITH_INTENTS.update({"head", "combined", "llm"})  # ai_eval scores intents only for these

    engines = [
        (ai_eval.build_engine("rules"), sets),
        (_Mode(combined.llm, "head", generate=False), sets),
        (_Mode(combined, "combined", generate=False), sets),
        (_Mode(combined, "llm", generate=True),
         limited([s for s in sets if s.name.startswith("chat_")], args.gen_sample)),
    ]
    results = []
    for engine, engine_sets in engines:
        ai_eval.warm_up(engine, limited(engine_sets, 5))
        results.extend(ai_eval.evaluate(engine, s, args.given_language) for s in engine_sets)
    print(f"LLM model: {combined.model_path} ({combined.model_version}), {args.threads} threads")
    print("chat_dev/* and the public sets = training data of the heads and of the pool weights;"
          " chat_holdout/* and chat_blind/* unseen.")
    print("llm = the worker's default path (combined + a model-written reply when one is needed).\n")
    ai_eval.print_table(results, None)
    summary = []
    for engine, _ in engines:
        for prefix, label in (("chat_holdout/", "chat_holdout (mean)"), ("chat_blind/", "chat_blind (mean)")):
            if row := pooled(results, engine.name, prefix, label):
                summary.append(row)
        odd = [r for r in results if r.engine == engine.name and r.set_name.startswith("chat_blind/")
               and r.set_name.endswith("/odd")]
        if odd and (row := pooled(odd, engine.name, "chat_blind/", "chat_blind odd (mean)")):
            summary.append(row)
    if summary:
        print("\nMean over languages, weighted by messages (p50/p99 = the worst language):")
        ai_eval.print_table(summary, None)
    if args.errors:
        for result in results:
            if result.set_name.startswith(UNSEEN) and result.engine in ("combined", "llm"):
                ai_eval.print_errors(result, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
