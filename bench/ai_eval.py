"""Evaluate analysis engines on every labelled set: sentiment/intent accuracy, macro-F1 and latency.

    python bench/ai_eval.py                      # rules engine + the LeIA/VADER baseline
    python bench/ai_eval.py --engine rules --given-language

Sets: /work/shared/data (or $CRM_EVAL_DATA) sentiment_ptbr, sentiment_en, intent_en, intent_en_human,
plus bench/data/chat_dev.csv and bench/data/chat_holdout.csv (reported per language; the holdout was
written before tuning and is never tuned on) and bench/data/chat_blind.csv (an independent blind set in a
different style, written before the rules were read; reported per language and per id-parity half:
/even may be inspected, /odd is held out and its errors are never printed).

Another engine (e.g. the LLM engine) plugs in through build_engine(name): anything implementing the
ai.analysis.Analyzer protocol. Metrics are plain Python (no numpy/sklearn).
Macro-F1 averages over the labels present in the gold column of the set being scored.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ai.analysis import Analysis, AnalysisContext, Analyzer  # noqa: E402
from ai.language import detect_language  # noqa: E402

SHARED_DATA = os.environ.get("CRM_EVAL_DATA", "/work/shared/data")
LOCAL_DATA = os.path.join(ROOT, "bench", "data")


# ----------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------
class BaselineAnalyzer:
    """LeIA (pt/es) and VADER (en) as shipped: compound score, +-0.05 thresholds. No intents."""

    name = "baseline"
    model_version = "leia-vader-stock"

    def __init__(self) -> None:
        from LeIA import SentimentIntensityAnalyzer as LeiaAnalyzer
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as VaderAnalyzer

        self._leia = LeiaAnalyzer()
        self._vader = VaderAnalyzer()

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        started = time.perf_counter()
        language = language or detect_language(text)
        analyzer = self._vader if language == "en" else self._leia
        compound = analyzer.polarity_scores(text)["compound"]
        label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        return Analysis(
            sentiment_label=label,
            sentiment_score=compound,
            intent_label="other",
            intent_confidence=0.0,
            suggested_responses=[],
            model_version=self.model_version,
            engine=self.name,
            language=language,
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )


def build_engine(name: str) -> Analyzer:
    """Instantiate an engine by name. Add new engines (e.g. 'llm') here."""
    if name == "rules":
        from ai.builtin import BuiltinAnalyzer

        return BuiltinAnalyzer()
    if name == "baseline":
        return BaselineAnalyzer()
    raise ValueError(f"unknown engine {name!r} (known: rules, baseline)")


ENGINES_WITH_INTENTS = {"rules"}


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------
@dataclass
class Example:
    text: str
    language: str
    sentiment: str | None
    intent: str | None


@dataclass
class EvalSet:
    name: str
    examples: list[Example]
    tuned_on: bool = True  # False for the held-out set


def _read_csv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_sets(shared_dir: str = SHARED_DATA, local_dir: str = LOCAL_DATA) -> list[EvalSet]:
    """Every labelled set that exists; chat sets are split per language."""
    sets: list[EvalSet] = []
    shared = [
        ("sentiment_ptbr", "pt", "sentiment"),
        ("sentiment_en", "en", "sentiment"),
        ("intent_en", "en", "intent"),
        ("intent_en_human", "en", "intent"),
    ]
    for name, language, column in shared:
        path = os.path.join(shared_dir, f"{name}.csv")
        if not os.path.exists(path):
            print(f"(skipping {path}: not found)", file=sys.stderr)
            continue
        examples = [
            Example(
                text=row["text"],
                language=language,
                sentiment=row[column] if column == "sentiment" else None,
                intent=row[column] if column == "intent" else None,
            )
            for row in _read_csv(path)
        ]
        sets.append(EvalSet(name, examples))
    for name in ("chat_dev", "chat_holdout"):
        path = os.path.join(local_dir, f"{name}.csv")
        if not os.path.exists(path):
            continue
        rows = _read_csv(path)
        for language in ("pt", "en", "es"):
            examples = [
                Example(row["text"], row["language"], row["sentiment"], row["intent"])
                for row in rows
                if row["language"] == language
            ]
            if examples:
                sets.append(EvalSet(f"{name}/{language}", examples, tuned_on=name != "chat_holdout"))
    path = os.path.join(local_dir, "chat_blind.csv")
    if os.path.exists(path):
        rows = _read_csv(path)
        for language in ("pt", "en", "es"):
            for half, parities in (("", (0, 1)), ("/even", (0,)), ("/odd", (1,))):
                examples = [
                    Example(row["text"], row["language"], row["sentiment"], row["intent"])
                    for row in rows
                    if row["language"] == language and int(row["id"]) % 2 in parities
                ]
                if examples:
                    sets.append(
                        EvalSet(f"chat_blind/{language}{half}", examples, tuned_on=half == "/even")
                    )
    return sets


# ----------------------------------------------------------------------------------------------
# Metrics (plain Python)
# ----------------------------------------------------------------------------------------------
def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, predicted, strict=False)) / len(gold)


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str] | None = None) -> float:
    """Unweighted mean of per-label F1 over `labels` (default: the labels present in gold)."""
    label_set = sorted(set(gold) if labels is None else set(labels))
    if not label_set:
        return 0.0
    scores = []
    for label in label_set:
        tp = sum(1 for g, p in zip(gold, predicted, strict=False) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=False) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=False) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def confusion(gold: Sequence[str], predicted: Sequence[str]) -> dict[tuple[str, str], int]:
    table: dict[tuple[str, str], int] = {}
    for g, p in zip(gold, predicted, strict=False):
        if g != p:
            table[(g, p)] = table.get((g, p), 0) + 1
    return table


@dataclass
class SetResult:
    engine: str
    set_name: str
    n: int
    sentiment_acc: float | None = None
    sentiment_f1: float | None = None
    intent_acc: float | None = None
    intent_f1: float | None = None
    language_acc: float | None = None
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_p50_ms: float = 0.0  # thread CPU time: excludes preemption by other processes on a busy host
    cpu_p99_ms: float = 0.0
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, gold, predicted, text)


def evaluate(
    engine: Analyzer,
    eval_set: EvalSet,
    given_language: bool = False,
    timer: Callable[[], float] = time.perf_counter,
) -> SetResult:
    """Run one engine over one set. Latency is measured around analyse() by the caller's clock."""
    sentiments_gold, sentiments_pred, intents_gold, intents_pred, languages_ok = [], [], [], [], []
    latencies: list[float] = []
    cpu_latencies: list[float] = []
    errors: list[tuple[str, str, str, str]] = []
    for example in eval_set.examples:
        language = example.language if given_language else None
        cpu_started = time.thread_time()
        started = timer()
        analysis = engine.analyse(example.text, language, None)
        latencies.append((timer() - started) * 1000.0)
        cpu_latencies.append((time.thread_time() - cpu_started) * 1000.0)
        languages_ok.append(analysis.language == example.language)
        if example.sentiment is not None:
            sentiments_gold.append(example.sentiment)
            sentiments_pred.append(analysis.sentiment_label)
            if analysis.sentiment_label != example.sentiment:
                errors.append(("sentiment", example.sentiment, analysis.sentiment_label, example.text))
        if example.intent is not None:
            intents_gold.append(example.intent)
            intents_pred.append(analysis.intent_label)
            if analysis.intent_label != example.intent:
                errors.append(("intent", example.intent, analysis.intent_label, example.text))
    result = SetResult(engine.name, eval_set.name, len(eval_set.examples), errors=errors)
    if sentiments_gold:
        result.sentiment_acc = accuracy(sentiments_gold, sentiments_pred)
        result.sentiment_f1 = macro_f1(sentiments_gold, sentiments_pred)
    if intents_gold and engine.name in ENGINES_WITH_INTENTS:
        result.intent_acc = accuracy(intents_gold, intents_pred)
        result.intent_f1 = macro_f1(intents_gold, intents_pred)
    result.language_acc = sum(languages_ok) / len(languages_ok) if languages_ok else None
    result.p50_ms = percentile(latencies, 50)
    result.p99_ms = percentile(latencies, 99)
    result.cpu_p50_ms = percentile(cpu_latencies, 50)
    result.cpu_p99_ms = percentile(cpu_latencies, 99)
    return result


def warm_up(engine: Analyzer, sets: Sequence[EvalSet], passes: int = 1) -> None:
    """Run every example once so first-call costs (lazy imports, caches) stay out of the timings."""
    for _ in range(passes):
        for eval_set in sets:
            for example in eval_set.examples[:200]:
                engine.analyse(example.text, None, None)


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(results: Sequence[SetResult], baseline: dict[str, SetResult] | None) -> None:
    header = (
        f"{'engine':9} {'set':22} {'n':>4}  {'sent.acc':>8} {'sent.F1':>8} {'base.F1':>8} {'ratio':>6}"
        f"  {'int.acc':>8} {'int.F1':>8}  {'lang':>5}  {'p50 ms':>7} {'p99 ms':>7}"
        f" {'cpu p50':>7} {'cpu p99':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        base = baseline.get(result.set_name) if baseline else None
        base_f1 = base.sentiment_f1 if base else None
        ratio = result.sentiment_f1 / base_f1 if result.sentiment_f1 is not None and base_f1 else None
        print(
            f"{result.engine:9} {result.set_name:22} {result.n:>4}  {_fmt(result.sentiment_acc):>8}"
            f" {_fmt(result.sentiment_f1):>8} {_fmt(base_f1):>8} {_fmt(ratio, 2):>6}"
            f"  {_fmt(result.intent_acc):>8} {_fmt(result.intent_f1):>8}  {_fmt(result.language_acc, 2):>5}"
            f"  {_fmt(result.p50_ms):>7} {_fmt(result.p99_ms):>7}"
            f" {_fmt(result.cpu_p50_ms):>7} {_fmt(result.cpu_p99_ms):>7}"
        )


def print_errors(result: SetResult, limit: int) -> None:
    print(f"\n== errors {result.engine} {result.set_name} ({len(result.errors)})")
    for kind, gold, predicted, text in result.errors[:limit]:
        print(f"  {kind:9} gold={gold:12} got={predicted:12} {text[:110]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", help="engine(s) to evaluate (default: rules)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LeIA/VADER baseline")
    parser.add_argument(
        "--given-language", action="store_true", help="pass the gold language instead of detecting"
    )
    parser.add_argument(
        "--sets", default="", help="comma-separated substrings to select sets (e.g. chat_dev)"
    )
    parser.add_argument("--errors", type=int, default=0, help="print up to N errors per set")
    args = parser.parse_args(argv)

    sets = load_sets()
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        sets = [s for s in sets if any(w in s.name for w in wanted)]
    engines = args.engine or ["rules"]

    baseline_results: dict[str, SetResult] | None = None
    if not args.no_baseline and "baseline" not in engines:
        baseline = build_engine("baseline")
        warm_up(baseline, sets)
        baseline_results = {s.name: evaluate(baseline, s, args.given_language) for s in sets}

    all_results: list[SetResult] = []
    for name in engines:
        engine = build_engine(name)
        warm_up(engine, sets)
        all_results.extend(evaluate(engine, s, args.given_language) for s in sets)

    mode = "gold language given" if args.given_language else "language detected by the engine"
    print(
        f"Analysis engines on {len(sets)} sets ({mode}); base.F1 = LeIA/VADER as shipped, ratio = F1/base.F1"
    )
    print("chat_holdout/* were written before tuning and never tuned on; chat_blind/*/odd is held out.")
    print(
        "p50/p99 ms: wall clock around analyse(); cpu p50/p99: thread CPU time (immune to other processes).\n"
    )
    print_table(all_results, baseline_results)
    if baseline_results:
        print()
        print_table(list(baseline_results.values()), None)
    if args.errors:
        for result in all_results:
            if result.set_name.startswith("chat_blind/") and not result.set_name.endswith("/even"):
                continue  # the odd half of the blind set stays held out: never show its errors
            print_errors(result, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
