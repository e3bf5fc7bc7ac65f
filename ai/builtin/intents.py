"""Intent detection from weighted multilingual cues (pt / en / es), in one pass over the tokens.

Two kinds of cue feed one score per intent:
- word cues: a dict lookup per token, exact ("pix") or by prefix ("cancel*" covers cancelar,
  cancelamento, cancelled, cancelen); prefixes carry the morphology of three languages cheaply;
- phrase cues: regexes over the normalised text for things a single word cannot say
  ("where is my order", "ainda nao chegou", "cancelar a consulta" = scheduling, not cancellation).
  Each is tried only at the tokens whose first letters can start it, so a message costs a handful of
  regex calls, not one per phrase.

The cue tables themselves are data, in ai/builtin/intent_cues.py; this module holds only how they score.

Weights are on a rough "evidence" scale: 3 = decisive on its own, 2 = strong, 1 = supporting.
A phrase cue may carry a negative weight to veto a word cue that it explains away.
Precedence required by the taxonomy: cancellation > complaint > everything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ai.analysis import INTENT_LABELS
from ai.builtin.intent_cues import GENERAL_CUES, PHRASE_CUES, WORD_CUES
from ai.builtin.prefilter import literal_prefixes

__all__ = ["GENERAL_CUES", "PHRASE_CUES", "WORD_CUES", "IntentMatcher", "IntentResult", "first_word_keys"]


# Minimum evidence for cancellation/complaint to pre-empt the other intents (precedence rule).
PRECEDENCE_MIN = 2.5
# Below this, nothing concrete was said: the message is "other" (or a greeting).
MIN_EVIDENCE = 1.0
# "other" always has this much evidence, so a message with no cue lands there with modest confidence.
OTHER_PRIOR = 1.0
# Intents that are concrete requests (they outrank praise in the same message).
REQUEST_INTENTS = ("pricing", "purchase", "order_status", "support", "payment", "scheduling")
# Softmax temperature for turning evidence into a confidence (fitted on chat_dev reliability).
TEMPERATURE = 1.1


def _structure(pattern: str, start: int = 0) -> Iterable[tuple[int, str, int]]:
    """Walk a regex from pattern[start]: (index, char, group depth after char) for every character that is
    neither escaped nor inside a [...] class, so '(' ')' '|' seen here are the regex's own structure."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            yield i, char, depth
        i += 1


def _split_alternatives(body: str) -> list[str]:
    """Split a regex body on its top-level '|' (ignores '|' inside groups and classes)."""
    parts, last = [], 0
    for i, char, depth in _structure(body):
        if char == "|" and depth == 0:
            parts.append(body[last:i])
            last = i + 1
    parts.append(body[last:])
    return parts


def _group_end(pattern: str, start: int) -> int:
    """Index just past the ')' closing the group that opens at pattern[start]."""
    for i, char, depth in _structure(pattern, start):
        if char == ")" and depth == 0:
            return i + 1
    return len(pattern)


def first_word_keys(pattern: str) -> set[str] | None:
    """The first-3-letter keys of every word a phrase regex can start with, or None if unknown.

    Understands the style used in PHRASE_CUES: literal words and nested (?:a|b) groups. Anything it
    cannot read (a pattern starting with \\d, '.', an optional group...) returns None and that
    phrase is simply tried at every token.
    """
    keys: set[str] = set()
    for alternative in _split_alternatives(pattern):
        if alternative.startswith("(?:"):
            end = _group_end(alternative, 0)
            if end < len(alternative) and alternative[end] in "?*":
                return None  # optional first group: the phrase may start with what follows
            inner = first_word_keys(alternative[3 : end - 1])
            if inner is None:
                return None
            keys |= inner
            continue
        word = re.match(r"[a-z0-9']+", alternative)
        if word is None:
            return None
        run = word.group(0)
        following = alternative[len(run) : len(run) + 1]
        if following in ("?", "*", "{"):
            run = run[:-1]  # the last letter is optional
            following = "?"
        if len(run) < 3 and following not in ("", " ", ")"):
            return None  # a short stem continuing into a class/group: cannot know the token's start
        if not run:
            return None
        keys.add(run[:3])
    return keys


@dataclass(frozen=True)
class IntentResult:
    label: str
    confidence: float
    probabilities: dict[str, float]  # every intent, sums to 1


class IntentMatcher:
    """Compiled cue tables. Immutable after construction, so one instance serves every thread."""

    def __init__(
        self,
        word_cues: dict[str, dict[float, str]] | None = None,
        phrase_cues: Iterable[tuple[str, float, str]] | None = None,
        labels: Iterable[str] = INTENT_LABELS,
    ) -> None:
        self.labels: tuple[str, ...] = tuple(labels)
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._exact, self._prefixes, self._prefix_lengths = self._compile_words(word_cues or WORD_CUES)
        # 3-letter heads of all prefixes: most tokens skip the prefix loop after one set lookup
        self._prefix_heads = frozenset(p[:3] for p in self._prefixes)
        # head -> the prefix lengths that can match a token with that head, longest first (a prefix of
        # 3+ letters matches only tokens starting with its own head; shorter ones stay in every list)
        short = {len(p) for p in self._prefixes if len(p) < 3}
        self._prefix_head_lengths = {
            head: tuple(
                sorted({len(p) for p in self._prefixes if p[:3] == head} | short, reverse=True)
            )
            for head in self._prefix_heads
        }
        self._dispatch, self._anywhere, self._phrases = self._compile_phrases(
            PHRASE_CUES if phrase_cues is None else phrase_cues
        )
        # Literal text every match of a phrase starts with: one str.startswith(tuple) in C rules out
        # most (phrase, position) pairs before the regex runs. None: no such literal is known.
        self._phrase_starts = tuple(literal_prefixes(pattern.pattern) for pattern, _ in self._phrases)
        self._request_indices = tuple(self._index[r] for r in REQUEST_INTENTS if r in self._index)

    def _compile_words(
        self, word_cues: dict[str, dict[float, str]]
    ) -> tuple[
        dict[str, tuple[tuple[int, float], ...]], dict[str, tuple[tuple[int, float], ...]], tuple[int, ...]
    ]:
        """Build token -> ((intent index, weight), ...) tables for exact words and prefixes."""
        exact: dict[str, list[tuple[int, float]]] = {}
        prefixes: dict[str, list[tuple[int, float]]] = {}
        for intent, tiers in word_cues.items():
            if intent not in self._index:
                continue
            for weight, words in tiers.items():
                for word in words.split():
                    table, key = (prefixes, word[:-1]) if word.endswith("*") else (exact, word)
                    table.setdefault(key, []).append((self._index[intent], weight))
        lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
        return (
            {k: tuple(v) for k, v in exact.items()},
            {k: tuple(v) for k, v in prefixes.items()},
            lengths,
        )

    def _compile_phrases(
        self, phrase_cues: Iterable[tuple[str, float, str]]
    ) -> tuple[
        dict[str, tuple[int, ...]],
        tuple[int, ...],
        list[tuple[re.Pattern[str], tuple[tuple[int, float], ...]]],
    ]:
        """Compile each phrase once and index it by the first 3 letters of the words it can start with.

        Trying ~100 phrases at every token start (one big alternation) costs ~80 us per message;
        dispatching on the token's first letters tries only the handful that can match (~10 us).
        Identical patterns share one entry, so a phrase and its veto fire together.
        """
        merged: dict[str, list[tuple[int, float]]] = {}
        for intent, weight, pattern in phrase_cues:
            if intent in self._index:
                merged.setdefault(pattern, []).append((self._index[intent], weight))
        phrases: list[tuple[re.Pattern[str], tuple[tuple[int, float], ...]]] = []
        dispatch: dict[str, list[int]] = {}
        anywhere: list[int] = []
        for pattern, targets in merged.items():
            phrase_id = len(phrases)
            phrases.append((re.compile(pattern), tuple(targets)))
            keys = first_word_keys(pattern)
            if keys is None:
                anywhere.append(phrase_id)
            else:
                for key in keys:
                    dispatch.setdefault(key, []).append(phrase_id)
        return {k: tuple(v) for k, v in dispatch.items()}, tuple(anywhere), phrases

    def evidence(self, tokens: tuple[str, ...], joined: str) -> list[float]:
        """Summed cue weights per intent (index order of self.labels)."""
        scores = [0.0] * len(self.labels)
        exact, prefixes = self._exact, self._prefixes
        dispatch, phrases, starts = self._dispatch, self._phrases, self._phrase_starts
        prefix_heads = self._prefix_head_lengths
        # A phrase tried at every token can only match at one if it matches somewhere: one search
        # per message drops the (usual) ones that cannot, instead of a match() per token.
        anywhere = tuple(pid for pid in self._anywhere if phrases[pid][0].search(joined) is not None)
        seen_words: set[str] = set()
        seen_phrases: set[int] = set()
        position = 1  # joined is " " + " ".join(tokens) + " "
        for token in tokens:
            start = position
            position += len(token) + 1
            if not token[0].isalnum():
                if token in exact and token not in seen_words:  # emoji cues ("🙄", "😍")
                    seen_words.add(token)
                    for index, weight in exact[token]:
                        scores[index] += weight
                continue
            # phrase cues that can start at this token, then those that may start anywhere (every match of a
            # phrase starts with one of its literals, when it has them: the rest cannot match here)
            candidates = dispatch.get(token[:3], ())
            if anywhere:
                candidates += anywhere
            for phrase_id in candidates:
                if phrase_id not in seen_phrases:
                    literals = starts[phrase_id]
                    if literals is not None and not joined.startswith(literals, start):
                        continue
                    pattern, targets = phrases[phrase_id]
                    if pattern.match(joined, start) is not None:
                        seen_phrases.add(phrase_id)
                        for index, weight in targets:
                            scores[index] += weight
            if token in seen_words:
                continue
            seen_words.add(token)  # a word repeated is not extra evidence
            cues = exact.get(token)
            if cues is None:
                head_lengths = prefix_heads.get(token[:3])
                if head_lengths is not None:
                    size = len(token)
                    for length in head_lengths:  # longest prefix first: the most specific cue wins
                        if length <= size:
                            cues = prefixes.get(token[:length])
                            if cues is not None:
                                break
            if cues is not None:
                for index, weight in cues:
                    scores[index] += weight
        return scores

    def classify(self, tokens: tuple[str, ...], joined: str, sentiment_score: float = 0.0) -> IntentResult:
        """Pick the intent, applying precedence, and a calibrated confidence."""
        scores = self.evidence(tokens, joined)
        return self.decide(scores, sentiment_score)

    def decide(self, scores: list[float], sentiment_score: float = 0.0) -> IntentResult:
        """Turn per-intent evidence into a label + probabilities (precedence: cancellation > complaint)."""
        index = self._index
        other = index.get("other")
        if other is not None:
            scores[other] += OTHER_PRIOR
        complaint = index.get("complaint")
        # A clearly negative message with no concrete request reads as a complaint.
        if complaint is not None and sentiment_score <= -0.6 and max(scores) < PRECEDENCE_MIN:
            scores[complaint] += 1.5
        praise = index.get("praise")
        # "Loved it, I want another one": a concrete request outranks the compliment around it.
        if praise is not None:
            for request in self._request_indices:
                if scores[request] >= 2.0:
                    scores[praise] *= 0.5
                    break
        top = max(scores)
        best = scores.index(top)  # the first of the highest, as max(range(...), key=...) picks
        label = self._precedence_label(scores, best)
        probabilities = self._softmax(scores, top)
        confidence = probabilities[index[label]]
        if label != self.labels[best]:
            # precedence overrode a stronger-scored intent: the rule is sure, the evidence less so
            confidence = max(confidence, 0.55)
        return IntentResult(
            label=label,
            confidence=confidence,
            probabilities=dict(zip(self.labels, probabilities, strict=True)),
        )

    def _precedence_label(self, scores: list[float], best: int | None = None) -> str:
        index = self._index
        for label in ("cancellation", "complaint"):
            if label in index and scores[index[label]] >= PRECEDENCE_MIN:
                return label
        if best is None:
            best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] < MIN_EVIDENCE:
            return "other" if "other" in index else self.labels[best]
        return self.labels[best]

    @staticmethod
    def _softmax(scores: list[float], top: float | None = None) -> list[float]:
        if top is None:
            top = max(scores)
        exp = math.exp
        exps = [exp((s - top) / TEMPERATURE) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]
