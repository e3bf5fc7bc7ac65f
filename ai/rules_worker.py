"""The built-in analyzer in a process of its own, for the service's capture batches.

The service is one gevent process: on a busy capture path the rules analysis took about a quarter of its
one core. Analysing each group-commit batch here lets a second core do that work while the service parses
the next requests. Protocol on stdin/stdout: frames of a 4-byte big-endian length and an orjson payload.
Request: a list of AnalysisItem.to_wire(); answer: a list of AnalysisResult.to_wire(), in the same order
(ai/items.py holds both dataclasses and their wire form).
"""

from __future__ import annotations

import sys
from typing import BinaryIO

import orjson

from ai.items import AnalysisItem, analyse_items

__all__ = ["analyse_items", "main", "read_frame", "write_frame"]

HEADER_BYTES = 4


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(HEADER_BYTES, "big") + payload)
    stream.flush()


def main(argv: list[str] | None = None) -> int:
    from ai.builtin import BuiltinAnalyzer

    analyzer = BuiltinAnalyzer()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        payload = read_frame(stdin)
        if payload is None:
            return 0
        items = [AnalysisItem.from_wire(wire) for wire in orjson.loads(payload)]
        write_frame(stdout, orjson.dumps([result.to_wire() for result in analyse_items(analyzer, items)]))


if __name__ == "__main__":
    sys.exit(main())
