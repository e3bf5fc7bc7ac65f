"""Evaluate the LLM engine next to the built-in rules analyzer, in the same run.

    python bench/llm_eval.py                 # every set; generated replies timed on --gen-sample messages
    python bench/llm_eval.py --limit 30      # quick run: first 30 messages of each set

Prints per language and set: sentiment accuracy/macro-F1, intent accuracy/macro-F1 and ms per message
(p50/p99) for: rules (baseline), llm (embedding classifier + template reply) and llm+gen (the same plus
a model-generated reply). NOTE: the LLM classifier heads are trained on bench/data/chat_dev.csv, so the
chat_dev rows are training accuracy; chat_holdout and the shared sets are unseen.
"""

from __future__ import annotations

import argparse
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
from ai.llm import LlmAnalyzer, LlmSettings  # noqa: E402


class _Mode:
    """The same loaded LlmAnalyzer, with or without generated replies, under its own engine name."""

    def __init__(self, analyzer: LlmAnalyzer, name: str, generate: bool) -> None:
        self._analyzer, self.name, self._generate = analyzer, name, generate
        self.model_version = analyzer.model_version

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        return self._analyzer.analyse_with(text, language, context, self._generate)


def limited(sets: list[ai_eval.EvalSet], limit: int | None) -> list[ai_eval.EvalSet]:
    return [replace(s, examples=s.examples[:limit]) for s in sets] if limit else sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N messages of each set")
    parser.add_argument("--gen-sample", type=int, default=20, help="messages per chat set for llm+gen")
    parser.add_argument("--model-path", default="", help="GGUF (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--given-language", action="store_true")
    args = parser.parse_args(argv)

    sets = limited(ai_eval.load_sets(), args.limit)
    models_dir = Path(tempfile.gettempdir()) / "crm-agent-test-models"
    analyzer = LlmAnalyzer(LlmSettings(model_path=args.model_path, n_threads=args.threads), models_dir)
    analyzer.load()
    ai_eval.ENGINES_WITH_INTENTS.update({"llm", "llm+gen"})  # ai_eval scores intents only for these

    rules = ai_eval.build_engine("rules")
    fast = _Mode(analyzer, "llm", generate=False)
    generating = _Mode(analyzer, "llm+gen", generate=True)
    gen_sets = limited([s for s in sets if s.name.startswith("chat_")], args.gen_sample)

    results = []
    for engine, engine_sets in ((rules, sets), (fast, sets), (generating, gen_sets)):
        ai_eval.warm_up(engine, limited(engine_sets, 5))
        results.extend(ai_eval.evaluate(engine, s, args.given_language) for s in engine_sets)
    print(f"LLM model: {analyzer.model_path} ({analyzer.model_version}), {args.threads} threads")
    print("chat_dev/* = training data of the LLM heads (and the rules' tuning set); chat_holdout/* unseen.")
    print(f"llm+gen runs on the first {args.gen_sample} messages of each chat set.\n")
    ai_eval.print_table(results, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
