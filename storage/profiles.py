"""Last-writer-wins merge of shared customer profile fields, one HLC stamp per field.

Per field rather than per record: two people editing different fields of one customer (one adds a tag,
another sets the status) both keep their edit; only edits of the same field compete. The loser of a real
competition (both sides edited, values differ) is reported so the caller can keep it in the conflict log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHARED_FIELDS = ("name", "email", "tags", "custom_fields", "status")


@dataclass(frozen=True)
class Conflict:
    field: str
    losing_value: Any
    losing_hlc: str
    winning_value: Any
    winning_hlc: str


@dataclass(frozen=True)
class MergeResult:
    changes: dict[str, Any]  # field -> the incoming value that won (only fields that change)
    hlc: dict[str, str]  # the merged field -> stamp map
    conflicts: list[Conflict]


def merge(current: dict[str, Any], current_hlc: dict[str, str], incoming: dict[str, Any],
          incoming_hlc: dict[str, str], *, incoming_fills_unstamped: bool,
          fields: tuple[str, ...] = SHARED_FIELDS) -> MergeResult:
    """Merge incoming field values into current ones.

    A field whose incoming stamp is newer takes the incoming value. A field nobody stamped on either side
    takes the incoming value when incoming_fills_unstamped says so (an agent follows the hub's value) or,
    on the hub, only when the hub has none yet; that is not a conflict. `fields`: the shared fields (a customer
    profile's by default; a knowledge entry's for storage/knowledge.py).
    """
    changes: dict[str, Any] = {}
    merged_hlc = dict(current_hlc)
    conflicts: list[Conflict] = []
    for field in fields:
        if field not in incoming:
            continue
        mine, theirs = current.get(field), incoming[field]
        mine_hlc, theirs_hlc = current_hlc.get(field, ""), incoming_hlc.get(field, "")
        if theirs_hlc > mine_hlc:
            merged_hlc[field] = theirs_hlc
            if theirs != mine:
                changes[field] = theirs
                if mine_hlc:
                    conflicts.append(Conflict(field, mine, mine_hlc, theirs, theirs_hlc))
        elif theirs_hlc < mine_hlc:
            if theirs_hlc and theirs != mine:
                conflicts.append(Conflict(field, theirs, theirs_hlc, mine, mine_hlc))
        elif not mine_hlc and theirs is not None and theirs != mine and (incoming_fills_unstamped or mine is None):
            changes[field] = theirs
    return MergeResult(changes, merged_hlc, conflicts)
