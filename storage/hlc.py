"""Hybrid logical clock stamps for shared customer profile edits (last writer wins across agents).

A stamp is the text "<wall ms, 15 digits>.<counter, 6 digits>.<node id>": text order is time order, the
counter orders edits within one millisecond or after the wall clock stepped back, and the node id breaks
ties between machines, so two stamps are never equal unless they are the same edit. "" is older than any
stamp: a value nobody edited (e.g. a name taken from WhatsApp).

The clock state (the last stamp issued or seen) lives in sync_state.hlc so it survives restarts and is
shared by every process writing that database; see storage.sync_state.next_hlc.
"""

from __future__ import annotations

from typing import NamedTuple

_WALL_DIGITS = 15
_COUNTER_DIGITS = 6


class Stamp(NamedTuple):
    wall_ms: int
    counter: int
    node: str

    def encode(self) -> str:
        return f"{self.wall_ms:0{_WALL_DIGITS}d}.{self.counter:0{_COUNTER_DIGITS}d}.{self.node}"


def decode(text: str) -> Stamp | None:
    """The stamp in text, or None for "" or anything malformed (treated as never edited)."""
    wall, _, rest = text.partition(".")
    counter, _, node = rest.partition(".")
    if len(wall) != _WALL_DIGITS or len(counter) != _COUNTER_DIGITS or not node:
        return None
    if not (wall.isdigit() and counter.isdigit()):
        return None
    return Stamp(int(wall), int(counter), node)


def is_valid(text: str) -> bool:
    return text == "" or decode(text) is not None


def tick(last: str, now_ms: int, node: str) -> str:
    """The next local stamp: later than `last` (anything issued or observed before) and than the wall clock."""
    previous = decode(last)
    if previous is None or now_ms > previous.wall_ms:
        return Stamp(now_ms, 0, node).encode()
    return Stamp(previous.wall_ms, previous.counter + 1, node).encode()


def observe(last: str, remote: str) -> str:
    """The clock state after seeing a remote stamp: the later of the two (so the next tick follows both)."""
    return remote if decode(remote) is not None and remote > last else last
