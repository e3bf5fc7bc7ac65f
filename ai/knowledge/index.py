"""A lexical retrieval index over the seller's knowledge entries, built for chat questions in pt, en and es.

A message and every entry are read the same way (terms()): the analyzer's normalisation (accents folded, chat
spelling expanded: "qnto" -> "quanto", "vcs" -> "voces"), the question scaffolding dropped (STOPWORDS), the
words of one concept folded across the three languages ("frete", "envío", "shipping" -> "@ship"), plurals cut.
A misspelt word the index does not know ("fretee", "pagamneto") is read as the known word whose character
trigrams it shares most, when it shares enough.

Ranking is BM25 over those terms (the title and tags count twice: they name what the entry is about). Whether
the best entry answers at all is a separate, calibrated decision: its confidence is the share of the message's
informative weight (idf) the entry covers, where a word the base does not know at all counts against it (a
question about perfume is not answered by the exchange policy because both mention "loja"). Below
MIN_CONFIDENCE, or when the message has no informative term ("oi tudo bem?"), there is no match.

Pure: no storage, no clock. An index is immutable once built, so one may be shared by every thread.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ai.builtin.normalize import normalize
from ai.knowledge.concepts import CONCEPTS, PHRASES, STOPWORDS

# BM25 parameters: short documents, so length matters less than in the textbook's b = 0.75.
K1 = 1.2
B = 0.5
# The share of the message's weight an entry must cover (calibrated on bench/data/knowledge_questions.csv's
# dev half; see bench/README.md "Knowledge retrieval").
MIN_CONFIDENCE = 0.5
# In the coverage, a term weighs at least this share of the rarest term's idf: a word most entries contain
# ("tamanho" in a catalogue) still says what the question is about.
IDF_FLOOR_SHARE = 0.3
# A word no entry contains weighs this share of the rarest known term's idf against every entry.
UNKNOWN_WEIGHT = 0.45
# Misspellings: a word is read as a known word when their trigram Dice similarity reaches this.
FUZZY_MIN_SIMILARITY = 0.6
FUZZY_MIN_LENGTH = 4
TRANSPOSITION_SIMILARITY = 0.8  # a word with two neighbouring letters swapped reads as the known word
_FUZZY_CACHE_SIZE = 4096
TITLE_REPEAT = 2
PRICE = "@price"  # the title and the tags are counted this many times in an entry's terms

_CONCEPT_OF = {word: concept for concept, words in CONCEPTS.items() for word in words}
_PHRASES = tuple((f" {phrase} ", f" {word} ") for phrase, word in PHRASES.items() if phrase != word)


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    id: int
    title: str
    content: str
    language: str | None  # "pt" | "en" | "es" | None (any)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KnowledgeMatch:
    entry_id: int
    title: str
    content: str
    language: str | None
    score: float  # the confidence in [0, 1]: the share of the message's informative weight the entry covers


def _stem(word: str) -> str:
    """A light plural cut ("tamanhos" -> "tamanho", "cores" -> "core"): enough for short chat questions."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _term_of(word: str) -> str | None:
    """The scored term of one normalised word, or None for a word that says nothing about the topic."""
    if word in STOPWORDS or not word.isalnum():
        return None
    if len(word) < 2 and not word.isdigit():
        return None
    concept = _CONCEPT_OF.get(word)
    if concept is not None:
        return concept
    stem = _stem(word)
    return _CONCEPT_OF.get(stem, stem)


def words(text: str, language: str | None) -> list[str]:
    """The normalised words of a text (chat spelling expanded, multi-word names joined)."""
    joined = normalize(text, language or "pt").joined
    for phrase, word in _PHRASES:
        if phrase in joined:
            joined = joined.replace(phrase, word)
    return joined.split()


def terms(text: str, language: str | None) -> list[str]:
    """The scored terms of a text, in order (duplicates kept).

    A money amount ("R$ 15", "US$ 45") is a price: an entry stating one answers "how much ...?"."""
    found = []
    for word in words(text, language):
        term = _term_of(word)
        if term is not None:
            found.append(term)
    if "$" in text or "€" in text:
        found.append(PRICE)
    return found


def _swapped_letters(word: str, candidate: str) -> bool:
    """Two neighbouring letters typed in the wrong order ("pagamneto"): one swap costs up to four trigrams."""
    if len(word) != len(candidate) or word == candidate:
        return False
    differ = [i for i in range(len(word)) if word[i] != candidate[i]]
    return (len(differ) == 2 and differ[1] == differ[0] + 1
            and word[differ[0]] == candidate[differ[1]] and word[differ[1]] == candidate[differ[0]])


def _trigrams(word: str) -> set[str]:
    padded = f"#{word}#"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class KnowledgeIndex:
    """Built once from the entries; match() answers a message in well under a millisecond."""

    def __init__(self, entries: Iterable[KnowledgeEntry]) -> None:
        self.entries: dict[int, KnowledgeEntry] = {}
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)  # term -> [(entry id, tf)]
        self._length: dict[int, int] = {}
        for entry in entries:
            self._add(entry)
        count = len(self.entries)
        self._average_length = (sum(self._length.values()) / count) if count else 1.0
        self._idf = {term: math.log(1.0 + (count - len(p) + 0.5) / (len(p) + 0.5))
                     for term, p in self._postings.items()}
        rarest = math.log(1.0 + (count - 0.5) / 1.5) if count else 0.0
        self._unknown_weight = UNKNOWN_WEIGHT * rarest
        self._weight = {term: max(idf, IDF_FLOOR_SHARE * rarest) for term, idf in self._idf.items()}
        self._by_trigram = self._trigram_index()
        self._fuzzy_cache: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def _add(self, entry: KnowledgeEntry) -> None:
        language = entry.language
        heading = terms(entry.title, language) + [t for tag in entry.tags for t in terms(tag, language)]
        counts = Counter(heading * TITLE_REPEAT + terms(entry.content, language))
        if not counts:
            return
        self.entries[entry.id] = entry
        self._length[entry.id] = sum(counts.values())
        for term, tf in counts.items():
            self._postings[term].append((entry.id, tf))

    def _trigram_index(self) -> dict[str, list[str]]:
        """Known spellings (the index's words and every concept word) by trigram, for misspelt words."""
        known = {t for t in self._postings if not t.startswith("@")} | set(_CONCEPT_OF) | set(STOPWORDS)
        by_trigram: dict[str, list[str]] = defaultdict(list)
        for word in known:
            if len(word) >= FUZZY_MIN_LENGTH and word.isalpha():
                for gram in _trigrams(word):
                    by_trigram[gram].append(word)
        return by_trigram

    def _corrected(self, word: str) -> str | None:
        """The known word a misspelt one stands for, or None when none is close enough."""
        if word in self._fuzzy_cache:
            return self._fuzzy_cache[word]
        grams = _trigrams(word)
        shared: Counter[str] = Counter()
        for gram in grams:
            shared.update(self._by_trigram.get(gram, ()))
        best, best_similarity = None, FUZZY_MIN_SIMILARITY
        for candidate, common in shared.most_common(8):
            similarity = 2.0 * common / (len(grams) + len(candidate) + 2)  # a word of n letters has n trigrams
            if _swapped_letters(word, candidate):
                similarity = max(similarity, TRANSPOSITION_SIMILARITY)
            if similarity >= best_similarity:
                best, best_similarity = candidate, similarity
        if len(self._fuzzy_cache) >= _FUZZY_CACHE_SIZE:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[word] = best
        return best

    def query_terms(self, text: str, language: str | None) -> list[str]:
        """The message's distinct terms as the index reads them (misspellings corrected when possible)."""
        found: list[str] = []
        for word in words(text, language):
            term = _term_of(word)
            if term is None:
                continue
            if term not in self._idf and len(word) >= FUZZY_MIN_LENGTH and word.isalpha():
                corrected = self._corrected(_stem(word))
                if corrected is not None:
                    term = _term_of(corrected)
            if term is not None and term not in found:
                found.append(term)
        if ("$" in text or "€" in text) and PRICE not in found:
            found.append(PRICE)
        return found

    def match(self, text: str, language: str | None, limit: int = 3) -> list[KnowledgeMatch]:
        """The entries that answer the message, best first; [] when none covers enough of it."""
        if not self.entries:
            return []
        query = self.query_terms(text, language)
        known = [t for t in query if t in self._idf]
        if not known:
            return []
        total = sum(self._weight[t] for t in known) + self._unknown_weight * (len(query) - len(known))
        ranking: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        for term in known:
            idf = self._idf[term]
            for entry_id, tf in self._postings[term]:
                norm = K1 * (1.0 - B + B * self._length[entry_id] / self._average_length)
                ranking[entry_id] += idf * tf * (K1 + 1.0) / (tf + norm)
                covered[entry_id] += self._weight[term]
        # Coverage decides; between entries covering the same terms, the one in the customer's language, then BM25.
        best = sorted(ranking, key=lambda e: (round(covered[e], 9), self.entries[e].language == language,
                                              ranking[e]), reverse=True)
        found = []
        for entry_id in best[:limit]:
            confidence = covered[entry_id] / total
            if confidence < MIN_CONFIDENCE:
                break
            entry = self.entries[entry_id]
            found.append(KnowledgeMatch(entry.id, entry.title, entry.content, entry.language, round(confidence, 4)))
        return found
