"""Cheap, exact pre-checks that let the analyzer skip regexes which cannot match.

literal_prefixes(pattern) reads a compiled-regex parse tree and returns literal strings such that
EVERY match of the pattern starts with one of them. If none of them occurs in a text, the regex
cannot match anywhere in it (and it cannot match at a position where none of them starts), so the
regex is skipped without changing any result. Anything the
reader does not understand (classes, repeats, lookarounds, flags) simply ends the literal prefix
there; a pattern whose match may start with anything returns None (never pre-filtered).
"""

from __future__ import annotations

from typing import Any

try:  # Python >= 3.11
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
    from re._constants import BRANCH, LITERAL, SUBPATTERN  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]
    from sre_constants import BRANCH, LITERAL, SUBPATTERN  # type: ignore[no-redef]

# Cross products of alternatives stop growing beyond this many literals (the prefix stays shorter).
_MAX_LITERALS = 64


def _walk(items: Any) -> tuple[set[str], bool]:
    """(prefixes, complete): every match of items starts with one of prefixes; complete means the
    whole match is exactly one of them (the sequence is purely literal)."""
    current = {""}
    for op, av in items:
        if op is LITERAL:
            char = chr(av)
            current = {prefix + char for prefix in current}
            continue
        if op is BRANCH:
            alternatives = [_walk(branch) for branch in av[1]]
        elif op is SUBPATTERN and not av[1] and not av[2]:
            alternatives = [_walk(av[3])]
        else:
            return current, False
        tails = set().union(*(tail for tail, _ in alternatives))
        if len(current) * len(tails) > _MAX_LITERALS:
            return current, False
        current = {prefix + tail for prefix in current for tail in tails}
        if not all(complete for _, complete in alternatives):
            return current, False
    return current, True


def literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """Minimal literal strings one of which starts every match of pattern, or None if unknown."""
    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & ~(_sre_parse.SRE_FLAG_UNICODE):
            return None  # IGNORECASE, VERBOSE...: do not reason about it
        prefixes, _ = _walk(parsed)
    except Exception:  # noqa: BLE001 - a pre-check that cannot be derived is just not used
        return None
    if not prefixes or "" in prefixes:
        return None
    # A literal that extends another adds nothing ("para o" starts with "para"): drop it. Only prefixes
    # are dropped, so the result serves both text.startswith(result, i) and any(x in text ...).
    minimal = [p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes)]
    return tuple(sorted(minimal))
